"""One generated class (`ClassGen`): its parameters, and the one
expression that gives a value in every instance of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archspec import ast
from archspec.blocks import Graph
from archspec.elaborate.scope import BUILTINS
from archspec.errors import ArchSpecError
from archspec.expr import evaluate
from archspec.ir import Block
from archspec.naming import Namespace

from ...torch.plan import BlockPlan
from ..pysource import NotExpressible, literal, to_python, walk
from .values import (
    INPUTS,
    INST,
    LOCAL_RESERVED,
    Cand,
    ClassParam,
    Mismatch,
    Own,
    ParamKind,
    expr_cand,
    fits,
    reads_variant,
    same,
    value_exprs,
)

if TYPE_CHECKING:
    from .module import ModuleGen


class ClassGen:
    """One generated class: a spec block (every instance of it), or the network."""

    def __init__(
        self,
        module: ModuleGen,
        name: str,
        key: Any,
        bdef: ast.BlockDef | None,
        instances: list[tuple[BlockPlan, dict]],
    ) -> None:
        self.module = module
        self.name = name
        self.key = key
        self.bdef = bdef
        self.instances = instances
        self.node: Block = instances[0][0].node
        self.locals = Namespace(LOCAL_RESERVED | module.reserved)
        self.params: list[ClassParam] = []
        self.spec_params: dict[str, str] = {}
        if bdef is not None:
            for p in bdef.params:
                py = self.locals.fresh(p.name, key=("param", p.name))
                self.spec_params[p.name] = py
        self.network_params: dict[str, str] = {}  # the network's (a family's variant keys)
        self.inputs = self.node.input_names if isinstance(self.node, Graph) else ("x",)
        self.input_params: dict[int, str] = {}
        self.globals_used: dict[str, str] = {}
        self.extra: list[ClassParam] = []
        self.in_loop = 0
        body = bdef.body if bdef is not None else module.spec.body
        found = value_exprs(body)
        self.body_exprs = [e for e, role in found if role == "value"]
        self.counts = [e for e, role in found if role == "count"]
        self.tests = [e for e, role in found if role == "test"]
        self.lines: list[str] = []
        self.formula_used = False  # another class's code calls `out_channels`
        self._formulas: dict[str, Any] = {}  # sought once: "out", "input" → formula or None
        self.out_c_used = False  # another class's code reads `self.<child>.out_c`

    def out_formula(self) -> tuple[list[str], str] | None:
        """The block's output channels as an expression of the parameters it
        reads, (those parameters, the expression), where one gives every
        instance's and reads neither the input nor a file constant
        (`4 * width` for a bottleneck)."""
        if "out" not in self._formulas:
            self._formulas["out"] = self._out_formula()
        return self._formulas["out"]

    def _out_formula(self) -> tuple[list[str], str] | None:
        if self.bdef is None:
            return None
        items = [(scope, plan.node.output.c) for plan, scope in self.instances]
        for expr in [*(ast.Var(p) for p in self.spec_params), *self.body_exprs]:
            names = {e.name for e in walk(expr) if isinstance(e, ast.Var)}
            names |= {e.value for e in walk(expr) if isinstance(e, ast.Str)}
            if any(isinstance(e, ast.Attr) for e in walk(expr)):
                continue  # `in.c`: the caller would need the input's channels
            if names & self.module.globals_ - set(self.spec_params):
                continue
            text = self.try_cand(expr_cand(expr), items)
            if text is not None:
                return [p for p in self.spec_params if p in names], text
        return None

    def input_formula(self) -> str | None:
        """The block's output channels as an expression that reads its input
        channels (`in_c + n * k` for a dense block, `math.floor(theta * in_c)`
        for a transition), for `self.out_c`; only for a class that already
        takes `in_c` and has no child of that name."""
        if "input" not in self._formulas:
            self._formulas["input"] = self._input_formula()
        return self._formulas["input"]

    def _input_formula(self) -> str | None:
        named_out_c = any(c.name == "out_c" for plan, _s in self.instances for c in plan.children)
        if self.bdef is None or 0 not in self.input_params or named_out_c:
            return None
        items = [(scope, plan.node.output.c) for plan, scope in self.instances]
        inputs = self.input_cand(0)
        params = [expr_cand(ast.Var(p)) for p in [*self.spec_params, *self.module.globals_]]
        grown = [  # a dense block: its input and `n` layers of `k` channels
            Cand(
                lambda s, a=a, b=b: s[INPUTS][0] + a.value(s) * b.value(s),
                lambda g, a=a, b=b: f"{g.input_param(0)} + {a.source(g)} * {b.source(g)}",
            )
            for a in params
            for b in params
            if a is not b
        ]
        with_input = [e for e in self.body_exprs if any(isinstance(x, ast.Attr) for x in walk(e))]
        for cand in [inputs, *(expr_cand(e) for e in with_input), *grown]:
            text = self.try_cand(cand, items)
            if text is not None:
                return text
        return None

    # ------------------------------------------------------------ names
    def resolve(self, name: str) -> str | None:
        if name == "i":
            if not self.in_loop:
                raise NotExpressible("`i` outside a loop")
            return "i"
        if name.startswith("in."):
            if name != "in.c":
                raise NotExpressible(f"`{name}` is not a constructor argument")
            return self.input_param(0)
        if name in self.spec_params:
            return self.spec_params[name]
        if name in BUILTINS:
            return literal(BUILTINS[name])
        if name in self.module.globals_:
            if self.bdef is None:
                if name in self.network_params:
                    return self.network_params[name]
                values = [scope[name] for _plan, scope in self.instances]
                if all(same(v, values[0]) for v in values):
                    return literal(values[0])  # a constant of this network
                raise NotExpressible(f"`{name}` differs between variants")
            if name not in self.globals_used:
                self.globals_used[name] = self.locals.fresh(name, key=("global", name))
            return self.globals_used[name]
        return None

    def python(self, expr: ast.Expr) -> str:
        return to_python(expr, self.resolve)

    def input_param(self, index: int) -> str:
        if self.bdef is None:
            raise NotExpressible("the network takes no input channels")
        if index not in self.input_params:
            want = "in_c" if len(self.inputs) == 1 else f"{self.inputs[index]}_c"
            self.input_params[index] = self.locals.fresh(want, key=("input", index))
        return self.input_params[index]

    # ------------------------------------------------------------ candidates
    def candidates(self, role: str | None = None) -> list[Cand]:
        """Expressions a value may be: the block's parameters, its input
        channels, the spec's expressions; the input channels first for a
        slot that carries a layer's input channels."""
        params = [expr_cand(ast.Var(p)) for p in self.spec_params]
        inputs = [self.input_cand(k) for k in range(len(self.inputs))]
        inputs = inputs if self.bdef is not None else []
        out = inputs + params if role == "in" else params + inputs
        out += [expr_cand(e) for e in self.body_exprs]
        if self.bdef is None:
            out += [expr_cand(ast.Var(p)) for p in self.network_params]
        return out

    def input_cand(self, k: int) -> Cand:
        """The channels of the block's `k`-th input (`in_c`)."""
        return Cand(lambda s: s[INPUTS][k], lambda g: g.input_param(k))

    def try_cand(self, cand: Cand, items: list[tuple[dict, Any]]) -> str | None:
        try:
            for scope, value in items:
                got = cand.value(scope)
                if not same(got, value):
                    return None
            return cand.source(self)
        except (ArchSpecError, NotExpressible, KeyError, TypeError, IndexError, ValueError):
            return None

    def value(
        self,
        items: list[tuple[dict, Any]],
        own: list[Own],
        name: str,
        role: str | None = None,
        slot: str = "",
        reads: Callable[[], str | None] | None = None,
    ) -> str:
        """One expression giving every occurrence's value. `own` are the
        expressions the spec wrote at this place, `role` says whether the
        value is a layer's input or output channels, `slot` names the torch
        argument it fills, `reads` gives the output channels of the layer
        before, for an input-channel slot (see `ModuleGen.input_channels`);
        it is asked only where the value is not a number of the network's.

        A value that varies is explained by whichever expression gives it
        everywhere. A value that is the same everywhere proves nothing by
        matching, so it is written as a literal unless the spec wrote an
        expression for this very argument (`conv1-{4*width}`'s width) or it
        is channels (a conv's input is `in_c`): Inception's stem at 3 input
        channels must not read `nn.Conv2d(in_c, 32, in_c)`."""
        first = items[0][1]
        constant = all(same(v, first) for _s, v in items)
        if self.bdef is None and constant:
            # the network's table: the numbers themselves, but in a family
            # module what the spec writes with the variant's values
            # (`dense_block(blocks[0])` even where every variant has 6)
            for tag, expr in own:
                if tag == "any" and reads_variant(expr, self.module.varying):
                    found = self.try_cand(expr_cand(expr), items)
                    if found is not None:
                        return found
            return literal(first)
        flow = reads() if reads is not None else None
        if flow is not None:  # what the layer before gives (the channel flow)
            return flow
        for tag, expr in own:
            if constant and not fits(tag, role, slot):
                continue
            found = self.try_cand(expr_cand(expr), items)
            if found is not None:
                return found
        if constant:
            for spec_name in self.spec_params:  # a block's `stride` for a `stride=`
                if slot and fits(spec_name, role, slot):
                    found = self.try_cand(expr_cand(ast.Var(spec_name)), items)
                    if found is not None:
                        return found
            if first in (0, 1, None) or isinstance(first, bool | str):
                return literal(first)
            if role is None and not isinstance(first, float):
                return literal(first)
            for cand in self.candidates(role):  # channels (or a scale) the block's values explain
                found = self.try_cand(cand, items)
                if found is not None:
                    return found
            return literal(first)
        for cand in self.candidates(role):
            found = self.try_cand(cand, items)
            if found is not None:
                return found
        if self.in_loop and all(isinstance(v, int) and not isinstance(v, bool) for _s, v in items):
            found = self.affine(items)
            if found is not None:
                return found
        return self.decision(items, name)

    def affine(self, items: list[tuple[dict, Any]]) -> str | None:
        """`a + (i - 1) * b` (a dense block's growing input)."""
        ints = [c for c in self.candidates()]
        firsts = [(s, v) for s, v in items if s["i"] == 1]
        steps: dict[int, int] = {}
        for s, v in items:
            steps.setdefault(s[INST], v)
        for a in ints:
            if self.try_cand(a, firsts) is None:
                continue
            for b in ints:
                cand = Cand(
                    lambda s, a=a, b=b: a.value(s) + (s["i"] - 1) * b.value(s),
                    lambda g, a=a, b=b: f"{a.source(g)} + (i - 1) * {b.source(g)}",
                )
                found = self.try_cand(cand, items)
                if found is not None:
                    return found
        return None

    def decision(self, items: list[tuple[dict, Any]], name: str) -> str:
        """A value no expression gives: a constructor argument, one per instance."""
        if (self.bdef is None and len(self.instances) == 1) or self.in_loop:
            raise Mismatch(f"no expression gives `{name}`")
        per: dict[int, Any] = {}
        for scope, value in items:
            if scope[INST] in per and not same(per[scope[INST]], value):
                raise Mismatch(f"`{name}` differs within one instance")
            per[scope[INST]] = value
        for param in self.extra:
            if all(same(param.values.get(k), v) for k, v in per.items()):
                return param.py
        py = self.locals.fresh(name, key=("extra", name, len(self.extra)))
        self.extra.append(ClassParam(ParamKind.DECISION, "", py, index=len(self.extra), values=per))
        return py


def signature(self: ClassGen) -> list[ClassParam]:
    """A class's constructor parameters: input channels, the spec's, the file
    constants it reads, then the decisions its callers pass."""
    out = [
        ClassParam(ParamKind.INPUT, "", py, index=k) for k, py in sorted(self.input_params.items())
    ]
    if self.bdef is not None:
        values = [scope for _plan, scope in self.instances]
        for p in self.bdef.params:
            default = None
            if p.default is not None and _constant(p.default):
                vals = [scope[p.name] for scope in values]
                default_value = evaluate(p.default, {**BUILTINS})
                if not isinstance(default_value, list):
                    default = literal(default_value)
                del vals
            out.append(ClassParam(ParamKind.SPEC, p.name, self.spec_params[p.name], default))
        required_after = False
        for p in reversed(out):
            if p.default is None:
                required_after = True
            elif required_after:
                p.default = None  # Python wants defaults last
    for name, py in self.globals_used.items():
        vals = [scope[name] for _plan, scope in self.instances]
        default = None
        if all(same(v, vals[0]) for v in vals) and not isinstance(vals[0], list):
            default = literal(vals[0])
        out.append(ClassParam(ParamKind.CONSTANT, name, py, default))
    for k, extra in enumerate(self.extra):
        out.append(ClassParam(ParamKind.DECISION, "", extra.py, index=k, values=extra.values))
    seen_default = False
    for p in out:  # after a default, the rest are keyword-only
        p.kwonly = seen_default
        seen_default = seen_default or p.default is not None
    return out


def _constant(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Num | ast.Str) or (
        isinstance(expr, ast.Var) and expr.name in BUILTINS
    )
