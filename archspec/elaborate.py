"""Expansion and inference: `ast.Spec` → IR tree with every shape and cost.

The two are one walk because expansion needs shapes: `{floor(theta*in.c)}`
reads the input channels and a residual's shortcut is a projection exactly
when the body changes the shape. Errors are collected in `Diagnostics`; after
an error the walk goes on without a shape (`flow is None`) so later names and
arguments are still checked, but no follow-on shape errors are invented.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, replace
from typing import Any

from . import ast
from .errors import (
    ArchSpecError,
    Diagnostics,
    ShapeError,
    Span,
    SpecNameError,
    SpecSyntaxError,
    SpecValueError,
    did_you_mean,
)
from .expr import ShapeValue, as_int, evaluate
from .ir import Attrs, Block, Cost, Field, Layer, Node, Shape
from .ops import JOIN_OPS, REGISTRY, Geometry, Op, ShapeRuleError, concat_shape

MAX_BLOCK_DEPTH = 64
MAX_LAYERS = 100_000

# Names a layer cannot take: they are attributes every torch.nn.Module has, so a
# submodule with that name would shadow them in the compiled model.
RESERVED_NAMES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        "self",
    ]
)


@dataclass(frozen=True, slots=True)
class Flow:
    """What flows along an edge while elaborating: a shape and its receptive field."""

    shape: Shape
    field: Field


Scope = dict[str, Any]


def python_name(text: str) -> str:
    """A label as written (`inception 3a`) → a safe identifier (`inception_3a`)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text.strip().replace(" ", "_"))
    # No leading underscore: nn.Module keeps its internals (`_modules`) there.
    name = name.lstrip("_")
    if not name or name[0].isdigit():
        name = f"layer_{name}"
    if keyword.iskeyword(name) or name in RESERVED_NAMES:
        name += "_"
    return name


class Namer:
    """Names children of one parent: explicit labels win; unnamed children get
    their op or block name and a 1-based counter (conv1, conv2, maxpool1, …)."""

    def __init__(self, reserved: set[str] | None = None) -> None:
        self.reserved = set(reserved or ())
        self.used: set[str] = set()
        self.counts: dict[str, int] = {}

    def auto(self, base: str) -> str:
        base = python_name(base).rstrip("_") or "layer"
        count = self.counts.get(base, 0)
        while True:
            count += 1
            name = f"{base}{count}"
            if name not in self.used and name not in self.reserved:
                break
        self.counts[base] = count
        self.used.add(name)
        return name

    def explicit(self, label: str, span: Span, diag: Diagnostics) -> str:
        name = python_name(label)
        if name in self.used:
            diag.error(SpecNameError(f"duplicate name `{name}` in the same block", span))
        self.used.add(name)
        return name


def _labels(items: tuple[ast.Node, ...]) -> set[str]:
    out = set()
    for item in items:
        label = getattr(item, "label", None) or (item.name if isinstance(item, ast.Tap) else None)
        if label:
            out.add(python_name(label))
    return out


def _is_graph(items: tuple[ast.Node, ...]) -> bool:
    return any(isinstance(item, ast.Tap) for item in items)


class Elaborator:
    def __init__(self, spec: ast.Spec, variant: str | None, diag: Diagnostics) -> None:
        self.spec = spec
        self.diag = diag
        self.blocks: dict[str, ast.BlockDef] = {}
        for block in spec.blocks:
            if block.name in self.blocks or REGISTRY.lookup(block.name):
                what = "an op" if REGISTRY.lookup(block.name) else "another block"
                diag.error(
                    SpecNameError(f"block `{block.name}` has the name of {what}", block.span)
                )
            self.blocks[block.name] = block
        self.variant = variant
        self.globals = self._globals(variant)
        self.defaults = self._defaults()
        self.depth = 0
        self.layer_count = 0

    # ------------------------------------------------------------ file level
    def _globals(self, variant: str | None) -> Scope:
        scope: Scope = {"true": True, "false": False, "none": "none"}
        overrides: dict[str, ast.Expr] = {}
        variants = dict(self.spec.variants)
        constants = dict(self.spec.constants)
        chosen = variant
        if chosen is None and "variant" in constants:
            chosen_expr = constants.pop("variant")
            chosen = chosen_expr.value if isinstance(chosen_expr, ast.Str) else None
        if chosen is None and variants:
            chosen = next(iter(variants))
        if chosen is not None:
            if chosen not in variants:
                known = ", ".join(variants) or "none"
                self.diag.error(
                    SpecNameError(
                        f"unknown variant `{chosen}`{did_you_mean(chosen, variants)}"
                        f" (variants: {known})",
                        self.spec.span,
                    )
                )
            else:
                overrides = dict(variants[chosen])
        self.variant = chosen
        for name, expr in {**constants, **overrides}.items():
            try:
                scope[name] = evaluate(expr, scope)
            except ArchSpecError as exc:
                self.diag.error(exc)
        return scope

    def _defaults(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for written, args in self.spec.defaults:
            found = REGISTRY.lookup(written)
            if found is None:
                self.diag.error(
                    SpecNameError(
                        f"defaults for unknown op `{written}`"
                        f"{did_you_mean(written, REGISTRY.spellings())}",
                        args[0].span if args else self.spec.span,
                    )
                )
                continue
            op = found[0]
            values = out.setdefault(op.name, {})
            for arg in args:
                if arg.name not in op.options:
                    self.diag.error(self._unknown_option(op, arg))
                    continue
                try:
                    values[arg.name] = evaluate(arg.value, self.globals)
                except ArchSpecError as exc:
                    self.diag.error(exc)
        return out

    def run(self) -> Block | None:
        shape = Shape(*self.spec.input)
        flow = Flow(shape, Field())
        name = python_name(self.variant if self.variant and self.spec.variants else self.spec.name)
        scope = {**self.globals, "in": ShapeValue(shape.c, shape.h, shape.w)}
        result = self.sequence(self.spec.body.items, {"x": flow}, scope, name, self.spec.body.span)
        return result[0] if result else None

    # ------------------------------------------------------------ helpers
    def _unknown_option(self, op: Op, arg: ast.Arg) -> SpecNameError:
        allowed = sorted(op.options)
        return SpecNameError(
            f"`{op.name}` has no option `{arg.name}`{did_you_mean(arg.name or '', allowed)}"
            f" (options: {', '.join(allowed) or 'none'})",
            arg.span,
        )

    def _eval(self, expr: ast.Expr, scope: Scope) -> Any:
        return evaluate(expr, scope)

    def _int(self, expr: ast.Expr, scope: Scope, what: str) -> int:
        value = evaluate(expr, scope)
        if isinstance(expr, ast.Str) and value == expr.value:
            raise SpecNameError(f"unknown name `{value}`{did_you_mean(value, scope)}", expr.span)
        return as_int(value, expr, what)

    # ------------------------------------------------------------ sequences and graphs
    def sequence(
        self,
        items: tuple[ast.Node, ...],
        inputs: dict[str, Flow | None],
        scope: Scope,
        name: str,
        span: Span,
    ) -> tuple[Block, list[Flow]] | None:
        if _is_graph(items) or len(inputs) > 1:
            return self.graph(items, inputs, scope, name, span)
        first = next(iter(inputs.values()))
        chained = self.chain(items, first, scope)
        if chained is None or first is None:
            return None
        children, out = chained
        block = self._make_block(name, "seq", children, (first,), [out], "", span)
        return block, [out]

    def chain(
        self, items: tuple[ast.Node, ...], flow: Flow | None, scope: Scope
    ) -> tuple[list[Node], Flow] | None:
        """The children of a sequence and the flow out of it (None after an error)."""
        namer = Namer(_labels(items))
        children: list[Node] = []
        for item in items:
            made = self.expand(item, flow, scope, namer)
            children += [child for child, _ in made]
            flow = made[-1][1] if made else flow
        if flow is None or any(child is _BROKEN for child in children):
            return None
        return children, flow

    def graph(
        self,
        items: tuple[ast.Node, ...],
        inputs: dict[str, Flow | None],
        scope: Scope,
        name: str,
        span: Span,
    ) -> tuple[Block, list[Flow]] | None:
        tensors: dict[str, Flow | None] = dict(inputs)
        previous = list(inputs)[-1]
        namer = Namer(_labels(items) | set(inputs))
        children: list[Node] = []
        wires: list[tuple[str, tuple[str, ...]]] = []
        heads: list[str] = []
        broken = False
        for item in items:
            if not isinstance(item, ast.Tap):
                for child, flow in self.expand(item, tensors[previous], scope, namer):
                    children.append(child)
                    wires.append((child.name, (previous,)))
                    tensors[child.name] = flow
                    previous = child.name
                    broken |= flow is None
                continue
            if item.when is not None and not self._truth(item.when, scope):
                continue
            sources = item.sources or (previous,)
            missing = [s for s in sources if s not in tensors]
            for source in missing:
                self.diag.error(
                    SpecNameError(
                        f"unknown tensor `{source}`{did_you_mean(source, tensors)}", item.span
                    )
                )
            tap_name = (
                namer.explicit(item.name, item.span, self.diag)
                if item.name
                else namer.auto(item.join or "branch")
            )
            flows = [tensors.get(s) for s in sources]
            if missing or any(f is None for f in flows):
                tensors[tap_name] = None
                broken = True
                continue
            made = self.tap(item, flows, scope, tap_name)  # type: ignore[arg-type]
            if made is None:
                tensors[tap_name] = None
                broken = True
                continue
            node, flow = made
            children.append(node)
            wires.append((node.name, tuple(sources)))
            tensors[node.name] = flow
            if item.is_head:
                heads.append(node.name)
            else:
                previous = node.name
        if broken:
            return None
        outputs = [previous, *heads]
        out_flows = [tensors[o] for o in outputs]
        input_flows = [f for f in inputs.values() if f is not None]
        attrs = Attrs.of(
            {"wires": tuple(wires), "inputs": tuple(inputs), "outputs": tuple(outputs)}
        )
        block = self._make_block(
            name, "graph", children, tuple(input_flows), out_flows, "", span, attrs
        )
        return block, out_flows  # type: ignore[return-value]

    def tap(
        self, item: ast.Tap, flows: list[Flow], scope: Scope, name: str
    ) -> tuple[Node, Flow] | None:
        if item.join:
            op = JOIN_OPS[item.join]
            values = {"drop_path": self._eval(item.drop_path, scope)} if item.drop_path else {}
            return self.layer(op, values, Geometry(), flows, name, item.span)
        if item.body is None:
            self.diag.error(
                SpecSyntaxError("a graph entry needs `layers:`, `head:` or `join:`", item.span)
            )
            return None
        if len(flows) > 1:
            return self.multi_input_call(item, flows, scope, name)
        return self.named(item.body, flows[0], scope, name)

    def multi_input_call(
        self, item: ast.Tap, flows: list[Flow], scope: Scope, name: str
    ) -> tuple[Node, Flow] | None:
        body = item.body
        if isinstance(body, ast.Seq) and len(body.items) == 1:
            body = body.items[0]
        bdef = (
            self.blocks.get(body.head)
            if isinstance(body, ast.Call) and isinstance(body.head, str)
            else None
        )
        if bdef is None or len(bdef.inputs) != len(flows):
            self.diag.error(
                ShapeError(
                    f"an entry with {len(flows)} inputs must call a block declared with "
                    f"`inputs:` of that many names",
                    item.span,
                )
            )
            return None
        assert isinstance(body, ast.Call)
        return self.block_call(body, bdef, flows, scope, name)

    def _truth(self, expr: ast.Expr, scope: Scope) -> bool:
        try:
            return bool(self._eval(expr, scope))
        except ArchSpecError as exc:
            self.diag.error(exc)
            return False

    # ------------------------------------------------------------ entries
    def expand(
        self, item: ast.Node, flow: Flow | None, scope: Scope, namer: Namer
    ) -> list[tuple[Node, Flow | None]]:
        """The children one entry adds to a sequence (a repeat adds several)."""
        try:
            return self._expand(item, flow, scope, namer)
        except ArchSpecError as exc:
            if exc.span.file == "<spec>":
                exc.span = item.span
            self.diag.error(exc)
            return [(_BROKEN, None)] if flow is not None else []

    def _expand(
        self, item: ast.Node, flow: Flow | None, scope: Scope, namer: Namer
    ) -> list[tuple[Node, Flow | None]]:
        if isinstance(item, ast.Repeat):
            count = self._int(item.count, scope, "a repeat count")
            if count < 0 or count > MAX_LAYERS:
                raise SpecValueError(
                    f"repeat count must be between 0 and {MAX_LAYERS}, got {count}", item.count.span
                )
            out: list[tuple[Node, Flow | None]] = []
            for index in range(1, count + 1):
                # `i` is the copy's 1-based index: `drop_path {0.5 * i / 54}` x54
                made = self._expand(item.body, flow, {**scope, "i": index}, namer)
                out += made
                flow = made[-1][1] if made else flow
            return out
        if isinstance(item, ast.Seq) and item.label is None:
            out = []
            for sub in item.items:
                made = self.expand(sub, flow, scope, namer)
                out += made
                flow = made[-1][1] if made else flow
            return out
        if isinstance(item, ast.If):
            branch = item.then if self._truth(item.test, scope) else item.otherwise
            if branch is None:
                return []
            if item.label:
                return self._one(
                    self.named(
                        branch, flow, scope, namer.explicit(item.label, item.span, self.diag)
                    )
                )
            return self._expand(branch, flow, scope, namer)
        if isinstance(item, ast.Tap):
            raise SpecSyntaxError(
                "`from:`/`head:`/`join:` entries belong in a layer list", item.span
            )
        label = getattr(item, "label", None)
        if isinstance(item, ast.Call):
            return self.call_entry(item, flow, scope, namer)
        name = (
            namer.explicit(label, item.span, self.diag)
            if label
            else namer.auto(item.kind if isinstance(item, ast.Combine) else "block")
        )
        if isinstance(item, ast.Seq):
            return self._one(self.named(item, flow, scope, name))
        assert isinstance(item, ast.Combine)
        return self._one(self.combine(item, flow, scope, name))

    def _one(self, made: tuple[Node, Flow] | None) -> list[tuple[Node, Flow | None]]:
        return [made] if made is not None else [(_BROKEN, None)]

    def named(
        self, body: ast.Node, flow: Flow | None, scope: Scope, name: str
    ) -> tuple[Node, Flow] | None:
        """Elaborate `body` into exactly one node called `name` (a lone layer is
        renamed, several become a `seq` block)."""
        if flow is None:  # after an error: still check names and arguments inside
            for item in body.items if isinstance(body, ast.Seq) else (body,):
                self.expand(item, None, scope, Namer())
            return None
        if isinstance(body, ast.Combine):
            return self.combine(body, flow, scope, name)
        items = body.items if isinstance(body, ast.Seq) else (body,)
        if _is_graph(items):
            made = self.graph(items, {"x": flow}, scope, name, body.span)
            return (made[0], made[1][0]) if made else None
        chained = self.chain(items, flow, scope)
        if chained is None:
            return None
        children, out = chained
        if len(children) == 1:
            return replace(children[0], name=name), out
        return self._make_block(name, "seq", children, (flow,), [out], "", body.span), out

    # ------------------------------------------------------------ calls
    def call_entry(
        self, call: ast.Call, flow: Flow | None, scope: Scope, namer: Namer
    ) -> list[tuple[Node, Flow | None]]:
        target = self.resolve_head(call, scope)
        if isinstance(target, ast.BlockDef):
            name = (
                namer.explicit(call.label, call.span, self.diag)
                if call.label
                else namer.auto(target.name)
            )
            if flow is None:
                self.check_call_args(call, target, scope)
                return []
            return self._one(self.block_call(call, target, [flow], scope, name))
        op, kernel = target
        if flow is None:
            self.op_values(op, kernel, call, scope)
            return []
        out: list[tuple[Node, Flow | None]] = []
        if op.name == "fc" and not flow.shape.is_vector:
            # The papers write FC straight after a pool; PyTorch needs the flatten.
            flat = REGISTRY.ops["flatten"]
            made = self.layer(flat, {}, Geometry(), [flow], namer.auto("flatten"), call.span)
            out.append(made)
            flow = made[1]
        name = (
            namer.explicit(call.label, call.span, self.diag) if call.label else namer.auto(op.name)
        )
        geometry, values = self.op_values(op, kernel, call, scope)
        out.append(self.layer(op, values, geometry, [flow], name, call.span))
        return out

    def _row_label(self, call: ast.Call) -> str | None:
        """`3a` for a paper-table row `inception 3a: […]`, whose label starts
        with the block name."""
        head = call.head if isinstance(call.head, str) else ""
        if call.label and call.label.startswith(f"{head} "):
            return call.label[len(head) + 1 :]
        return None

    def resolve_head(self, call: ast.Call, scope: Scope) -> ast.BlockDef | tuple[Op, tuple | None]:
        head = call.head
        if not isinstance(head, str):
            value = self._eval(head, scope)
            if not isinstance(value, str) or value not in self.blocks:
                raise SpecNameError(f"`{value}` does not name a block", head.span)
            return self.blocks[value]
        if head in self.blocks:
            return self.blocks[head]
        if isinstance(scope.get(head), str) and scope[head] in self.blocks:
            return self.blocks[scope[head]]  # a parameter naming a block: `unit(64)`
        found = REGISTRY.lookup(head)
        if found is None:
            suggestion = _suggest(head, [*REGISTRY.spellings(), *self.blocks])
            raise SpecNameError(
                f"unknown op or block `{head}`{suggestion}", call.span.shifted(0, len(head))
            )
        return found

    def op_values(
        self, op: Op, kernel: tuple[int, int] | None, call: ast.Call, scope: Scope
    ) -> tuple[Geometry, dict[str, Any]]:
        if kernel is not None and not op.takes_kernel:
            raise SpecValueError(f"`{op.name}` takes no kernel size", call.span)
        if call.width is not None and not op.takes_width:
            raise SpecValueError(f"`{op.name}` takes no `-width`", call.width.span)
        if call.stride is not None and "stride" not in op.options:
            raise SpecValueError(f"`{op.name}` takes no `/stride`", call.stride.span)
        stride = self._int(call.stride, scope, "a stride") if call.stride is not None else None
        width = self._int(call.width, scope, "a width") if call.width is not None else None
        values = dict(self.defaults.get(op.name, {}))
        slots = list(op.positional)
        for arg in call.args:
            value = self._eval(arg.value, scope)
            if arg.name is None:
                if isinstance(arg.value, ast.Str) and value in op.flags:
                    key, flag_value = op.flags[value]
                    values[key] = flag_value
                elif slots:
                    values[slots.pop(0)] = value
                else:
                    raise SpecValueError(
                        f"`{op.name}` takes no positional value `{value}`", arg.span
                    )
            elif arg.name not in op.options:
                raise self._unknown_option(op, arg)
            else:
                values[arg.name] = value
        return Geometry(kernel, stride, width), values

    def layer(
        self,
        op: Op,
        values: dict[str, Any],
        geometry: Geometry,
        flows: list[Flow],
        name: str,
        span: Span,
    ) -> tuple[Layer, Flow]:
        self.layer_count += 1
        if self.layer_count > MAX_LAYERS:
            raise SpecValueError(f"the network expands to more than {MAX_LAYERS} layers", span)
        try:
            attrs = op.configure(geometry, values)
        except SpecValueError as exc:
            raise SpecValueError(exc.message, span) from None
        inputs = [f.shape for f in flows]
        try:
            out = op.infer(attrs, inputs)
        except ShapeRuleError as exc:
            if op.min_inputs > 1:  # a join's own message already names the shapes
                raise ShapeError(str(exc), span) from None
            raise ShapeError(f"{op.notation(attrs)} on {_shapes(inputs)}: {exc}", span) from None
        if out.c <= 0 or (out.h is not None and (out.h <= 0 or (out.w or 0) <= 0)):
            raise ShapeError(f"{op.notation(attrs)} gives an empty output {out}", span)
        for message in op.warnings(attrs, inputs):
            self.diag.warn(f"{op.notation(attrs)}: {message}", span)
        cost = Cost(
            op.params(attrs, inputs, out),
            op.macs(attrs, inputs, out),
            op.other_ops(attrs, inputs, out),
            out.numel,
        )
        kernel, stride = op.window(attrs, inputs)
        field = max((f.field for f in flows), key=lambda f: f.size)
        field = Field(field.size + (kernel - 1) * field.jump, field.jump * stride)
        node = Layer(
            name,
            op.name,
            Attrs.of(attrs),
            tuple(inputs),
            out,
            cost,
            field,
            op.notation(attrs),
            span,
        )
        return node, Flow(out, field)

    # ------------------------------------------------------------ blocks
    def bind(self, call: ast.Call, bdef: ast.BlockDef, scope: Scope) -> dict[str, Any]:
        params = [p.name for p in bdef.params]
        positional = [a for a in call.args if a.name is None]
        if call.stride is not None or call.width is not None:
            raise SpecValueError(
                f"block `{bdef.name}` takes arguments in (…), not /stride or -width", call.span
            )
        if len(positional) > len(params):
            raise SpecValueError(self._arity(bdef, len(positional)), positional[len(params)].span)
        bound = {p: self._eval(a.value, scope) for p, a in zip(params, positional, strict=False)}
        for arg in call.args:
            if arg.name is None:
                continue
            if arg.name not in params:
                raise SpecNameError(
                    f"block `{bdef.name}` has no parameter `{arg.name}`"
                    f"{did_you_mean(arg.name, params)} (parameters: {', '.join(params) or 'none'})",
                    arg.span,
                )
            if arg.name in bound:
                raise SpecValueError(f"parameter `{arg.name}` given twice", arg.span)
            bound[arg.name] = self._eval(arg.value, scope)
        return bound

    def _arity(self, bdef: ast.BlockDef, given: int) -> str:
        required = [p for p in bdef.params if p.default is None]
        columns = bdef.columns or tuple(p.name for p in bdef.params)
        count = (
            f"{len(required)}"
            if len(required) == len(bdef.params)
            else f"{len(required)} to {len(bdef.params)}"
        )
        return (
            f"block `{bdef.name}` takes {count} value{'s' if len(bdef.params) != 1 else ''} "
            f"({', '.join(columns)}), got {given}"
        )

    def check_call_args(self, call: ast.Call, bdef: ast.BlockDef, scope: Scope) -> None:
        try:
            self.bind(call, bdef, scope)
        except ArchSpecError as exc:
            self.diag.error(exc)

    def block_call(
        self, call: ast.Call, bdef: ast.BlockDef, flows: list[Flow], scope: Scope, name: str
    ) -> tuple[Node, Flow] | None:
        bound = self.bind(call, bdef, scope)
        if len(bdef.inputs) != len(flows):
            names = ", ".join(bdef.inputs)
            raise SpecValueError(
                f"block `{bdef.name}` takes {len(bdef.inputs)} input tensors ({names}): "
                f"call it from an entry with `from: [{names}]`"
                if len(bdef.inputs) > 1
                else f"block `{bdef.name}` takes one input tensor, got {len(flows)}",
                call.span,
            )
        first = flows[0].shape
        inner: Scope = {**self.globals, "in": ShapeValue(first.c, first.h, first.w), **bound}
        for param in bdef.params:
            if param.name in bound:
                continue
            if param.default is None:
                given = len([a for a in call.args if a.name is None])
                raise SpecValueError(self._arity(bdef, given), call.span)
            inner[param.name] = self._eval(param.default, inner)
        self.depth += 1
        try:
            if self.depth > MAX_BLOCK_DEPTH:
                raise SpecValueError(
                    f"blocks nest deeper than {MAX_BLOCK_DEPTH} (endless recursion?)", call.span
                )
            made = self.block_body(bdef, flows, inner, name)
        finally:
            self.depth -= 1
        if made is None:
            return None
        node, flow = made
        args = ", ".join(_show(bound.get(p.name, inner.get(p.name))) for p in bdef.params)
        row_label = self._row_label(call)
        notation = f"{bdef.name} ({row_label})" if row_label else f"{bdef.name}({args})"
        return replace(node, block=bdef.name, notation=notation, span=call.span), flow

    def block_body(
        self, bdef: ast.BlockDef, flows: list[Flow], scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        body = bdef.body
        while isinstance(body, ast.If):
            chosen = body.then if self._truth(body.test, scope) else body.otherwise
            if chosen is None:
                chosen = ast.Seq((ast.Call("identity", span=body.span),), span=body.span)
            body = chosen
        if isinstance(body, ast.Combine) and len(flows) == 1:
            made = self.combine(body, flows[0], scope, name)
            return made  # type: ignore[return-value]
        items = body.items if isinstance(body, ast.Seq) else (body,)
        inputs = dict(zip(bdef.inputs, flows, strict=True))
        result = self.sequence(items, inputs, scope, name, body.span)  # type: ignore[arg-type]
        if result is None:
            return None
        block, outs = result
        if len(outs) != 1:
            raise ShapeError(
                f"block `{bdef.name}` has {len(outs)} outputs; `head:` entries "
                "belong in the network's top-level layers",
                bdef.span,
            )
        return block, outs[0]

    # ------------------------------------------------------------ combinators
    def combine(
        self, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        if not item.branches:  # its body failed to parse; that error is already recorded
            return None
        handler = {
            "concat": self.parallel,
            "mean": self.parallel,
            "residual": self.residual,
            "dense": self.dense,
            "scale": self.scale,
        }[item.kind]
        return handler(item, flow, scope, name)

    def parallel(
        self, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        branches = []
        namer = Namer(_labels(item.branches))
        for branch in item.branches:
            label = getattr(branch, "label", None)
            branch_name = (
                namer.explicit(label, branch.span, self.diag) if label else namer.auto("branch")
            )
            branches.append(self.named(branch, flow, scope, branch_name))
        if any(b is None for b in branches) or not branches:
            return None
        shapes = [b[1].shape for b in branches]  # type: ignore[index]
        try:
            if item.kind == "concat":
                out = concat_shape(shapes)
            else:
                out = JOIN_OPS["mean"].infer({}, shapes)
        except ShapeRuleError as exc:
            detail = ", ".join(f"{b[0].name} gives {b[1].shape}" for b in branches)  # type: ignore[index]
            raise ShapeError(f"{exc} ({detail})", item.span) from None
        nodes = [b[0] for b in branches]  # type: ignore[index]
        flows = [b[1] for b in branches]  # type: ignore[index]
        field = max((f.field for f in flows), key=lambda f: f.size)
        extra = Cost(
            other_ops=out.numel * (len(nodes) - 1) if item.kind == "mean" else 0, memory=out.numel
        )
        attrs = Attrs()
        drop = item.option("drop_path")
        if isinstance(drop, ast.Expr):  # type: ignore[arg-type]
            p = self._eval(drop, scope)  # type: ignore[arg-type]
            if not isinstance(p, int | float) or not 0 <= p < 1:
                raise SpecValueError(f"`drop_path` must be in [0, 1), got {p}", item.span)
            attrs = Attrs.of({"drop_path": float(p)})
        notation = item.kind + (f" (drop-path {attrs['drop_path']:g})" if attrs.items else "")
        block = self._make_block(
            name, item.kind, nodes, (flow,), [Flow(out, field)], notation, item.span, attrs, extra
        )
        return block, Flow(out, field)

    def residual(
        self, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        made = self.named(item.branches[0], flow, scope, "residual")
        if made is None:
            return None
        body, out = made
        children: list[Node] = [body]
        shortcut = item.option("shortcut")
        mode = (
            shortcut.value if isinstance(shortcut, ast.Str) else ("custom" if shortcut else "auto")
        )
        if mode == "auto":
            mode = "identity" if out.shape == flow.shape else "projection"
        if mode == "identity" and out.shape != flow.shape:
            raise ShapeError(
                f"add of different shapes: the residual gives {out.shape}, "
                f"the identity shortcut carries {flow.shape}",
                item.span,
            )
        if mode == "projection":
            children.append(self.projection(flow, out.shape, item.span))
        elif mode == "custom":
            made_short = self.named(shortcut, flow, scope, "shortcut")  # type: ignore[arg-type]
            if made_short is None:
                return None
            if made_short[1].shape != out.shape:
                raise ShapeError(
                    f"add of different shapes: the residual gives {out.shape}, "
                    f"the shortcut gives {made_short[1].shape}",
                    item.span,
                )
            children.append(made_short[0])
        scale_expr = item.option("scale")
        scale = float(self._eval(scale_expr, scope)) if isinstance(scale_expr, ast.Expr) else 1.0  # type: ignore[arg-type]
        attrs: dict[str, Any] = {"scale": scale, "shortcut": mode != "identity", "post": None}
        result = out
        then = item.option("then")
        if then is not None:
            namer = Namer({"residual", "shortcut"})
            made_then = self.expand(then, Flow(out.shape, out.field), scope, namer)  # type: ignore[arg-type]
            if not made_then or any(c is _BROKEN for c, _ in made_then):
                return None
            if len(made_then) == 1:
                post, result = made_then[0]
            else:
                post_flow = made_then[-1][1]
                post = self._make_block(
                    "post",
                    "seq",
                    [c for c, _ in made_then],
                    (out.shape,),
                    [post_flow],
                    "",
                    item.span,
                )  # type: ignore[list-item]
                result = post_flow
            children.append(post)
            attrs["post"] = post.name
        extra = Cost(other_ops=out.shape.numel * (2 if scale != 1.0 else 1), memory=out.shape.numel)
        field = Field(max(out.field.size, flow.field.size), out.field.jump)
        result = Flow(result.shape, field)  # type: ignore[union-attr]
        block = self._make_block(
            name,
            "residual",
            children,
            (flow,),
            [result],
            "residual",
            item.span,
            Attrs.of(attrs),
            extra,
        )
        return block, result

    def projection(self, flow: Flow, target: Shape, span: Span) -> Layer:
        """The 1×1 projection shortcut used where the residual changes the shape."""
        x = flow.shape
        if x.is_vector or target.is_vector:
            raise ShapeError(f"no projection shortcut from {x} to {target}", span)
        assert x.h is not None and target.h is not None
        stride = max(1, x.h // target.h)
        if -(-x.h // stride) != target.h:
            raise ShapeError(
                f"add of different shapes: {x} cannot be projected to {target} "
                "by a strided 1×1 conv",
                span,
            )
        values = dict(self.defaults.get("conv", {}))
        values.update(act="none", pad=0, groups=1, dilation=1, order="post")
        conv = REGISTRY.ops["conv"]
        return self.layer(
            conv, values, Geometry((1, 1), stride, target.c), [flow], "shortcut", span
        )[0]

    def dense(
        self, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        times_expr = item.option("times")
        times = self._int(times_expr, scope, "`times`") if isinstance(times_expr, ast.Expr) else 0  # type: ignore[arg-type]
        if times <= 0 or times > MAX_LAYERS:
            raise SpecValueError(f"`times` must be positive, got {times}", item.span)
        units: list[Node] = []
        current = flow
        for index in range(1, times + 1):
            made = self.named(item.branches[0], current, scope, f"layer{index}")
            if made is None:
                return None
            unit, out = made
            try:
                shape = concat_shape([current.shape, out.shape])
            except ShapeRuleError as exc:
                raise ShapeError(
                    f"dense layer {index}: {exc} (input {current.shape}, new features {out.shape})",
                    item.span,
                ) from None
            units.append(unit)
            current = Flow(shape, Field(max(out.field.size, current.field.size), out.field.jump))
        extra = Cost(memory=sum(u.outputs[0].numel for u in units))
        block = self._make_block(
            name, "dense", units, (flow,), [current], f"dense ×{times}", item.span, extra=extra
        )
        return block, current

    def scale(
        self, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        made = self.named(item.branches[0], flow, scope, "gate")
        if made is None:
            return None
        gate, out = made
        g, x = out.shape, flow.shape
        if g.c != x.c or not (g.is_vector or (g.h, g.w) in ((1, 1), (x.h, x.w))):
            raise ShapeError(
                f"scale: the gate gives {g}, which cannot scale an input of {x}; "
                f"it must give {x.c} or {x.c}×1×1",
                item.span,
            )
        extra = Cost(other_ops=x.numel, memory=x.numel)
        result = Flow(x, flow.field)
        block = self._make_block(
            name, "scale", [gate], (flow,), [result], "scale", item.span, extra=extra
        )
        return block, result

    # ------------------------------------------------------------ construction
    def _make_block(
        self,
        name: str,
        kind: str,
        children: list[Node],
        inputs: tuple,
        outputs: list,
        notation: str,
        span: Span,
        attrs: Attrs | None = None,
        extra: Cost | None = None,
    ) -> Block:
        """A block whose cost is its children's plus what the combinator itself
        does (`extra`, kept in a private `join` figure of the block's attrs)."""
        if kind == "seq" and not notation:
            notation = _seq_notation(children)
        cost = sum((child.cost for child in children), Cost())
        own = extra or Cost()
        cost = Cost(
            cost.params, cost.macs, cost.other_ops + own.other_ops, cost.memory + own.memory
        )
        in_shapes = tuple(f.shape if isinstance(f, Flow) else f for f in inputs)
        out_flows = [f for f in outputs if f is not None]
        field = max((f.field for f in out_flows), key=lambda f: f.size, default=Field())
        merged = Attrs.of(
            {
                **(attrs.as_dict() if attrs else {}),
                "own_other_ops": own.other_ops,
                "own_memory": own.memory,
            }
        )
        return Block(
            name,
            kind,
            tuple(children),
            in_shapes,
            tuple(f.shape for f in out_flows),
            cost,
            field,
            notation,
            None,
            merged,
            span,
        )


def _seq_notation(children: list[Node]) -> str:
    """`bottleneck ×3` for a stage of one block kind, else the ops in order."""
    kinds = [c.block if isinstance(c, Block) and c.block else c.notation for c in children]
    if kinds and all(k == kinds[0] for k in kinds):
        return f"{kinds[0]} ×{len(kinds)}" if len(kinds) > 1 else kinds[0]
    text = ", ".join(kinds)
    return text if len(text) <= 40 else text[:39] + "…"


def _shapes(shapes: list[Shape]) -> str:
    return " and ".join(str(s) for s in shapes)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _suggest(head: str, candidates: list[str]) -> str:
    """did-you-mean for an op name that may carry a kernel size (`cnov3` → `conv3`)."""
    match = re.fullmatch(r"([A-Za-z_]+?)(\d+(?:x\d+)?)", head)
    if match:
        prefix, kernel = match.groups()
        hint = did_you_mean(prefix, candidates)
        if hint:
            suggestion = hint.split("`")[1]
            return f" — did you mean `{suggestion}{kernel}`?"
    return did_you_mean(head, candidates)


# A placeholder child standing for one that failed; never leaves this module.
_BROKEN = Layer("broken", "identity", Attrs(), (Shape(1),), Shape(1), Cost(), Field(), "")


def elaborate(spec: ast.Spec, variant: str | None, diag: Diagnostics) -> Block | None:
    return Elaborator(spec, variant, diag).run()
