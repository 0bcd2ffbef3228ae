"""`archspec draw`: the network's `Scene` as a Graphviz diagram.

Every scene node becomes a Graphviz node and every expanded block a cluster;
edges carry the shape of the tensor that flows along them (C×H×W as PyTorch
prints it, or the papers' H×W×C with `shape_order="hwc"`); an edge into a
node with several inputs also says which input it is. How deep to look (the
`DepthPlan`, the node budget) is the scene's business: see `archspec.scene`.

Combinators are wired the way the papers draw them: parallel branches fan out
from one node and meet in a join (concat, +, ×, mean), the residual shortcut is
its own edge, dense layers concatenate onto a running tensor, graph blocks
follow their wires and extra outputs (auxiliary heads) end in side outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from . import diagram_style as style
from .files import write_atomically
from .ir import Model, Node
from .naming import python_name
from .report import SHAPE_ORDERS
from .scene import (
    HARD_BUDGET,
    NODE_BUDGET,
    Cluster,
    DepthPlan,
    DiagramError,
    NodeKind,
    Scene,
    SceneNode,
    build,
    default_depth,
    facts,
    height,
    plan_for,
)

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "FORMATS",
    "HARD_BUDGET",
    "NODE_BUDGET",
    "DepthPlan",
    "DiagramError",
    "default_depth",
    "diagram",
    "dot_graph",
    "height",
    "plan_for",
    "render",
]

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = (
    "Graphviz's `dot` program is not on the PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz, "
    "others: https://graphviz.org/download/) or use --format dot"
)
JOIN_SIZE = {"width": "0.3", "height": "0.3", "margin": "0.02"}
ROLLED = {"penwidth": "2"}  # a box standing for several IR nodes


# ---------------------------------------------------------------- scene → DOT


def dot_graph(scene: Scene, rankdir: str = "TB", order: str = "chw") -> graphviz.Digraph:
    """`scene` as a `graphviz.Digraph`. Edges are all stated at the top level,
    after the clusters: an edge stated inside a cluster would pull its tail
    node into that cluster."""
    import graphviz

    net = scene.model
    graph = graphviz.Digraph(
        name=python_name(net.name),  # an identifier: the name itself is shown escaped
        graph_attr={**style.GRAPH_ATTRS, "rankdir": rankdir},
        node_attr=style.NODE_ATTRS,
        edge_attr=style.EDGE_ATTRS,
    )
    inside: dict[str, list[SceneNode | Cluster]] = {}
    for element in sorted((*scene.nodes, *scene.clusters), key=lambda e: e.order):
        inside.setdefault(element.parent, []).append(element)
    _fill(graph, "", inside, order)
    for edge in scene.edges:
        extra = {"weight": "0", **style.SHORTCUT_EDGE} if edge.shortcut else {}
        graph.edge(edge.tail, edge.head, label=edge.label(order), **extra)
    for group in scene.same_rank:  # Inception's branches start on one row
        with graph.subgraph() as row:
            row.attr(rank="same")
            for ident in group:
                row.node(ident)
    caption = facts(net, order)
    graph.attr(label=style.title_label(net.name, net.title, caption, scene.legend()))
    return graph


def _fill(
    g: graphviz.Digraph, parent: str, inside: dict[str, list[SceneNode | Cluster]], order: str
) -> None:
    """State `parent`'s nodes and clusters in `g`, in drawing order."""
    for element in inside.get(parent, []):
        if isinstance(element, SceneNode):
            _node(g, element, order)
            continue
        look = element.look
        with g.subgraph(name=f"cluster_{element.ident}") as sub:
            sub.attr(
                label=style.cluster_label(element.members),
                style="rounded,filled",
                fillcolor=style.tint(look.fill, 0.65),
                color=style.tint(look.fill, 0.1),
                fontsize="10",
                labeljust="l",
                tooltip=_where(element.path, element.members),
            )
            _fill(sub, element.ident, inside, order)


def _node(g: graphviz.Digraph, node: SceneNode, order: str) -> None:
    look = node.look
    label, tooltip, extra = _dot_label(node, order)
    g.node(node.ident, label, fillcolor=look.fill, shape=look.shape, tooltip=tooltip, **extra)


def _dot_label(node: SceneNode, order: str) -> tuple[str, str, dict[str, str]]:
    """A node's label, tooltip and own attributes, by its kind."""
    kind = node.kind
    if kind in (NodeKind.INPUT, NodeKind.OUTPUT):
        if node.shape is None:  # "… N more side outputs"
            return node.caption, node.caption, {}
        return style.terminal_label(node.caption, node.shape, order), node.caption, {}
    if kind is NodeKind.JOIN:
        return node.caption or style.join_label(node.op), node.op, JOIN_SIZE
    where = _where(node.path, node.members)
    if kind is NodeKind.LAYER:
        return style.layer_label(node.members[0]), where, {}  # type: ignore[arg-type]
    if kind is NodeKind.BLOCK:
        return style.node_label(node.members), where, ROLLED if node.rolled else {}
    return _stretch_label(node), where, ROLLED


def _stretch_label(node: SceneNode) -> str:
    """A run of layers (`conv 3×3, 32 ×4`) or an elided stretch (`… 40 more`)."""
    members = node.members
    params = sum(m.cost.params for m in members)
    macs = sum(m.cost.macs for m in members)
    if node.kind is NodeKind.ELIDED:
        title = f"… {len(members):,} more"
    else:
        title = f"{style.layer_title(members[0])} ×{len(members)}"  # type: ignore[arg-type]
    return style.lines_label(title, style.cost_text(params, macs))


def _where(path: tuple[str, ...], members: tuple[Node, ...]) -> str:
    """The tooltip (SVG hover): dotted path and spec line."""
    names = ".".join(path)
    if len(members) > 1:
        names += f" … {members[-1].name} (×{len(members)})"
    span = members[0].span  # the file's name only: the DOT must not depend on the checkout
    return f"{names} — {Path(span.file).name}:{span.line}" if span.line else names


# ---------------------------------------------------------------- public API


def diagram(
    net: Model, depth: int | None = None, rankdir: str = "TB", shape_order: str = "chw"
) -> graphviz.Digraph:
    """The network as a `graphviz.Digraph` (see the module docstring for `depth`);
    edges carry C×H×W shapes, or H×W×C with `shape_order="hwc"`."""
    if shape_order not in SHAPE_ORDERS:
        raise DiagramError(f"--shape-order must be chw or hwc, got `{shape_order}`")
    if rankdir not in ("TB", "LR"):
        raise DiagramError(f"--rankdir must be TB or LR, got `{rankdir}`")
    try:
        import graphviz  # noqa: F401 - the Python package builds the DOT source
    except ImportError:
        missing = "the `graphviz` Python package is missing: pip install graphviz"
        raise DiagramError(missing) from None
    return dot_graph(build(net, plan_for(net, depth)), rankdir, shape_order)


def render(
    net: Model,
    output: str | Path,
    fmt: str = "svg",
    depth: int | None = None,
    rankdir: str = "TB",
    shape_order: str = "chw",
) -> Path:
    """Write the diagram to `output` as svg, png, pdf or dot; `DiagramError`
    with a one-line message when that cannot be done."""
    if fmt not in FORMATS:
        raise DiagramError(f"unknown diagram format `{fmt}` ({', '.join(FORMATS)})")
    graph = diagram(net, depth=depth, rankdir=rankdir, shape_order=shape_order)
    data = graph.source.encode("utf-8") if fmt == "dot" else _run_dot(graph, fmt)
    path = Path(output)
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise DiagramError(f"cannot write {path}: {exc.strerror}") from None
    return path


def _run_dot(graph: graphviz.Digraph, fmt: str) -> bytes:
    import graphviz

    if shutil.which("dot") is None:
        raise DiagramError(INSTALL_HINT)
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise DiagramError(INSTALL_HINT) from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        lines = stderr.strip().splitlines()
        first = lines[0] if lines else f"exit status {exc.returncode}"
        raise DiagramError(f"Graphviz failed: {first}") from None
