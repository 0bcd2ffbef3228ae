"""Graph: children wired by name (`from:`, `head:`, `join:` entries), the form of
GoogLeNet's side heads and NASNet's cells. The main line is the first output,
side heads follow."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

from ..ops import Style
from .base import Endpoint, Kind, Pen

Wire = tuple[str, tuple[str, ...]]  # a child and the tensors it reads


@dataclass(frozen=True, slots=True, repr=False)
class Graph(Kind):
    wires: tuple[Wire, ...] = ()
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()

    KIND: ClassVar[str] = "graph"
    DOC: ClassVar[str] = "children wired by name."
    STYLE: ClassVar[Style] = Style("graph block", "#d9d9ef")
    TORCH: ClassVar[str] = "Graph"

    def problems(self) -> list[str]:
        known = set(self.input_names)
        found = []
        for child, sources in self.wires:
            found += [f"{child} reads `{s}` before it exists" for s in sources if s not in known]
            known.add(child)
        found += [f"output `{o}` is never made" for o in self.output_names if o not in known]
        return found

    def readers(self) -> dict[str, int]:
        """How many consumers read each tensor (an output counts as one)."""
        uses: dict[str, int] = {}
        for _name, sources in self.wires:
            for source in sources:
                uses[source] = uses.get(source, 0) + 1
        for name in self.output_names:
            uses[name] = uses.get(name, 0) + 1
        return uses

    def chained(self) -> set[str]:
        """Children fed only by the child before them, which feeds nothing
        else: there the graph is a plain chain."""
        uses = self.readers()
        return {
            name
            for (before, _), (name, sources) in pairwise(self.wires)
            if sources == (before,) and uses.get(before) == 1
        }

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        tensors: dict[str, Endpoint] = dict(zip(self.input_names, sources, strict=False))
        wires = dict(self.wires)
        # a rolled run is a chain: fed like its first member, read as its last
        for item in pen.items(self, path, depth):
            inputs = [tensors[s] for s in wires[item.node.name]]
            tensors[item.members[-1].name] = pen.item(item, g, inputs)[0]
        return [tensors[name] for name in self.output_names]
