"""How diagrams look: colours, fonts, labels, the title block and the legend.

Layers take their family and colour from the op registry (`Op.style`), so a new
op brings its own look; this module only adds what the registry cannot know:
the input/output terminals and the
graph-wide Graphviz attributes. Labels are Graphviz HTML-like labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from . import report
from .blocks import Dense, Seq
from .ir import Block, Layer, Node, Shape
from .numbers import human
from .ops import REGISTRY, Style

FONT = "Helvetica"
MUTED = "#555555"

TERMINAL = Style("input / output", "#ffffff", "ellipse")
ELIDED = Style("left out to fit", "#eeeeee")

GRAPH_ATTRS = {
    "fontname": FONT,
    "nodesep": "0.22",
    "ranksep": "0.28",
    "labelloc": "t",
    "labeljust": "c",
    "bgcolor": "white",
    "pad": "0.2",
    "newrank": "true",  # lets branches in different clusters share a rank
    "ordering": "out",  # branches left to right in spec order, as the papers draw them
}
NODE_ATTRS = {
    "fontname": FONT,
    "fontsize": "10",
    "shape": "box",
    "style": "rounded,filled",
    "margin": "0.10,0.04",
    "height": "0.3",
    "penwidth": "0.8",
    "color": "#666666",
}
EDGE_ATTRS = {
    "fontname": FONT,
    "fontsize": "8",
    "fontcolor": MUTED,
    "color": "#7a7a7a",
    "arrowsize": "0.6",
    "penwidth": "0.8",
}
SHORTCUT_EDGE = {"color": "#c0504d", "penwidth": "1.2", "fontcolor": "#c0504d"}


def block_style(kind: type[Block]) -> Style:
    """A block kind's look, as it declares it (archspec/blocks/). A collapsed
    block is filled with it; an expanded one becomes a cluster tinted with the
    same colour, so the two read as the same thing."""
    return getattr(kind, "STYLE", Seq.STYLE)


def op_style(op_name: str) -> Style:
    return REGISTRY.ops[op_name].style


def tint(colour: str, amount: float) -> str:
    """`colour` blended towards white by `amount` (0 = unchanged, 1 = white):
    clusters get a pale version of their kind's colour so nested ones stay legible."""
    value = colour.lstrip("#")
    rgb = [int(value[i : i + 2], 16) for i in (0, 2, 4)]
    mixed = [round(c + (255 - c) * amount) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def shape_text(shape: Shape, order: str = "chw") -> str:
    """C×H×W (PyTorch's order) by default, H×W×C (the papers') with `order="hwc"`."""
    return report.shape_text(shape, order)


def input_edge_label(shape: Shape, index: int, count: int, order: str = "chw") -> str:
    """An edge into a node with several inputs says which input it is: `in 2: 256×28×28`."""
    text = shape_text(shape, order)
    return f"in {index + 1}: {text}" if count > 1 else text


def cost_text(params: int, macs: int) -> str:
    parts = []
    if params:
        parts.append(f"{human(params)} params")
    if macs:
        parts.append(f"{human(macs)} MACs")
    return " · ".join(parts)


def _html(lines: Iterable[tuple[str, str]], left: bool = False) -> str:
    """An HTML-like label from (kind, text) lines: `title` bold, `sub` plain,
    `small` muted; texts are escaped here, nowhere else. `left` aligns the
    lines left, for cluster captions: the edge entering a cluster runs down
    its middle, and centred caption lines would sit right under it."""
    rendered = []
    for kind, text in lines:
        if not text:
            continue
        body = escape(text, quote=False)
        if kind == "title":
            rendered.append(f"<b>{body}</b>")
        elif kind == "small":
            rendered.append(f'<font point-size="8" color="{MUTED}">{body}</font>')
        else:
            rendered.append(body)
    if left:
        return "<" + "".join(line + '<br align="left"/>' for line in rendered) + ">"
    return "<" + "<br/>".join(rendered) + ">"


def layer_title(layer: Layer) -> str:
    return REGISTRY.ops[layer.op].label(layer.attrs.as_dict())


def lines_label(title: str, small: str) -> str:
    return _html([("title", title), ("small", small)])


def fused_text(layer: Layer) -> str:
    """What the layer's defaults fused into it: `+bn +relu`, `bn+relu first` (pre-order)."""
    extras = report.applied(layer)
    if not extras:
        return ""
    if report.is_pre(layer):
        return f"{'+'.join(extras)} first"
    return " ".join(f"+{e}" for e in extras)


def layer_label(layer: Layer) -> str:
    op = REGISTRY.ops[layer.op]
    return _html(
        [
            ("title", op.label(layer.attrs.as_dict())),
            ("sub", fused_text(layer)),
            ("small", cost_text(layer.cost.params, layer.cost.macs)),
        ]
    )


def join_label(op_name: str) -> str:
    return REGISTRY.ops[op_name].notation({})


def block_title(block: Block) -> str:
    """The paper's name for a block: `inception (3a)`, `dense block (1)`; an
    anonymous group (a stage, a branch) is shown by its name (`conv3_x`)."""
    if block.block is None:
        return block.name
    if block.row:
        text = f"{block.block} ({block.row})"
    elif block.args:
        text = f"{block.block}({block.args})"
    else:  # no arguments to tell instances apart: name them
        return f"{block.block.replace('_', ' ')} · {block.name}"
    return text.replace("_", " ")


def block_detail(block: Block) -> str:
    """A second line: the notation of an anonymous group, the growth rate and
    depth of a dense block."""
    if isinstance(block, Dense) and block.children:
        growth = {child.outputs[0].c for child in block.children}
        k = f"k={growth.pop()}, " if len(growth) == 1 else ""
        return f"{k}×{len(block.children)}"
    if block.block is None and block.notation not in ("", block.kind, block.name):
        return block.notation
    return ""


def run_title(members: tuple[Node, ...]) -> str:
    """`bottleneck(128, 1) ×3`; an anonymous run is named by its ends
    (`layer1…layer6 ×6`) since one name would stand for all of them."""
    first = members[0]
    assert isinstance(first, Block)
    if len(members) == 1:
        return block_title(first)
    if first.block is None:
        return f"{first.name}…{members[-1].name} ×{len(members)}"
    return f"{block_title(first)} ×{len(members)}"


def node_label(members: tuple[Node, ...]) -> str:
    """A collapsed block, or a run of identical ones rolled into `×N`."""
    first = members[0]
    assert isinstance(first, Block)
    title = run_title(members)
    params = sum(m.cost.params for m in members)
    macs = sum(m.cost.macs for m in members)
    return _html(
        [("title", title), ("sub", block_detail(first)), ("small", cost_text(params, macs))]
    )


def cluster_label(members: tuple[Node, ...]) -> str:
    """An expanded block's caption; for a rolled run the members drawn stand
    for all of them, so the caption carries ×N and the run's totals. An
    anonymous group's notation is left out: its layers are right there."""
    first = members[0]
    assert isinstance(first, Block)
    plain = not any(isinstance(child, Block) for child in first.children)
    if first.block is None and len(members) == 1 and isinstance(first, Seq) and plain:
        return _html([("small", first.name)], left=True)  # a branch: its layers say it all
    detail = block_detail(first)  # a stage: `bottleneck ×3`
    params = sum(m.cost.params for m in members)
    macs = sum(m.cost.macs for m in members)
    return _html(
        [("title", run_title(members)), ("sub", detail), ("small", cost_text(params, macs))],
        left=True,
    )


def terminal_label(caption: str, shape: Shape, order: str = "chw") -> str:
    return _html([("title", caption), ("small", shape_text(shape, order))])


def title_label(name: str, title: str, facts: str, legend: dict[str, str]) -> str:
    """The title block (name, source, input → output, totals) with the colour
    legend under it, as the graph's own label so it never disturbs the layout."""
    rows = [f'<tr><td><font point-size="18"><b>{escape(name)}</b></font></td></tr>']
    if title:
        rows.append(f"<tr><td>{escape(title)}</td></tr>")
    rows.append(f'<tr><td><font color="{MUTED}">{escape(facts)}</font></td></tr>')
    entries = list(legend.items())
    rows_needed = -(-len(entries) // 10)
    per_row = -(-len(entries) // max(1, rows_needed))  # balanced rows of at most 10
    for start in range(0, len(entries), per_row):
        # each legend row is its own table, so its cells are as wide as their
        # words rather than aligned with the row above
        cells = "".join(
            f'<td bgcolor="{fill}" border="1" color="#999999">'
            f'<font point-size="9">{escape(family)}</font></td>'
            for family, fill in entries[start : start + per_row]
        )
        rows.append(
            '<tr><td><table border="0" cellborder="0" cellspacing="3" '
            f'cellpadding="3"><tr>{cells}</tr></table></td></tr>'
        )
    return (
        '<<table border="0" cellborder="0" cellspacing="1" cellpadding="2">'
        + "".join(rows)
        + "</table>>"
    )
