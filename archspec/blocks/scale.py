"""Scale (squeeze-and-excitation): x · gate(x), the gate broadcast over H×W."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import ast
from ..errors import ShapeError
from ..ir import Cost, Field
from ..ops import Style
from .base import Context, Endpoint, Flow, Kind, Pen, Scope, Syntax, assemble, join_id


@dataclass(frozen=True, slots=True, repr=False)
class Scale(Kind):
    KIND: ClassVar[str] = "scale"
    DOC: ClassVar[str] = "x * gate(x), the gate broadcast over H and W."
    SYNTAX: ClassVar[Syntax] = Syntax("scale")
    STYLE: ClassVar[Style] = Style("gating block", "#e6d2ef")
    TORCH: ClassVar[str] = "Scale"

    @classmethod
    def elaborate(
        cls, ctx: Context, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Kind, Flow] | None:
        made = ctx.named(item.branches[0], flow, scope, "gate")
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
        # the product sees everything the gate saw (a global pool: the whole input)
        result = Flow(x, Field(max(flow.field.size, out.field.size), flow.field.jump))
        own = Cost(other_ops=x.numel, memory=x.numel)
        return assemble(cls, name, [gate], [flow], [result], "scale", item.span, own), result

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        (gate_item,) = pen.items(self, path, depth)
        gate = pen.item(gate_item, g, sources)[0]
        ident = pen.join(g, join_id(path, "mul"), "mul", [gate], sources[0])
        return [(ident, self.output)]
