"""Joins of several named tensors in a graph (`join: add`), and the one list
of join names: `JOIN_OPS`, which the parser, the planner and the backends read."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import SpecValueError
from ..ir import Shape
from .base import REGISTRY, Geometry, Op, Part, ShapeRuleError, Style
from .options import FloatOption, Option


class Join(Op):
    """Element-wise or channel joins of several named tensors in a graph."""

    min_inputs = 2
    max_inputs = 64
    style = Style("join", "#ffffff", "circle")

    broadcasts: ClassVar[bool] = False  # a C×1×1 input is spread over H×W
    # How the backends compute it: a left fold with this Python operator,
    # divided by the operand count where `divides`; "" is a channel concat.
    operator: ClassVar[str] = ""
    divides: ClassVar[bool] = False

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        first = inputs[0]
        if self.broadcasts:
            first = max(inputs, key=lambda s: s.numel)
        for other in inputs:
            if other != first and not (self.broadcasts and _spreads(other, first)):
                shown = " and ".join(dict.fromkeys(str(s) for s in inputs))
                raise ShapeRuleError(f"`{self.name}` of different shapes: {shown}")
        return first

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (len(inputs) - 1)

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (1, 1)


def _spreads(small: Shape, big: Shape) -> bool:
    """A C×1×1 tensor broadcasts over a C×H×W one (a global feature, an SE gate)."""
    return small.c == big.c and (small.h, small.w) == (1, 1) and not big.is_vector


class Add(Join):
    name = "add"
    spellings = ("add",)
    broadcasts = True
    operator = "+"

    def notation(self, attrs: dict[str, Any]) -> str:
        return "+"


class Mul(Join):
    name = "mul"
    spellings = ("mul",)
    broadcasts = True
    operator = "*"

    def notation(self, attrs: dict[str, Any]) -> str:
        return "×"


class MeanJoin(Join):
    """Element-wise mean (FractalNet's join); with `drop_path` each input is
    dropped with that probability while training, keeping at least one."""

    name = "mean"
    spellings = ("mean",)
    operator = "+"
    divides = True
    options: ClassVar[dict[str, Option]] = {"drop_path": FloatOption(0.0)}

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if not 0.0 <= attrs["drop_path"] < 1.0:
            raise SpecValueError(
                f"drop-path probability must be in [0, 1), got {attrs['drop_path']}"
            )
        return attrs

    def notation(self, attrs: dict[str, Any]) -> str:
        return "mean" + (f" (drop-path {attrs['drop_path']:g})" if attrs["drop_path"] else "")

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        # With drop-path the join depends on training mode: a module, not an expression.
        if attrs["drop_path"]:
            return (Part("join", "MeanJoin", (attrs["drop_path"],), library="archspec"),)
        return ()


class ConcatJoin(Join):
    name = "concat"
    spellings = ("concat",)

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return concat_shape(inputs)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0


def concat_shape(shapes: list[Shape]) -> Shape:
    first = shapes[0]
    for other in shapes[1:]:
        if (other.h, other.w) != (first.h, first.w):
            where = (
                "vectors and images"
                if other.is_vector != first.is_vector
                else (f"{first.h}×{first.w} and {other.h}×{other.w}")
            )
            raise ShapeRuleError(f"concat of different spatial sizes: {where}")
    return Shape(sum(s.c for s in shapes), first.h, first.w)


# The one list of joins: the registered ops that are a `Join`.
JOIN_OPS: dict[str, Join] = {name: op for name, op in REGISTRY.ops.items() if isinstance(op, Join)}
