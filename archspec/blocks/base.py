"""What every block kind declaration builds on.

A block kind is declared once, in its own module of this package: its IR class
(a frozen dataclass with its own fields), the spec syntax that writes it
(`SYNTAX`), its elaboration rule (shape, cost and receptive field), its
notation, its diagram look and wiring (`draw`, given a `Pen`), and its torch
form (`TORCH`, the combinator class in `archspec.compiler.torch.layers`, with
`torch_kwargs()`). The elaborator, the diagram and the torch backends reach a
kind only through these, so a new kind is one new module here (plus its torch
class, which must live on the torch side).

`Context` and `Pen` are what a rule may ask of the elaborator and the diagram:
protocols, so this package imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from .. import ast
from ..ast import Syntax
from ..errors import Diagnostics, Span
from ..ir import Block, Cost, Field, Node, Shape
from ..naming import Namespace
from ..ops import Geometry, Op, Style


@dataclass(frozen=True, slots=True, repr=False)
class Flow:
    """What flows along an edge while elaborating: a shape and its receptive field."""

    shape: Shape
    field: Field


Scope = dict[str, Any]
Made = tuple[Node, Flow] | None


class Context(Protocol):
    """The elaborator, as a block rule sees it."""

    diag: Diagnostics
    defaults: dict[str, dict[str, Any]]

    def named(self, body: ast.Node, flow: Flow | None, scope: Scope, name: str) -> Made: ...

    def expand(
        self, item: ast.Node, flow: Flow | None, scope: Scope, names: Namespace
    ) -> list[tuple[Node, Flow | None]]: ...

    def eval(self, expr: ast.Expr, scope: Scope) -> Any: ...

    def int(self, expr: ast.Expr, scope: Scope, what: str) -> int: ...

    def layer(
        self,
        op: Op,
        values: dict[str, Any],
        geometry: Geometry,
        flows: list[Flow],
        name: str,
        span: Span,
    ) -> tuple[Node, Flow]: ...

    def namespace(self, items: Sequence[ast.Node], avoid: Sequence[str] = ()) -> Namespace:
        """Names for the children `items` make: their explicit labels and `avoid`
        are kept free for them."""
        ...


Endpoint = tuple[str, Shape]  # a diagram node id and the tensor leaving it


class Pen(Protocol):
    """The diagram's scene builder (`archspec.scene`), as a block's `draw`
    sees it. `g` is the pen's handle on the cluster to draw into, passed on
    as given; items are the children as the diagram shows them (a run of
    identical blocks may be rolled into one item)."""

    def items(self, block: Block, path: tuple[str, ...], depth: int) -> list[Any]: ...

    def item(self, item: Any, g: Any, sources: list[Endpoint]) -> list[Endpoint]: ...

    def side_by_side(self, items: list[Any], g: Any, sources: list[Endpoint]) -> list[Endpoint]:
        """Items drawn from the same sources on one row (Inception's branches)."""
        ...

    def join(
        self,
        g: Any,
        ident: str,
        op_name: str,
        sources: list[Endpoint],
        shortcut: Endpoint | None = None,
        caption: str = "",
    ) -> str: ...

    def expanded(self, item: Any) -> bool: ...

    def collapsed(self, item: Any, g: Any, sources: list[Endpoint]) -> Endpoint: ...

    def cluster(
        self, g: Any, item: Any, kind: type[Block] | None = None
    ) -> AbstractContextManager[Any]:
        """A cluster for an expanded item, tinted as `kind` (default: its own)."""
        ...

    def representative(self, item: Any, g: Any, source: Endpoint) -> Endpoint: ...


B = TypeVar("B", bound=Block)
NO_COST = Cost()


@dataclass(frozen=True, slots=True, repr=False)
class Kind(Block):
    """The contract of a declared kind (see the module docstring); the
    defaults here are what most combinators want."""

    SYNTAX: ClassVar[Syntax | None] = None  # None: not written as a combinator key
    STYLE: ClassVar[Style] = Style("block", "#dfe6ee")
    TORCH: ClassVar[str] = ""

    @classmethod
    def elaborate(
        cls, ctx: Context, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Block, Flow] | None:
        """The block a spec's `key: …` entry makes, and the flow out of it."""
        raise NotImplementedError(f"`{cls.KIND}` is not written as a combinator")

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        """Draw the expanded block's children with `pen`; its output endpoints."""
        raise NotImplementedError(f"`{self.KIND}` blocks cannot be drawn")

    def torch_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of the torch combinator besides the children."""
        return {}

    def after_join(self) -> tuple[str, ...]:
        """Children applied to the block's result rather than its input (they
        may work in place on it)."""
        return ()


def assemble(
    cls: type[B],
    name: str,
    children: Sequence[Node],
    inputs: Sequence[Flow],
    outputs: Sequence[Flow],
    notation: str,
    span: Span,
    own: Cost = NO_COST,
    **fields: Any,
) -> B:
    """A block of kind `cls`: its cost is its children's plus `own`, what the
    block itself does; its receptive field is the widest of its outputs'."""
    cost = sum((child.cost for child in children), own)
    field = max((f.field for f in outputs), key=lambda f: f.size, default=Field())
    return cls(
        name=name,
        children=tuple(children),
        inputs=tuple(f.shape for f in inputs),
        outputs=tuple(f.shape for f in outputs),
        cost=cost,
        field=field,
        notation=notation,
        own=own,
        span=span,
        **fields,
    )


def widest(flows: Sequence[Flow]) -> Field:
    """The receptive field where flows meet: the widest of them."""
    return max((f.field for f in flows), key=lambda f: f.size)


def join_id(path: tuple[str, ...], op_name: str, index: int | None = None) -> str:
    """The diagram id of a block's join node (`inception_3a/concat`)."""
    return f"{'.'.join(path)}/{op_name}{'' if index is None else index}"
