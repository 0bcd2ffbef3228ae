"""Layer lists with named wires (`from:`, `head:`, `join:`) → `Graph` blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ast
from ..blocks import Flow, Graph, assemble
from ..errors import (
    ArchSpecError,
    ShapeError,
    Span,
    SpecNameError,
    SpecSyntaxError,
    did_you_mean,
)
from ..expr import evaluate
from ..ir import Node
from ..naming import python_name
from ..ops import JOIN_OPS, REGISTRY, Geometry, Op
from .calls import block_call
from .scope import Scope

if TYPE_CHECKING:
    from .walker import Elaborator


def is_graph(items: tuple[ast.Node, ...]) -> bool:
    return any(isinstance(item, ast.Tap) for item in items)


class GraphWalk:
    """The state of one graph while its entries are elaborated in order."""

    def __init__(self, elab: Elaborator, items: tuple[ast.Node, ...], inputs: dict) -> None:
        self.elab = elab
        self.tensors: dict[str, Flow | None] = dict(inputs)
        self.previous = list(inputs)[-1]
        self.names = elab.namespace(items, avoid=tuple(inputs))
        self.children: list[Node] = []
        self.wires: list[tuple[str, tuple[str, ...]]] = []
        self.heads: list[str] = []
        self.broken = False

    def chain_entry(self, item: ast.Node, scope: Scope) -> None:
        """A plain entry: it reads the tensor before it."""
        made = self.elab.expand(item, self.tensors[self.previous], scope, self.names)
        label = getattr(item, "label", None)
        if label and (not made or any(flow is None for _, flow in made)):
            # it failed: its name still exists, so readers add no errors of their own
            self.tensors[python_name(label)] = None
            self.previous = python_name(label)
            self.broken = True
            return
        for child, flow in made:
            self.add(child, (self.previous,), flow)
            self.previous = child.name

    def resolve(self, source: str) -> str:
        """The tensor a `from:` name means: an input, or the entry labelled so
        (whose node name may carry a `_`: `graph` → `graph_`)."""
        if source in self.tensors:
            return source
        return self.names.unreserved(python_name(source))

    def add(self, child: Node, sources: tuple[str, ...], flow: Flow | None) -> None:
        self.children.append(child)
        self.wires.append((child.name, sources))
        self.tensors[child.name] = flow
        self.broken |= flow is None

    def tap(self, item: ast.Tap, scope: Scope) -> None:
        if item.when is not None and not self.elab.truth(item.when, scope):
            return
        if item.split:
            self.split(item, scope)
            return
        sources = tuple(self.resolve(s) for s in item.sources) or (self.previous,)
        missing = [s for s in sources if s not in self.tensors]
        for source in missing:
            message = f"unknown tensor `{source}`{did_you_mean(source, self.tensors)}"
            self.elab.diag.error(SpecNameError(message, item.span))
        if item.name:
            name, fresh = self.names.claim(item.name)
            if not fresh:
                self.elab.diag.error(duplicate(name, item.span))
        else:
            name = self.names.auto(item.join or "branch")
        flows = [self.tensors.get(s) for s in sources]
        made = None
        if not missing and all(f is not None for f in flows):
            made = tap(self.elab, item, [f for f in flows if f is not None], scope, name)
        if made is None:
            self.tensors[name] = None
            self.broken = True
            return
        node, flow = made
        self.add(node, tuple(sources), flow)
        if item.is_head:
            self.heads.append(node.name)
        else:
            self.previous = node.name

    def split(self, item: ast.Tap, scope: Scope) -> None:
        """`split: {a: 24, b: 24}`: named channel groups of one tensor, each a
        channel slice; together they must cover its channels exactly."""
        source = item.sources[0] if item.sources else self.previous
        if len(item.sources) > 1 or source not in self.tensors:
            where = "one tensor" if len(item.sources) > 1 else f"unknown tensor `{source}`"
            self.elab.diag.error(SpecNameError(f"`split` reads {where}", item.span))
            self.broken = True
            return
        flow = self.tensors[source]
        start = 0
        for part, expr in item.split:
            name, fresh = self.names.claim(part)
            if not fresh:
                self.elab.diag.error(duplicate(name, item.span))
            try:
                width = self.elab.int(expr, scope, "a channel count")
                made = None
                if flow is not None:
                    values = {"start": start}
                    op = REGISTRY.ops["slice"]
                    geometry = Geometry(width=width)
                    made = self.elab.layer(op, values, geometry, [flow], name, expr.span)
            except ArchSpecError as exc:
                self.elab.diag.error(exc)
                made, width = None, 0
            start += width
            if made is None:
                self.tensors[name] = None
                self.broken = True
                continue
            self.add(made[0], (source,), made[1])
            self.previous = name
        if flow is not None and not self.broken and start != flow.shape.c:
            self.elab.diag.error(
                ShapeError(
                    f"`split` parts take {start} channels of the {flow.shape.c} of `{source}`",
                    item.span,
                )
            )
            self.broken = True


def duplicate(name: str, span: Span) -> SpecNameError:
    return SpecNameError(f"duplicate name `{name}` in the same block", span)


def graph(
    elab: Elaborator,
    items: tuple[ast.Node, ...],
    inputs: dict[str, Flow | None],
    scope: Scope,
    name: str,
    span: Span,
) -> tuple[Graph, list[Flow]] | None:
    walk = GraphWalk(elab, items, inputs)
    for item in items:
        if isinstance(item, ast.Tap):
            walk.tap(item, scope)
        else:
            walk.chain_entry(item, scope)
    if walk.broken:
        return None
    outputs = [walk.previous, *walk.heads]
    out_flows = [walk.tensors[o] for o in outputs]
    input_flows = [f for f in inputs.values() if f is not None]
    if any(f is None for f in out_flows):
        return None
    flows = [f for f in out_flows if f is not None]
    block = assemble(
        Graph,
        name,
        walk.children,
        input_flows,
        flows,
        "",
        span,
        wires=tuple(walk.wires),
        input_names=tuple(inputs),
        output_names=tuple(outputs),
    )
    return block, flows


def tap(
    elab: Elaborator, item: ast.Tap, flows: list[Flow], scope: Scope, name: str
) -> tuple[Node, Flow] | None:
    """One graph entry with its inputs: a join, a layer list, or a multi-input block."""
    if item.join:
        op = JOIN_OPS.get(item.join)
        if op is None:  # the parser has reported the unknown join
            return None
        values = {"drop_path": evaluate(item.drop_path, scope)} if item.drop_path else {}
        return elab.layers.layer(op, values, Geometry(), flows, name, item.span)
    if item.body is None:
        elab.diag.error(
            SpecSyntaxError("a graph entry needs `layers:`, `head:` or `join:`", item.span)
        )
        return None
    if len(flows) > 1:
        return _multi_input_call(elab, item, flows, scope, name)
    return elab.named(item.body, flows[0], scope, name)


def _multi_input_call(
    elab: Elaborator, item: ast.Tap, flows: list[Flow], scope: Scope, name: str
) -> tuple[Node, Flow] | None:
    body = item.body
    if isinstance(body, ast.Seq) and len(body.items) == 1:
        body = body.items[0]
    op = _multi_input_op(elab, body, len(flows))
    if op is not None and isinstance(body, ast.Call):  # `from: [y, ref], layers: upsample`
        geometry, values, written = elab.layers.values(op[0], op[1], body, scope)
        return elab.layer(op[0], values, geometry, flows, name, body.span, written)
    bdef = (
        elab.blocks.get(body.head)
        if isinstance(body, ast.Call) and isinstance(body.head, str)
        else None
    )
    if bdef is None or len(bdef.inputs) != len(flows) or not isinstance(body, ast.Call):
        elab.diag.error(
            ShapeError(
                f"an entry with {len(flows)} inputs must call a block declared with "
                f"`inputs:` of that many names",
                item.span,
            )
        )
        return None
    return block_call(elab, body, bdef, flows, scope, name)


def _multi_input_op(
    elab: Elaborator, body: ast.Node, inputs: int
) -> tuple[Op, tuple[int, int] | None] | None:
    """The op a multi-input entry calls, if it is one op that takes that many inputs."""
    if not isinstance(body, ast.Call) or not isinstance(body.head, str):
        return None
    if body.head in elab.blocks:
        return None
    found = REGISTRY.lookup(body.head)
    return found if found is not None and found[0].max_inputs >= inputs else None
