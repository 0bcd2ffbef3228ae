"""The intermediate representation: the expanded network with every shape and
cost resolved.

The IR is a tree that keeps the spec's hierarchy: `Layer` leaves (one op each)
inside `Block` nodes (a block instance, a named group or a combinator). A
`Block.kind` says how its children are wired:

    seq       children one after another
    concat    children side by side on the same input, outputs concatenated on C
    mean      children side by side, outputs averaged (FractalNet join)
    residual  `residual` child + optional `shortcut` child added (× `scale`),
              then an optional post layer (attrs["post"])
    dense     x ← concat(x, child(x)) for each child in turn (DenseNet)
    scale     x · gate(x), the one child being the gate (SE)
    graph     children wired by name (attrs["wires"], "inputs", "outputs")

Nodes are frozen dataclasses; the span of the spec text that produced a node is
kept beside it and left out of equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from .errors import UNKNOWN_SPAN, Span

BLOCK_KINDS = ("seq", "concat", "mean", "residual", "dense", "scale", "graph")


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


@dataclass(frozen=True, slots=True)
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

    @property
    def outputs(self) -> tuple[Shape, ...]:
        return (self.output,)


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    kind: str
    children: tuple[Node, ...]
    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    cost: Cost
    field: Field
    notation: str
    block: str | None = None
    attrs: Attrs = Attrs()
    span: Span = dataclass_field(default=UNKNOWN_SPAN, compare=False, repr=False)

    @property
    def output(self) -> Shape:
        return self.outputs[0]

    def child(self, name: str) -> Node:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)


Node = Layer | Block


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


def verify(root: Node) -> None:
    """Invariants every pass must keep; run between passes in tests."""
    for node, _depth, path in walk(root):
        where = ".".join(path)
        if isinstance(node, Block):
            assert node.kind in BLOCK_KINDS, f"{where}: unknown block kind {node.kind}"
            names = [child.name for child in node.children]
            assert len(names) == len(set(names)), f"{where}: duplicate child names {names}"
            total = sum((child.cost for child in node.children), Cost())
            assert total.params == node.cost.params, f"{where}: params do not add up"
            assert total.macs == node.cost.macs, f"{where}: MACs do not add up"
            if node.kind == "seq" and node.children:
                assert node.children[0].inputs[0] == node.inputs[0], f"{where}: first input"
                for before, after in zip(node.children, node.children[1:], strict=False):
                    assert before.outputs[0] == after.inputs[0], f"{where}: {after.name} input"
                assert node.children[-1].outputs[0] == node.output, f"{where}: output"
        for name in (node.name,):
            assert name.isidentifier(), f"{where}: `{name}` is not an identifier"
