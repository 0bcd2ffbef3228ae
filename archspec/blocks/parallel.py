"""Concat and mean: branches side by side on the same input, their outputs
concatenated on channels (Inception) or averaged (FractalNet's join, with an
optional drop-path while training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import ast
from ..errors import ShapeError, SpecValueError
from ..ir import Cost, Shape
from ..ops import JOIN_OPS, ShapeRuleError, Style, concat_shape
from .base import Context, Endpoint, Flow, Kind, Pen, Scope, Syntax, assemble, join_id, widest


@dataclass(frozen=True, slots=True, repr=False)
class Parallel(Kind):
    """What concat and mean share; each declares how outputs are joined."""

    JOIN: ClassVar[str] = ""

    @classmethod
    def join_shape(cls, shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    @classmethod
    def elaborate(
        cls, ctx: Context, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Kind, Flow] | None:
        names = ctx.namespace(item.branches)
        branches = []
        for branch in item.branches:
            label = getattr(branch, "label", None)
            branch_name = names.claim(label)[0] if label else names.auto("branch")
            branches.append(ctx.named(branch, flow, scope, branch_name))
        made = [b for b in branches if b is not None]
        if len(made) != len(branches) or not made:
            return None
        try:
            out = cls.join_shape([f.shape for _, f in made])
        except ShapeRuleError as exc:
            detail = ", ".join(f"{node.name} gives {f.shape}" for node, f in made)
            raise ShapeError(f"{exc} ({detail})", item.span) from None
        result = Flow(out, widest([f for _, f in made]))
        fields = cls.options(ctx, item, scope)
        own = cls.join_cost(out, len(made))
        nodes = [node for node, _ in made]
        notation = cls.notation_of(fields)
        block = assemble(cls, name, nodes, [flow], [result], notation, item.span, own, **fields)
        return block, result

    @classmethod
    def join_cost(cls, out: Shape, branches: int) -> Cost:
        return Cost(memory=out.numel)

    @classmethod
    def options(cls, ctx: Context, item: ast.Combine, scope: Scope) -> dict[str, Any]:
        return {}

    @classmethod
    def notation_of(cls, fields: dict[str, Any]) -> str:
        return cls.KIND

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        outs = pen.side_by_side(pen.items(self, path, depth), g, sources)
        ident = pen.join(g, join_id(path, self.JOIN), self.JOIN, outs)
        return [(ident, self.output)]


@dataclass(frozen=True, slots=True, repr=False)
class Concat(Parallel):
    KIND: ClassVar[str] = "concat"
    DOC: ClassVar[str] = "branches on the same input, concatenated on channels."
    SYNTAX: ClassVar[Syntax] = Syntax("concat", branches="list")
    STYLE: ClassVar[Style] = Style("concat block", "#cfe8d0")
    TORCH: ClassVar[str] = "Concat"
    JOIN: ClassVar[str] = "concat"

    @classmethod
    def join_shape(cls, shapes: list[Shape]) -> Shape:
        return concat_shape(shapes)


@dataclass(frozen=True, slots=True, repr=False)
class Mean(Parallel):
    drop_path: float = 0.0

    KIND: ClassVar[str] = "mean"
    DOC: ClassVar[str] = "branches on the same input, averaged."
    SYNTAX: ClassVar[Syntax] = Syntax("mean", branches="list", options=(("drop_path", "expr"),))
    STYLE: ClassVar[Style] = Style("mean block", "#d7e3c4")
    TORCH: ClassVar[str] = "Mean"
    JOIN: ClassVar[str] = "mean"

    @classmethod
    def join_shape(cls, shapes: list[Shape]) -> Shape:
        return JOIN_OPS["mean"].infer({}, shapes)

    @classmethod
    def join_cost(cls, out: Shape, branches: int) -> Cost:
        return Cost(other_ops=out.numel * (branches - 1), memory=out.numel)

    @classmethod
    def options(cls, ctx: Context, item: ast.Combine, scope: Scope) -> dict[str, Any]:
        drop = item.option("drop_path")
        if not isinstance(drop, ast.Expr):
            return {}
        p = ctx.eval(drop, scope)
        if not isinstance(p, int | float) or not 0 <= p < 1:
            raise SpecValueError(f"`drop_path` must be in [0, 1), got {p}", item.span)
        return {"drop_path": float(p)}

    @classmethod
    def notation_of(cls, fields: dict[str, Any]) -> str:
        drop = fields.get("drop_path")
        return f"mean (drop-path {drop:g})" if drop else "mean"

    def torch_kwargs(self) -> dict[str, Any]:
        return {"drop_path_": self.drop_path} if self.drop_path else {}
