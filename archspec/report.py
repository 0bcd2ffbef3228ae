"""Reports of a model: the summary rows, the `archspec summary` table and its
JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import SpecWarning
from .ir import Layer, Model, Shape, walk
from .numbers import human

MAC_CONVENTION = (
    "1 MAC = one multiply-accumulate at batch 1; conv = Hout·Wout·Cout·(Cin/groups)·kh·kw, "
    "linear = in·out; FLOPs = 2 × MACs; pooling, norm, activation and join work is counted "
    "separately as other ops"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a summary: a block or a layer."""

    path: tuple[str, ...]
    depth: int
    op: str
    kind: str
    outputs: tuple[Shape, ...]
    params: int
    macs: int
    receptive_field: int
    line: int
    is_block: bool

    @property
    def name(self) -> str:
        return ".".join(self.path) if self.path else "(network)"

    def as_dict(self) -> dict[str, Any]:
        out = [s.as_list() for s in self.outputs]
        return {
            "name": self.name,
            "op": self.op,
            "kind": self.kind,
            "depth": self.depth,
            "output": out[0] if len(out) == 1 else out,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.receptive_field,
            "line": self.line,
        }


def rows(model: Model, depth: int | None = None) -> list[Row]:
    """Summary rows, parents first, the root left out; `depth` hides rows
    nested deeper than it (a block at the cut-off carries its children's totals)."""
    out = []
    for node, level, path in walk(model.root):
        if level == 0 or (depth is not None and level > depth):
            continue
        kind = node.op if isinstance(node, Layer) else node.block or node.kind
        out.append(
            Row(
                path[1:],
                level,
                node.notation or node.name,
                kind,
                node.outputs,
                node.cost.params,
                node.cost.macs,
                node.field.size,
                node.span.line,
                not isinstance(node, Layer),
            )
        )
    return out


def as_dict(model: Model, warnings: list[SpecWarning], depth: int | None = None) -> dict[str, Any]:
    """What `archspec summary --json` prints."""
    outputs = [s.as_list() for s in model.outputs]
    return {
        "name": model.name,
        "title": model.title,
        "variant": model.variant,
        "input": model.input.as_list(),
        "output": outputs[0] if len(outputs) == 1 else outputs,
        "params": model.params,
        "macs": model.macs,
        "flops": model.flops,
        "other_ops": model.other_ops,
        "activation_elements": model.activation_elements,
        "receptive_field": model.receptive_field,
        "mac_convention": MAC_CONVENTION,
        "layers": [row.as_dict() for row in rows(model, depth)],
        "warnings": [str(w) for w in warnings],
    }


HEADER = ("layer", "op", "output C×H×W", "params", "MACs", "RF")
RIGHT_ALIGNED = {3, 4, 5}


def summary_table(model: Model, depth: int | None = None) -> str:
    table = [HEADER, *(_cells(row) for row in rows(model, depth))]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in RIGHT_ALIGNED else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "─" * len(line(HEADER))
    title = model.name + (f" — {model.title}" if model.title else "")
    outputs = ", ".join(str(s) for s in model.outputs)
    lines = [title, f"input {model.input} → output {outputs}", rule, line(HEADER), rule]
    lines += [line(cells) for cells in table[1:]]
    return "\n".join([*lines, rule, *_totals(model)])


def _cells(row: Row) -> tuple[str, ...]:
    name = "  " * (row.depth - 1) + (row.path[-1] if row.path else row.name)
    shapes = ", ".join(str(s) for s in row.outputs)
    return (name, row.op, shapes, f"{row.params:,}", human(row.macs), str(row.receptive_field))


def _totals(model: Model) -> list[str]:
    memory = model.activation_elements
    return [
        f"params           {model.params:,} ({human(model.params)})",
        f"MACs             {model.macs:,} ({human(model.macs)}); FLOPs {human(model.flops)}",
        f"other ops        {model.other_ops:,} ({human(model.other_ops)})",
        f"activations      {memory:,} elements ({memory * 4 / 2**20:.1f} MiB at fp32, batch 1)",
        f"receptive field  {model.receptive_field}",
        f"convention: {MAC_CONVENTION}",
    ]
