"""How a network shows itself in a notebook: a compact HTML card with the
diagram (`Network._repr_html_`) and the summary table (`net.summary()`), which
is the terminal text as a `str` and an HTML table with collapsible blocks and
right-aligned numbers as `_repr_html_`. Every string from the spec is escaped
here; the outputs need no JavaScript (notebooks may not run it)."""

from __future__ import annotations

from html import escape
from typing import Any

from .ir import Block, Model, walk
from .numbers import human
from .report import (
    Row,
    io_line,
    rows,
    shape_text,
    summary_table,
    title_line,
    totals,
    totals_lines,
)

CSS = """
.archspec-summary { font: 12px/1.35 ui-monospace, Menlo, Consolas, monospace; }
.archspec-summary .row { display: grid; grid-template-columns: minmax(12em, 2fr)
  minmax(12em, 3fr) var(--from, 0) 10em 8em 5em 4em; column-gap: 1em; padding: 1px 4px; }
.archspec-summary .head { font-weight: bold; border-bottom: 1px solid #999; }
.archspec-summary .num { text-align: right; font-variant-numeric: tabular-nums; }
.archspec-summary details > summary { list-style: none; cursor: pointer; }
.archspec-summary details > summary::-webkit-details-marker { display: none; }
.archspec-summary details > summary .name::before { content: "▸ "; color: #777; }
.archspec-summary details[open] > summary .name::before { content: "▾ "; }
.archspec-summary .block { background: #f3f6fa; }
.archspec-summary .totals { margin-top: .5em; white-space: pre-wrap; color: #333; }
.archspec-card { font: 13px/1.4 system-ui, sans-serif; border: 1px solid #ccd;
  border-radius: 6px; padding: 8px 12px; display: inline-block; max-width: 100%; }
.archspec-card h3 { margin: 0 0 2px 0; font-size: 16px; }
.archspec-card table td { padding: 0 10px 0 0; text-align: left; }
.archspec-card table td.num { text-align: right; }
.archspec-card .diagram { max-height: 520px; overflow: auto; margin-top: 6px; }
"""


class Summary(str):
    """`net.summary()`: exactly the text `archspec summary` prints (it is a
    `str`), rendered in a notebook as an HTML table."""

    model: Model
    depth: int | None
    order: str
    batch: int

    def __new__(
        cls, model: Model, depth: int | None = None, order: str = "chw", batch: int = 1
    ) -> Summary:
        self = super().__new__(cls, summary_table(model, depth, order, batch))
        self.model, self.depth, self.order, self.batch = model, depth, order, batch
        return self

    def _repr_html_(self) -> str:
        return summary_html(self.model, self.depth, self.order, self.batch)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str.__str__(self))  # the table, not a quoted string


def _cell(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<span{attr}>{escape(text)}</span>"


def _row_cells(row: Row, wired: bool, order: str) -> str:
    shapes = ", ".join(shape_text(s, order) for s in row.outputs)
    name = row.path[-1] if row.path else row.name
    indent = f'<span class="name" style="padding-left: {row.depth - 1}em">'
    cells = [
        _cell(name, "name").replace('<span class="name">', indent, 1),
        _cell(row.op, "op"),
        _cell(", ".join(row.sources) if wired else "", "from"),
        _cell(shapes, "num"),
        _cell(f"{row.params:,}", "num"),
        _cell(human(row.macs), "num"),
        _cell(str(row.receptive_field), "num"),
    ]
    title = f"{row.name} — {row.file}:{row.line}" if row.line else row.name
    return f'title="{escape(title)}" data-path="{escape(row.name)}">' + "".join(cells)


def _tree(all_rows: list[Row], wired: bool, order: str) -> str:
    """Rows nested as <details> per block (closed below the top level)."""
    out: list[str] = []
    open_depths: list[int] = []
    for index, row in enumerate(all_rows):
        while open_depths and open_depths[-1] >= row.depth:
            out.append("</details>")
            open_depths.pop()
        has_children = index + 1 < len(all_rows) and all_rows[index + 1].depth > row.depth
        if has_children:
            out.append(f'<details><summary class="row block" {_row_cells(row, wired, order)}')
            out.append("</summary>")
            open_depths.append(row.depth)
        else:
            kind = "row block" if row.is_block else "row"
            out.append(f'<div class="{kind}" {_row_cells(row, wired, order)}</div>')
    out += ["</details>"] * len(open_depths)
    return "".join(out)


def summary_html(model: Model, depth: int | None = None, order: str = "chw", batch: int = 1) -> str:
    all_rows = rows(model, depth)
    wired = any(row.sources for row in all_rows)
    shape = "output H×W×C" if order == "hwc" else "output C×H×W"
    head = "".join(
        [
            _cell("layer"),
            _cell("op"),
            _cell("from" if wired else ""),
            _cell(shape, "num"),
            _cell("params", "num"),
            _cell("MACs", "num"),
            _cell("RF", "num"),
        ]
    )
    style = ' style="--from: 10em"' if wired else ""
    return (
        f"<style>{CSS}</style>"
        f'<div class="archspec-summary"{style}>'
        f"<div><b>{escape(title_line(model))}</b></div>"
        f"<div>{escape(io_line(model, order))}</div>"
        f'<div class="row head">{head}</div>'
        f"{_tree(all_rows, wired, order)}"
        f'<div class="totals">{escape(chr(10).join(totals_lines(model, batch)))}</div>'
        "</div>"
    )


def card_html(model: Model, svg: str | None) -> str:
    """The notebook card: name, title, input → output, params, MACs, memory,
    receptive field, and the diagram inline (when Graphviz could draw it)."""
    t = totals(model)
    outputs = ", ".join(str(s) for s in model.outputs)
    facts = [
        ("input → output", f"{model.input} → {outputs}"),
        ("params", f"{model.params:,} ({human(model.params)}, {t.param_mib:.1f} MiB fp32)"),
        ("MACs", f"{model.macs:,} ({human(model.macs)})"),
        ("memory", f"{t.forward_mib:.1f} MiB activations (fp32, batch 1, forward)"),
        ("receptive field", str(model.receptive_field)),
        ("blocks / layers", _counts(model)),
    ]
    table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in facts)
    title = f"<div>{escape(model.title)}</div>" if model.title else ""
    diagram = f'<div class="diagram">{_bare_svg(svg)}</div>' if svg else ""
    return (
        f'<style>{CSS}</style><div class="archspec-card">'
        f"<h3>{escape(model.name)}</h3>{title}<table>{table}</table>{diagram}</div>"
    )


def _counts(model: Model) -> str:
    nodes = [node for node, level, _path in walk(model.root) if level > 0]
    blocks = sum(isinstance(node, Block) for node in nodes)
    return f"{blocks:,} / {len(nodes) - blocks:,}"


def _bare_svg(svg: str) -> str:
    """Graphviz's SVG without its XML prologue, fit for inlining in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""
