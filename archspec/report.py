"""The `archspec summary` table."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .network import Network, Row


def human(count: int) -> str:
    """1,234,567 → 1.23M, the way papers print costs."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(count) >= size:
            return f"{count / size:.2f}{unit}"
    return str(count)


def _shape_text(row: Row) -> str:
    return ", ".join(str(s) for s in row.outputs)


def summary_table(net: Network, depth: int | None = None) -> str:
    from .network import MAC_CONVENTION

    rows = net.rows(depth)
    header = ("layer", "op", "output C×H×W", "params", "MACs", "RF")
    table = [header]
    for row in rows:
        indent = "  " * (row.depth - 1)
        name = indent + (row.path[-1] if row.path else row.name)
        table.append(
            (
                name,
                row.op,
                _shape_text(row),
                f"{row.params:,}",
                human(row.macs),
                str(row.receptive_field),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    right = {3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "─" * len(line(header))
    title = f"{net.name}" + (f" — {net.title}" if net.title else "")
    outputs = ", ".join(str(s) for s in net.outputs)
    lines = [title, f"input {net.input} → output {outputs}", rule, line(header), rule]
    lines += [line(cells) for cells in table[1:]]
    lines += [
        rule,
        f"params           {net.params:,} ({human(net.params)})",
        f"MACs             {net.macs:,} ({human(net.macs)}); FLOPs {human(net.flops)}",
        f"other ops        {net.other_ops:,} ({human(net.other_ops)})",
        f"activations      {net.activation_elements:,} elements "
        f"({net.activation_elements * 4 / 2**20:.1f} MiB at fp32, batch 1)",
        f"receptive field  {net.receptive_field}",
        f"convention: {MAC_CONVENTION}",
    ]
    return "\n".join(lines)
