"""Dense (DenseNet): x ← concat(x, layer(x)) for each of `times` layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import ast
from ..errors import ShapeError, SpecValueError
from ..ir import Cost, Field, Node
from ..limits import MAX_LAYERS
from ..ops import ShapeRuleError, Style, concat_shape
from .base import Context, Endpoint, Flow, Kind, Pen, Scope, Syntax, assemble, join_id


@dataclass(frozen=True, slots=True, repr=False)
class Dense(Kind):
    KIND: ClassVar[str] = "dense"
    DOC: ClassVar[str] = "x = cat(x, layer(x)) for each layer in turn."
    SYNTAX: ClassVar[Syntax] = Syntax("dense", options=(("times", "expr"),), required=("times",))
    STYLE: ClassVar[Style] = Style("dense block", "#f3e0a6")
    TORCH: ClassVar[str] = "Dense"

    @classmethod
    def elaborate(
        cls, ctx: Context, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Kind, Flow] | None:
        times_expr = item.option("times")
        times = ctx.int(times_expr, scope, "`times`") if isinstance(times_expr, ast.Expr) else 0
        if times <= 0 or times > MAX_LAYERS:
            raise SpecValueError(f"`times` must be positive, got {times}", item.span)
        units: list[Node] = []
        current = flow
        for index in range(1, times + 1):
            made = ctx.named(item.branches[0], current, scope, f"layer{index}")
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
        own = Cost(memory=sum(u.outputs[0].numel for u in units))
        block = assemble(cls, name, units, [flow], [current], f"dense ×{times}", item.span, own)
        return block, current

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        # Each layer reads the running tensor and its new features are
        # concatenated onto it. A rolled run shows one layer and its concat,
        # leaving with the tensor after the whole run; joins are numbered by
        # the layers done so far (`concat6` holds x after six).
        flow = sources[0]
        index = 0
        for item in pen.items(self, path, depth):
            index += len(item.members)
            after = concat_shape([flow[1], *(m.outputs[0] for m in item.members)])
            ident = join_id(path, "concat", index)
            if item.rolled and not pen.expanded(item):
                flow = (pen.collapsed(item, g, [flow])[0], after)
                continue
            if not item.rolled:
                new = pen.item(item, g, [flow])[0]
                flow = (pen.join(g, ident, "concat", [new], flow), after)
                continue
            with pen.cluster(g, item, Dense) as sub:
                new = pen.representative(item, sub, flow)
                flow = (pen.join(sub, ident, "concat", [new], flow), after)
        return [flow]
