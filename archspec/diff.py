"""`archspec diff A B`: two networks side by side, layer by layer.

Rows are aligned by dotted path (a name in one network and not the other is
shown on its own side only); each row gives both ops and shapes and the params
and MACs deltas, then the totals. Text for people, `as_dict` for `--json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ir import Model
from .numbers import human
from .report import Row, rows, shape_text


@dataclass(frozen=True, slots=True)
class Pair:
    """One dotted path in either network."""

    name: str
    depth: int
    a: Row | None
    b: Row | None

    @property
    def status(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        same = (self.a.op, self.a.outputs, self.a.params, self.a.macs) == (
            self.b.op,
            self.b.outputs,
            self.b.params,
            self.b.macs,
        )
        return "same" if same else "changed"

    @property
    def params_delta(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def macs_delta(self) -> int:
        return (self.b.macs if self.b else 0) - (self.a.macs if self.a else 0)

    def as_dict(self) -> dict[str, Any]:
        def side(row: Row | None) -> dict[str, Any] | None:
            if row is None:
                return None
            out = [s.as_list() for s in row.outputs]
            return {
                "op": row.op,
                "output": out[0] if len(out) == 1 else out,
                "params": row.params,
                "macs": row.macs,
                "file": row.file,
                "line": row.line,
            }

        return {
            "name": self.name,
            "depth": self.depth,
            "status": self.status,
            "a": side(self.a),
            "b": side(self.b),
            "params_delta": self.params_delta,
            "macs_delta": self.macs_delta,
        }


def align(a: Model, b: Model, depth: int | None = None) -> list[Pair]:
    """Every path of `a` in order, each path only in `b` placed after the
    path before it in `b`."""
    left = {row.name: row for row in rows(a, depth)}
    right_rows = rows(b, depth)
    right = {row.name: row for row in right_rows}
    order = list(left)
    position = {name: i for i, name in enumerate(order)}
    inserted: list[tuple[float, str]] = []
    anchor = -1.0
    for row in right_rows:
        if row.name in position:
            anchor = float(position[row.name])
        else:
            anchor += 1e-6
            inserted.append((anchor, row.name))
    keyed = [(float(i), name) for i, name in enumerate(order)] + inserted
    names = [name for _key, name in sorted(keyed, key=lambda kv: kv[0])]
    return [
        Pair(name, (left.get(name) or right[name]).depth, left.get(name), right.get(name))
        for name in names
    ]


def labels(a: Model, b: Model) -> tuple[str, str]:
    """The two networks' names, or their files' where the names are equal."""
    if a.name != b.name:
        return a.name, b.name
    return Path(a.source).stem, Path(b.source).stem


def _signed(n: int) -> str:
    return "0" if n == 0 else f"{n:+,}"


def _side(row: Row | None, order: str) -> tuple[str, str]:
    if row is None:
        return ("—", "")
    return (row.op, ", ".join(shape_text(s, order) for s in row.outputs))


MARK = {"same": " ", "changed": "~", "added": "+", "removed": "-"}


def diff_text(
    a: Model, b: Model, depth: int | None = None, changed_only: bool = False, order: str = "chw"
) -> str:
    pairs = align(a, b, depth)
    left, right = labels(a, b)
    head = ("", "layer", f"op ({left})", "output", f"op ({right})", "output")
    head += ("Δ params", "Δ MACs")
    table = [head]
    for pair in pairs:
        if changed_only and pair.status == "same":
            continue
        name = "  " * (pair.depth - 1) + pair.name.rsplit(".", 1)[-1]
        table.append(
            (
                MARK[pair.status],
                name,
                *_side(pair.a, order),
                *_side(pair.b, order),
                _signed(pair.params_delta),
                _signed(pair.macs_delta),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i >= 6 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "─" * len(line(head))
    return "\n".join(
        [
            f"{left} → {right}",
            rule,
            line(head),
            rule,
            *map(line, table[1:]),
            rule,
            *totals_text(a, b, order),
        ]
    )


def totals_text(a: Model, b: Model, order: str = "chw") -> list[str]:
    def outs(m: Model) -> str:
        return ", ".join(shape_text(s, order) for s in m.outputs)

    return [
        f"params  {a.params:,} → {b.params:,} ({_signed(b.params - a.params)}, "
        f"{_percent(a.params, b.params)})",
        f"MACs    {a.macs:,} → {b.macs:,} ({_signed(b.macs - a.macs)}, "
        f"{_percent(a.macs, b.macs)}; {human(a.macs)} → {human(b.macs)})",
        f"output  {outs(a)} → {outs(b)}",
        "rows: ~ changed, + only in the second, - only in the first",
    ]


def _percent(old: int, new: int) -> str:
    return f"{(new - old) / old * 100:+.2f}%" if old else "n/a"


def as_dict(a: Model, b: Model, depth: int | None = None) -> dict[str, Any]:
    pairs = align(a, b, depth)
    return {
        "a": {"name": a.name, "file": a.source, "params": a.params, "macs": a.macs},
        "b": {"name": b.name, "file": b.source, "params": b.params, "macs": b.macs},
        "params_delta": b.params - a.params,
        "macs_delta": b.macs - a.macs,
        "output": [[s.as_list() for s in a.outputs], [s.as_list() for s in b.outputs]],
        "layers": [pair.as_dict() for pair in pairs],
    }
