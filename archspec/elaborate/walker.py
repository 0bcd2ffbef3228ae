"""The walk: `ast.Spec` → IR, expanding entries in order with their shapes.

Expansion and inference are one walk because expansion needs shapes:
`{floor(theta*in.c)}` reads the input channels and a residual's shortcut is a
projection exactly when the body changes the shape. Errors are collected in
`Diagnostics`; after an error the walk goes on without a shape (`flow is
None`) so later names and arguments are still checked, but no follow-on shape
errors are invented. Block kinds elaborate themselves (`Kind.elaborate`,
archspec/blocks/) through the `Context` methods this class provides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from .. import ast
from ..blocks import COMBINATORS, Flow, Seq, assemble, seq_notation
from ..errors import (
    ArchSpecError,
    Diagnostics,
    Span,
    SpecNameError,
    SpecSyntaxError,
    SpecValueError,
)
from ..expr import ShapeValue, evaluate
from ..ir import Attrs, Block, Cost, Field, Layer, Node, Shape, Written
from ..limits import MAX_ITERATIONS, MAX_LAYERS
from ..naming import Namespace, python_name
from ..ops import REGISTRY, Geometry, Op
from . import calls, graphs
from .layers import LayerMaker
from .scope import BUILTINS, Scope, file_scope, network_name, op_defaults
from .values import as_checked_int

Made = list[tuple[Node, Flow | None]]


class Elaborator:
    def __init__(
        self,
        spec: ast.Spec,
        variant: str | None,
        diag: Diagnostics,
        reserved: Iterable[str] = (),
    ) -> None:
        self.spec = spec
        self.diag = diag
        self.reserved = frozenset(reserved)
        self.blocks = self._block_defs()
        self.variant = variant
        errors = len(diag.errors)
        self.globals = file_scope(spec, variant, diag)
        self.unknown_variant = any(
            message.startswith("unknown variant") for message in _messages(diag, errors)
        )
        self.defaults = op_defaults(spec, self.globals, diag)
        self.layers = LayerMaker(self.defaults, diag)
        self.depth = 0
        self.iterations = 0

    def _block_defs(self) -> dict[str, ast.BlockDef]:
        blocks: dict[str, ast.BlockDef] = {}
        for block in self.spec.blocks:
            if block.name in blocks or REGISTRY.lookup(block.name):
                what = "an op" if REGISTRY.lookup(block.name) else "another block"
                self.diag.error(
                    SpecNameError(f"block `{block.name}` has the name of {what}", block.span)
                )
            blocks[block.name] = block
        return blocks

    def run(self) -> Block | None:
        if self.unknown_variant:  # every later error would be a consequence of it
            return None
        shape = Shape(*self.spec.input)
        name = self.namespace(()).unreserved(python_name(network_name(self.spec, self.variant)))
        scope = {**self.globals, "in": ShapeValue(shape.c, shape.h, shape.w)}
        flow = Flow(shape, Field())
        result = self.sequence(self.spec.body.items, {"x": flow}, scope, name, self.spec.body.span)
        if result is None:
            return None
        constants = tuple((k, v) for k, v in self.globals.items() if k not in BUILTINS)
        return replace(result[0], bound=constants)

    # ------------------------------------------------------------ what block rules use
    def eval(self, expr: ast.Expr, scope: Scope) -> Any:
        return evaluate(expr, scope)

    def int(self, expr: ast.Expr, scope: Scope, what: str) -> int:
        return as_checked_int(expr, scope, what)

    def layer(
        self,
        op: Op,
        values: dict[str, Any],
        geometry: Geometry,
        flows: list[Flow],
        name: str,
        span: Span,
        written: Written = (),
    ) -> tuple[Layer, Flow]:
        return self.layers.layer(op, values, geometry, flows, name, span, written)

    def namespace(self, items: Sequence[ast.Node], avoid: Sequence[str] = ()) -> Namespace:
        labels = {python_name(label) for label in map(_label, items) if label}
        return Namespace(self.reserved, avoid=labels | set(avoid))

    def truth(self, expr: ast.Expr, scope: Scope) -> bool:
        try:
            return bool(evaluate(expr, scope))
        except ArchSpecError as exc:
            self.diag.error(exc)
            return False

    def name_for(self, label: str | None, base: str, names: Namespace, span: Span) -> str:
        """An explicit label's name (a duplicate is an error), else `base` + counter."""
        if not label:
            return names.auto(base)
        name, fresh = names.claim(label)
        if not fresh:
            self.diag.error(graphs.duplicate(name, span))
        return name

    # ------------------------------------------------------------ sequences
    def sequence(
        self,
        items: tuple[ast.Node, ...],
        inputs: dict[str, Flow | None],
        scope: Scope,
        name: str,
        span: Span,
    ) -> tuple[Block, list[Flow]] | None:
        if graphs.is_graph(items) or len(inputs) > 1:
            return graphs.graph(self, items, inputs, scope, name, span)
        first = next(iter(inputs.values()))
        chained = self.chain(items, first, scope)
        if chained is None or first is None:
            return None
        children, out = chained
        block = assemble(Seq, name, children, [first], [out], seq_notation(children), span)
        return block, [out]

    def chain(
        self, items: tuple[ast.Node, ...], flow: Flow | None, scope: Scope
    ) -> tuple[list[Node], Flow] | None:
        """The children of a sequence and the flow out of it (None after an error)."""
        names = self.namespace(items)
        children: list[Node] = []
        for item in items:
            made = self.expand(item, flow, scope, names)
            children += [child for child, _ in made]
            flow = made[-1][1] if made else flow
        if flow is None or any(child is BROKEN for child in children):
            return None
        return children, flow

    # ------------------------------------------------------------ entries
    def expand(self, item: ast.Node, flow: Flow | None, scope: Scope, names: Namespace) -> Made:
        """The children one entry adds to a sequence (a repeat adds several)."""
        try:
            return self._expand(item, flow, scope, names)
        except ArchSpecError as exc:
            if exc.span.file == "<spec>":
                exc.span = item.span
            self.diag.error(exc)
            return [(BROKEN, None)] if flow is not None else []

    def _expand(self, item: ast.Node, flow: Flow | None, scope: Scope, names: Namespace) -> Made:
        if isinstance(item, ast.Repeat):
            return self._repeat(item, flow, scope, names)
        if isinstance(item, ast.Seq) and item.label is None:
            return self._inline(item.items, flow, scope, names)
        if isinstance(item, ast.If):
            branch = item.then if self.truth(item.test, scope) else item.otherwise
            if branch is None:
                return []
            if item.label:
                name = self.name_for(item.label, "", names, item.span)
                return _one(self.named(branch, flow, scope, name))
            return self._expand(branch, flow, scope, names)
        if isinstance(item, ast.Tap):
            raise SpecSyntaxError(
                "`from:`/`head:`/`join:` entries belong in a layer list", item.span
            )
        if isinstance(item, ast.Call):
            return self.call_entry(item, flow, scope, names)
        base = item.kind if isinstance(item, ast.Combine) else "block"
        name = self.name_for(item.label, base, names, item.span)
        if isinstance(item, ast.Seq):
            return _one(self.named(item, flow, scope, name))
        return _one(self.combine(item, flow, scope, name))

    def _repeat(self, item: ast.Repeat, flow: Flow | None, scope: Scope, names: Namespace) -> Made:
        count = as_checked_int(item.count, scope, "a repeat count")
        if count < 0 or count > MAX_LAYERS:
            raise SpecValueError(
                f"repeat count must be between 0 and {MAX_LAYERS}, got {count}", item.count.span
            )
        out: Made = []
        for index in range(1, count + 1):
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise SpecValueError(
                    f"repeats run more than {MAX_ITERATIONS:,} times in all", item.count.span
                )
            # `i` is the copy's 1-based index: `drop_path {0.5 * i / 54}` x54
            made = self._expand(item.body, flow, {**scope, "i": index}, names)
            out += [(_copy(node, index), made_flow) for node, made_flow in made]
            flow = made[-1][1] if made else flow
        return out

    def _inline(
        self, items: tuple[ast.Node, ...], flow: Flow | None, scope: Scope, names: Namespace
    ) -> Made:
        out: Made = []
        for sub in items:
            made = self.expand(sub, flow, scope, names)
            out += made
            flow = made[-1][1] if made else flow
        return out

    def named(self, body: ast.Node, flow: Flow | None, scope: Scope, name: str) -> Any:
        """Elaborate `body` into exactly one node called `name` (a lone layer is
        renamed, several become a sequence block); None after an error."""
        if flow is None:  # after an error: still check names and arguments inside
            for item in body.items if isinstance(body, ast.Seq) else (body,):
                self.expand(item, None, scope, Namespace())
            return None
        if isinstance(body, ast.Combine):
            return self.combine(body, flow, scope, name)
        items = body.items if isinstance(body, ast.Seq) else (body,)
        if graphs.is_graph(items):
            made = graphs.graph(self, items, {"x": flow}, scope, name, body.span)
            return (made[0], made[1][0]) if made else None
        chained = self.chain(items, flow, scope)
        if chained is None:
            return None
        children, out = chained
        if len(children) == 1:
            return replace(children[0], name=name), out
        block = assemble(Seq, name, children, [flow], [out], seq_notation(children), body.span)
        return block, out

    def combine(
        self, item: ast.Combine, flow: Flow | None, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        """The block a combinator entry makes. After an error upstream (`flow`
        None) the kind's rule still checks names and arguments inside, making
        nothing."""
        if not item.branches:  # its body failed to parse; that error is already recorded
            return None
        # A None flow is passed on to `named`, which then only checks names.
        return COMBINATORS[item.kind].elaborate(self, item, flow, scope, name)  # type: ignore[arg-type]

    # ------------------------------------------------------------ calls
    def call_entry(self, call: ast.Call, flow: Flow | None, scope: Scope, names: Namespace) -> Made:
        target = calls.resolve_head(self, call, scope)
        if isinstance(target, ast.BlockDef):
            name = self.name_for(call.label, target.name, names, call.span)
            if flow is None:
                calls.check_call_args(self, call, target, scope)
                return []
            return _one(calls.block_call(self, call, target, [flow], scope, name))
        op, kernel = target
        if flow is None:  # after an error upstream: check all that needs no input shape
            self.layers.check(op, kernel, call, scope)
            return []
        out: Made = []
        if op.name == "fc" and not flow.shape.is_vector:
            # The papers write FC straight after a pool; PyTorch needs the flatten.
            flat = REGISTRY.ops["flatten"]
            made = self.layer(flat, {}, Geometry(), [flow], names.auto("flatten"), call.span)
            out.append(made)
            flow = made[1]
        name = self.name_for(call.label, op.name, names, call.span)
        geometry, values, written = self.layers.values(op, kernel, call, scope)
        out.append(self.layer(op, values, geometry, [flow], name, call.span, written))
        return out


def _messages(diag: Diagnostics, since: int) -> list[str]:
    return [error.message for error in diag.errors[since:]]


def _label(item: ast.Node) -> str | None:
    if isinstance(item, ast.Tap):
        return item.name
    return getattr(item, "label", None)


def _copy(node: Node, index: int) -> Node:
    """`node` as the `index`-th copy of a repeat; a copy inside a nested
    repeat keeps the innermost index, the `i` its expressions saw."""
    if node is BROKEN or node.index is not None:
        return node
    return replace(node, index=index)


def _one(made: tuple[Node, Flow] | None) -> Made:
    return [made] if made is not None else [(BROKEN, None)]


# A placeholder child standing for one that failed; never leaves this package.
BROKEN = Layer("broken", "identity", Attrs(), (Shape(1),), Shape(1), Cost(), Field(), "")


def elaborate(
    spec: ast.Spec, variant: str | None, diag: Diagnostics, reserved: Iterable[str] = ()
) -> Block | None:
    """The IR of `spec` (None if it has errors, which `diag` then holds).
    `reserved`: names no node may take, handed in by the backend that will
    turn node names into attributes."""
    return Elaborator(spec, variant, diag, reserved).run()
