"""Sequence: children one after another. Written as a list of layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..ir import Block, Node
from ..ops import Style
from .base import Endpoint, Kind, Pen

NOTATION_WIDTH = 40  # a longer list of ops is cut with an ellipsis


@dataclass(frozen=True, slots=True, repr=False)
class Seq(Kind):
    KIND: ClassVar[str] = "seq"
    DOC: ClassVar[str] = "its children one after another."
    STYLE: ClassVar[Style] = Style("block", "#dfe6ee")
    TORCH: ClassVar[str] = "Sequential"

    def problems(self) -> list[str]:
        if not self.children:
            return []
        found = []
        if self.children[0].inputs[0] != self.inputs[0]:
            found.append("the first child does not read the block's input")
        for before, after in zip(self.children, self.children[1:], strict=False):
            if before.outputs[0] != after.inputs[0]:
                found.append(f"{after.name} does not read {before.name}'s output")
        if self.children[-1].outputs[0] != self.output:
            found.append("the last child's output is not the block's")
        return found

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        flow = sources
        for item in pen.items(self, path, depth):
            flow = pen.item(item, g, flow)[:1]
        return flow


def seq_notation(children: list[Node]) -> str:
    """`bottleneck ×3` for a stage of one block kind, else the ops in order."""
    kinds = [c.block if isinstance(c, Block) and c.block else c.notation for c in children]
    if kinds and all(k == kinds[0] for k in kinds):
        return f"{kinds[0]} ×{len(kinds)}" if len(kinds) > 1 else kinds[0]
    text = ", ".join(kinds)
    return text if len(text) <= NOTATION_WIDTH else text[: NOTATION_WIDTH - 1] + "…"
