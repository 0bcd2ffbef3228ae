"""The imported graph's layers and regions as spec text: layout only.

Each layer is spelt by its op (`Op.spell`, the inverse of its `configure`),
leaving out what the spec's chosen `defaults:` say, its widths and strides
through a `Num` callback that folding may turn into parameters; `Renderer`
turns items (layers and regions) into YAML values, `dump` lays those out as
block-style YAML lines, and `tidy` drops the strides of 1 folding left.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..ops import REGISTRY, Num, plain_number
from .defaults import SpecDefaults
from .graph import GNode, LayerGraph
from .structure import Item, Region


def spell_node(node: GNode, defaults: SpecDefaults, num: Num = plain_number) -> str:
    """One layer as its op spells it under the spec's defaults for that op."""
    return REGISTRY.ops[node.op].spell(node.attrs, defaults.get(node.op), num)


_STRIDE1 = re.compile(r"\b([A-Za-z_]+\d+(?:x\d+)?)/1-")


def tidy(text: str) -> str:
    """`conv3/1-64` → `conv3-64`: a symbolic stride that folding filled with 1."""
    return _STRIDE1.sub(r"\1-", text)


# ---------------------------------------------------------------- YAML values of items


class Renderer:
    """Items → YAML values (strings, lists, one-key dicts), numbers via `num`.

    `projection_ok` says whether a residual's shortcut is the one `shortcut:
    auto` makes, so it need not be written."""

    def __init__(
        self, graph: LayerGraph, defaults: SpecDefaults, projection_ok: Callable[[Region], bool]
    ) -> None:
        self.g = graph
        self.d = defaults
        self.projection_ok = projection_ok

    def item(self, item: Item, num: Num) -> Any:
        if isinstance(item, int):
            return spell_node(self.g.nodes[item], self.d, num)
        return self.region(item, num)

    def seq(self, items: list[Item], num: Num) -> Any:
        """A branch: one comma-joined string when it has no nested region."""
        if not items:
            return "identity"
        values = [self.item(i, num) for i in items]
        if all(isinstance(v, str) for v in values):
            return ", ".join(values)
        return values

    def region(self, r: Region, num: Num) -> dict[str, Any]:
        if r.kind == "concat":
            return {"concat": [self.seq(b, num) for b in r.branches]}
        body: dict[str, Any] = {"residual": self.seq(r.branches[0], num)}
        if not self.projection_ok(r):
            body["shortcut"] = self.seq(r.shortcut or [], num)
        if r.then is not None:
            body["then"] = self.g.nodes[r.then].op
        return body


def dump(value: Any, indent: int) -> list[str]:
    """A YAML value as block-style lines at `indent` (flow lists for short ones)."""
    pad = " " * indent
    if isinstance(value, str):
        return [pad + value]
    if isinstance(value, list):
        if all(isinstance(v, str) and "," not in v and "{" not in v for v in value):
            return [pad + "[" + ", ".join(value) + "]"]
        lines = []
        for v in value:
            sub = dump(v, indent + 2)
            lines.append(pad + "- " + sub[0].lstrip())
            lines += sub[1:]
        return lines
    lines = []
    for key, v in value.items():
        sub = dump(v, indent + 2)
        if len(sub) == 1 and not isinstance(v, dict):
            lines.append(f"{pad}{key}: {sub[0].lstrip()}")
        else:
            lines.append(f"{pad}{key}:")
            lines += sub
    return lines
