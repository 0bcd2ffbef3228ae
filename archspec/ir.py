"""The intermediate representation: the expanded network with every shape and
cost resolved.

The IR is a tree that keeps the spec's hierarchy: `Layer` leaves (one op each)
inside `Block` nodes. `Block` is the base of one frozen dataclass per block
kind (sequence, concat, residual, …); each kind is declared, with its own
fields and all of its rules, in one module of `archspec/blocks/`. Backends
dispatch on those types, never on strings.

Nodes are frozen dataclasses; the span of the spec text that produced a node is
kept beside it and left out of equality. `verify()` checks the invariants
every node must keep and raises `IRError`; `archspec.load` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar

from . import ast
from .errors import UNKNOWN_SPAN, ArchSpecError, Span

# Where a node came from in the spec, kept beside it (like its span) and left
# out of equality and repr, so IR dumps and comparisons ignore it; backends
# that write the spec's blocks back as code read it instead of re-elaborating.
Written = tuple[tuple[str, ast.Expr], ...]  # a name → the expression the spec wrote
Bound = tuple[tuple[str, Any], ...]  # a name → its value


@dataclass(frozen=True, slots=True)
class Shape:
    """A tensor shape without the batch: C×H×W, or just C for a vector."""

    c: int
    h: int | None = None
    w: int | None = None

    @property
    def is_vector(self) -> bool:
        return self.h is None

    @property
    def numel(self) -> int:
        return self.c if self.h is None else self.c * self.h * (self.w or 1)

    def as_list(self) -> list[int]:
        return [self.c] if self.h is None else [self.c, self.h, self.w or 0]

    def __str__(self) -> str:
        return str(self.c) if self.h is None else f"{self.c}×{self.h}×{self.w}"

    def hwc(self) -> str:
        """The papers' H×W×C order, as in GoogLeNet's table (28×28×256)."""
        return str(self.c) if self.h is None else f"{self.h}×{self.w}×{self.c}"


@dataclass(frozen=True, slots=True)
class Attrs:
    """A small immutable mapping for op arguments and block wiring."""

    items: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, mapping: dict[str, Any]) -> Attrs:
        return cls(tuple(mapping.items()))

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return default

    def __getitem__(self, key: str) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items)


@dataclass(frozen=True, slots=True)
class Cost:
    """Static costs of a node at batch 1.

    `macs` counts multiply-accumulates of layers with weights (conv, linear,
    …); `other_ops` counts the remaining elementwise work (pooling, norm,
    activations, joins) so that nothing is silently zero; `memory` is the
    number of activation elements the node writes.
    """

    params: int = 0
    macs: int = 0
    other_ops: int = 0
    memory: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.params + other.params,
            self.macs + other.macs,
            self.other_ops + other.other_ops,
            self.memory + other.memory,
        )


@dataclass(frozen=True, slots=True)
class Field:
    """Receptive field after a node: `size` input pixels, `jump` input pixels
    between neighbouring outputs (the product of strides so far)."""

    size: int = 1
    jump: int = 1


def fused(attrs: Attrs) -> tuple[str, ...]:
    """The norm and activation an op's options fused into it, in the order
    they run (`("bn", "relu")`); empty for a plain op."""
    norm = ("bn",) if attrs.get("bn") else ()
    act = attrs.get("act")
    return (*norm, act) if act and act != "none" else norm


def op_text(notation: str, attrs: Attrs) -> str:
    """A layer as the summary shows it: `conv1-128 +bn +relu`, or
    `bn+relu → conv1-128` for pre-activation."""
    extras = fused(attrs)
    if not extras:
        return notation
    if attrs.get("order") == "pre":
        return f"{'+'.join(extras)} → {notation}"
    return notation + "".join(f" +{e}" for e in extras)


def _describe(kind: str, node: Layer | Block, what: str) -> str:
    """`<Concat inception_3a: 192×28×28 → 256×28×28, 163,696 params, …>`."""
    ins = ", ".join(str(s) for s in node.inputs)
    outs = ", ".join(str(s) for s in node.outputs)
    where = f", {node.span.file.rsplit('/', 1)[-1]}:{node.span.line}" if node.span.line else ""
    return (
        f"<{kind} {node.name}{what}: {ins} → {outs}, {node.cost.params:,} params, "
        f"{node.cost.macs:,} MACs, RF {node.field.size}{where}>"
    )


@dataclass(frozen=True, slots=True, repr=False)
class Layer:
    name: str
    op: str
    attrs: Attrs
    inputs: tuple[Shape, ...]
    output: Shape
    cost: Cost
    field: Field
    notation: str
    span: Span = dataclass_field(default=UNKNOWN_SPAN, compare=False, repr=False)
    # Provenance: the expressions the call wrote by the option each gives
    # (`conv1-{4*width}`: `width` → `4*width`; `/stride` → `stride`), and the
    # 1-based copy of the repeat (`x3`, `times:`) that made it, None outside one.
    written: Written = dataclass_field(default=(), compare=False, repr=False)
    index: int | None = dataclass_field(default=None, compare=False, repr=False)

    @property
    def outputs(self) -> tuple[Shape, ...]:
        return (self.output,)

    def __repr__(self) -> str:
        return _describe("Layer", self, f" {op_text(self.notation, self.attrs)}")


@dataclass(frozen=True, slots=True, repr=False)
class Block:
    """What every block kind has. `own` is the work the block itself does
    beyond its children (a join's additions, the tensor it writes), already
    included in `cost`; `block` names the spec block it instantiates
    (`bottleneck`), None for an anonymous group or combinator, and `args` and
    `row` say how it was called, so no view has to read them back out of the
    notation."""

    name: str
    children: tuple[Node, ...]
    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    cost: Cost
    field: Field
    notation: str
    own: Cost = Cost()
    block: str | None = None
    args: str = ""  # the call's arguments as written in the notation (`64, 2`)
    row: str | None = None  # a paper-table row's label (`3a` of `inception 3a: […]`)
    span: Span = dataclass_field(default=UNKNOWN_SPAN, compare=False, repr=False)
    # Provenance of a spec block's instance: its definition, the call that
    # made it, every parameter's value (defaults included) and the expression
    # the call wrote for each parameter it passes; for the network's root,
    # `bound` holds the file constants of the chosen variant. `index` as for
    # a `Layer`.
    definition: ast.BlockDef | None = dataclass_field(default=None, compare=False, repr=False)
    call: ast.Call | None = dataclass_field(default=None, compare=False, repr=False)
    bound: Bound = dataclass_field(default=(), compare=False, repr=False)
    given: Written = dataclass_field(default=(), compare=False, repr=False)
    index: int | None = dataclass_field(default=None, compare=False, repr=False)

    # Declared by each kind (see archspec/blocks/): the spec key that writes
    # it and a one-line description for docs and generated code.
    KIND: ClassVar[str] = ""
    DOC: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def output(self) -> Shape:
        return self.outputs[0]

    def child(self, name: str) -> Node:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def problems(self) -> list[str]:
        """Invariants of this kind beyond the common ones; each kind adds its own."""
        return []

    def __repr__(self) -> str:
        what = f" {self.notation}" if self.notation not in ("", self.name) else ""
        return _describe(type(self).__name__, self, what)


Node = Layer | Block


@dataclass(frozen=True, slots=True)
class Model:
    """A whole network: the IR root and what describes it. This is what the
    views and backends take."""

    root: Block
    name: str
    title: str
    input: Shape
    source: str  # the spec file as given
    variant: str | None = None
    weights: tuple[str, ...] = ()  # library models whose checkpoints fit (`weights:`)
    # The parsed spec, for backends that write its blocks as parametric code.
    spec: Any = dataclass_field(default=None, compare=False, repr=False)

    @property
    def outputs(self) -> tuple[Shape, ...]:
        return self.root.outputs

    @property
    def params(self) -> int:
        return self.root.cost.params

    @property
    def macs(self) -> int:
        return self.root.cost.macs

    @property
    def flops(self) -> int:
        return 2 * self.root.cost.macs

    @property
    def other_ops(self) -> int:
        return self.root.cost.other_ops

    @property
    def activation_elements(self) -> int:
        """Activation elements written by all layers at batch 1 (fp32: ×4 bytes)."""
        return sum(layer.cost.memory for layer, _path in layers(self.root))

    @property
    def receptive_field(self) -> int:
        return self.root.field.size


def walk(
    node: Node, depth: int = 0, path: tuple[str, ...] = ()
) -> Iterator[tuple[Node, int, tuple[str, ...]]]:
    """Every node, parents before children, with its depth and name path."""
    here = (*path, node.name)
    yield node, depth, here
    if isinstance(node, Block):
        for child in node.children:
            yield from walk(child, depth + 1, here)


def layers(node: Node) -> Iterator[tuple[Layer, tuple[str, ...]]]:
    """Every leaf layer with its dotted path below `node` (excluding `node`)."""
    for item, _depth, path in walk(node):
        if isinstance(item, Layer):
            yield item, path[1:]


class IRError(ArchSpecError):
    """An IR invariant does not hold: a bug in a pass, never a user's mistake;
    reported with the spec location of the node it concerns."""


def verify(root: Node) -> None:
    """Check the invariants every pass must keep; raises `IRError`."""
    for node, _depth, path in walk(root):
        for problem in _problems(node):
            raise IRError(f"internal error at {'.'.join(path)}: {problem}", node.span)


def _problems(node: Node) -> list[str]:
    found = [] if node.name.isidentifier() else [f"`{node.name}` is not an identifier"]
    if isinstance(node, Layer):
        return found
    names = [child.name for child in node.children]
    if len(names) != len(set(names)):
        found.append(f"duplicate child names {names}")
    if node.definition is not None and [k for k, _v in node.bound] != [
        p.name for p in node.definition.params
    ]:
        found.append("its bound values are not its definition's parameters")
    total = sum((child.cost for child in node.children), node.own)
    if (total.params, total.macs) != (node.cost.params, node.cost.macs):
        found.append("params or MACs do not add up")
    return found + node.problems()
