"""`archspec draw SPEC --format html`: one self-contained interactive page.

The page holds the network as data (every node and block at full depth, the
edges between them and the summary rows, as JSON inside a `<script
type="application/json">`), a small script (`assets/page.js`) that lays out
whatever is expanded and draws it as SVG, and its stylesheet
(`assets/page.css`); nothing is fetched from the network. Every block is a
cluster that collapses and expands with a click and the layout is redone in
the page, so one file serves every expansion state. Hovering a node shows its
notation, spec file:line, input and output shapes, params, MACs and receptive
field; a search box finds layers by name; the summary table beside the
diagram is linked both ways.

A spec is untrusted: its strings reach the page only as JSON with `<`, `>`,
`&` escaped (they cannot close the script element) and the script writes them
with `textContent`, never as markup.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from . import diagram_style as style
from .files import write_atomically
from .ir import Block, Layer, Model, Node
from .numbers import human
from .ops import REGISTRY
from .report import Row, op_text, rows, shape_text
from .scene import (
    FULL,
    NODE_BUDGET,
    Cluster,
    DiagramError,
    NodeKind,
    SceneNode,
    build,
    facts,
    height,
)

ASSETS = Path(__file__).resolve().parent / "assets"
TERMINALS = (NodeKind.INPUT, NodeKind.OUTPUT)


def _cost(params: int, macs: int) -> str:
    return style.cost_text(params, macs)


def _info(node: Node, order: str) -> dict[str, str]:
    span = node.span
    return {
        "notation": op_text(node),
        "where": f"{Path(span.file).name}:{span.line}" if span.line else "",
        "in": ", ".join(shape_text(s, order) for s in node.inputs),
        "out": ", ".join(shape_text(s, order) for s in node.outputs),
        "params": f"{node.cost.params:,}",
        "macs": f"{node.cost.macs:,} ({human(node.cost.macs)})",
        "rf": str(node.field.size),
    }


def _label(node: Node) -> list[str]:
    if isinstance(node, Layer):
        op = REGISTRY.ops[node.op]
        lines = [op.label(node.attrs.as_dict()), style.fused_text(node)]
    else:
        lines = [style.run_title((node,)), style.block_detail(node)]
    return [line for line in [*lines, _cost(node.cost.params, node.cost.macs)] if line]


def page_data(model: Model, order: str = "chw") -> dict[str, Any]:
    """Everything the page draws, as plain data: the network's scene at full
    depth (every node and cluster with the cluster it sits in, in drawing
    order) and the summary rows."""
    scene = build(model, FULL)
    nodes = [_node_entry(node, order) for node in scene.nodes]
    clusters = [_cluster_entry(cluster, order) for cluster in scene.clusters]
    edges = [[e.tail, e.head, e.label(order), e.shortcut] for e in scene.edges]
    return {
        "name": model.name,
        "title": model.title,
        "facts": facts(model, order),
        "order": order,
        "nodes": nodes,
        "clusters": clusters,
        "edges": edges,
        "rows": [_row(row, order) for row in rows(model)],
        "expanded": initial_expansion(model, nodes, clusters),
    }


def _node_entry(node: SceneNode, order: str) -> dict[str, Any]:
    entry = _entry(node.ident, node.parent, node.look.fill, node.order)
    if node.kind is NodeKind.JOIN:
        entry["label"] = [style.join_label(node.op)]
        entry["join"] = True
    elif node.kind in TERMINALS:
        shape = [shape_text(node.shape, order)] if node.shape is not None else []
        entry["label"] = [node.caption, *shape]
        entry["terminal"] = True
    else:  # at full depth, one IR node: a layer or a block without children
        entry.update(_ir_entry(node.members[0], order))
    return entry


def _cluster_entry(cluster: Cluster, order: str) -> dict[str, Any]:
    entry = _entry(cluster.ident, cluster.parent, cluster.look.fill, cluster.order)
    entry.update(_ir_entry(cluster.members[0], order))
    return entry


def _entry(ident: str, parent: str, fill: str, order: int) -> dict[str, Any]:
    return {"id": ident, "parent": parent, "fill": fill, "order": order}


def _ir_entry(node: Node, order: str) -> dict[str, Any]:
    children = len(node.children) if isinstance(node, Block) else 0
    return {"ir": True, "label": _label(node), "info": _info(node, order), "children": children}


def _row(row: Row, order: str) -> dict[str, Any]:
    return {
        "path": row.name,
        "depth": row.depth,
        "name": row.path[-1],
        "op": row.op,
        "out": ", ".join(shape_text(s, order) for s in row.outputs),
        "params": f"{row.params:,}",
        "macs": human(row.macs),
        "rf": str(row.receptive_field),
        "where": f"{row.file}:{row.line}" if row.line else "",
        "block": row.is_block,
    }


def initial_expansion(
    model: Model, nodes: list[dict[str, Any]], clusters: list[dict[str, Any]]
) -> list[str]:
    """Clusters open when the page loads: the deepest level whose picture
    stays within the diagram's node budget (always the top level)."""
    parent = {c["id"]: c["parent"] for c in clusters}

    def depth(ident: str) -> int:
        level = 0
        while ident:
            ident, level = parent.get(ident, ""), level + 1
        return level

    depth_of = {ident: depth(ident) for ident in parent}
    best = 0
    for level in range(1, height(model) + 1):
        visible = _visible_count(nodes, parent, depth_of, level)
        if visible > NODE_BUDGET and level > 1:
            break
        best = level
    return [ident for ident, d in depth_of.items() if d < best]


def _visible_count(
    nodes: list[dict[str, Any]], parent: dict[str, str], depth_of: dict[str, int], level: int
) -> int:
    shown: set[str] = set()
    for node in nodes:
        chain = []
        ident = node["parent"]
        while ident:
            chain.append(ident)
            ident = parent.get(ident, "")
        rep = node["id"]
        for cluster in reversed(chain):  # outermost first
            if depth_of[cluster] >= level:
                rep = cluster
                break
        shown.add(rep)
    return len(shown)


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page(model: Model, shape_order: str = "chw") -> str:
    """The whole page as one string."""
    data = page_data(model, shape_order)
    css = (ASSETS / "page.css").read_text(encoding="utf-8")
    script = (ASSETS / "page.js").read_text(encoding="utf-8")
    title = model.name + (f" — {model.title}" if model.title else "")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{css}</style></head>\n<body>\n"
        '<header><h1 id="title"></h1><div id="facts"></div>\n'
        '<div id="tools"><input id="search" type="search" placeholder="find a layer by name"'
        ' autocomplete="off"> <span id="found"></span>'
        ' <button id="expand-all">expand all</button>'
        ' <button id="collapse-all">collapse all</button>'
        ' <button id="zoom-in">+</button><button id="zoom-out">−</button></div></header>\n'
        '<main><div id="diagram"></div><div id="table"></div></main>\n'
        '<div id="tip" hidden></div>\n'
        f'<script type="application/json" id="archspec-data">{_json_for_script(data)}</script>\n'
        f"<script>{script}</script>\n</body></html>\n"
    )


def write_page(model: Model, output: str | Path, shape_order: str = "chw") -> Path:
    path = Path(output)
    try:
        write_atomically(path, page(model, shape_order).encode("utf-8"))
    except OSError as exc:
        raise DiagramError(f"cannot write {path}: {exc.strerror}") from None
    return path
