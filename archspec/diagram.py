"""`archspec draw`: the IR as a Graphviz diagram.

Every IR node becomes a Graphviz node or, when expanded, a cluster; edges carry
the shape of the tensor that flows along them (C×H×W as PyTorch prints it, or
the papers' H×W×C with `shape_order="hwc"`); an edge into a node with several
inputs also says which input it is.
How deep to look is a `Plan`:

* an explicit depth N shows every node down to depth N (top-level rows are
  depth 1); blocks at depth N are drawn as one node with their params and MACs.
* the default depth rolls each run of identical consecutive blocks (same
  block, notation and shapes: ResNet's `bottleneck(128, 1)` ×3, DenseNet's
  dense layers) into one item marked ×N, then picks the deepest depth whose
  picture stays within `NODE_BUDGET` nodes. That shows GoogLeNet's inception
  branches, one of each distinct ResNet block opened up and ResNet-152 as
  ~50 nodes, not 500.

Combinators are wired the way the papers draw them: parallel branches fan out
from one node and meet in a join (concat, +, ×, mean), the residual shortcut is
its own edge, dense layers concatenate onto a running tensor, graph blocks
follow their wires and extra outputs (auxiliary heads) end in side outputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import diagram_style as style
from .blocks import Dense, Endpoint, Graph, Kind, Seq
from .errors import ToolError
from .files import write_atomically
from .ir import Block, Layer, Model, Node, walk
from .naming import python_name
from .numbers import human
from .report import SHAPE_ORDERS

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf", "dot")
NODE_BUDGET = 120
# Past this many nodes, even a depth the user asked for is folded (identical
# layers rolled, long chains elided in the middle, at worst the network drawn
# as one box): Graphviz runs out of memory on a 20,000-node picture, and a
# valid spec must always draw.
HARD_BUDGET = 5_000
KEEP_AT_ENDS = 20  # items kept before and after an elided stretch
MAX_SIDE_OUTPUTS = 20
INSTALL_HINT = (
    "Graphviz's `dot` program is not on the PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz, "
    "others: https://graphviz.org/download/) or use --format dot"
)


class DiagramError(ToolError):
    """A diagram could not be made (no Graphviz, bad depth, unwritable file)."""


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Plan:
    """Blocks shallower than `depth` are expanded (depth 0: the network is
    one box); `roll` folds runs of identical blocks into one item,
    `roll_layers` runs of identical layers too, and `elide` keeps only the
    ends of a chain longer than 2 × KEEP_AT_ENDS items."""

    depth: int
    roll: bool
    roll_layers: bool = False
    elide: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """One thing drawn among a block's children: a node, or a run of identical
    sibling blocks drawn once (the first of them) and marked ×N."""

    members: tuple[Node, ...]
    path: tuple[str, ...]
    depth: int
    elided: bool = False  # a stretch left out to fit: drawn as one "…" box

    @property
    def node(self) -> Node:
        return self.members[0]

    @property
    def rolled(self) -> bool:
        return len(self.members) > 1

    @property
    def ident(self) -> str:
        dotted = ".".join(self.path)
        return f"{dotted}*{len(self.members)}" if self.rolled else dotted


def _signature(node: Node, grows: bool, layers_too: bool) -> tuple[Any, ...] | None:
    """What makes nodes interchangeable in a picture. In a dense block every
    layer sees a wider input by design, so the input is left out there."""
    inputs = () if grows else node.inputs
    if isinstance(node, Layer):
        # layers are what the reader came to see: rolled only when too many
        return (node.op, node.notation, inputs, node.outputs) if layers_too else None
    return (node.block, type(node), node.notation, inputs, node.outputs)


def items(block: Block, path: tuple[str, ...], depth: int, plan: Plan) -> list[Item]:
    """The children of an expanded `block` as drawable items."""
    rollable = plan.roll and isinstance(block, Seq | Dense | Graph)
    grows = isinstance(block, Dense)
    chained = block.chained() if isinstance(block, Graph) else None
    runs: list[list[Node]] = []
    for child in block.children:
        key = _signature(child, grows, plan.roll_layers) if rollable else None
        joins = chained is None or child.name in chained
        last = _signature(runs[-1][0], grows, plan.roll_layers) if runs else None
        if runs and joins and key is not None and key == last:
            runs[-1].append(child)
        else:
            runs.append([child])
    found = [Item(tuple(run), (*path, run[0].name), depth + 1) for run in runs]
    if plan.elide and isinstance(block, Seq | Dense) and len(found) > 2 * KEEP_AT_ENDS:
        middle = found[KEEP_AT_ENDS:-KEEP_AT_ENDS]
        members = tuple(m for item in middle for m in item.members)
        stretch = Item(members, (*path, members[0].name), depth + 1, elided=True)
        found = [*found[:KEEP_AT_ENDS], stretch, *found[-KEEP_AT_ENDS:]]
    return found


def expanded(item: Item, plan: Plan) -> bool:
    node = item.node
    return (
        not item.elided
        and isinstance(node, Block)
        and bool(node.children)
        and item.depth < plan.depth
    )


def height(net: Model) -> int:
    """The depth of the deepest node (top-level rows are depth 1)."""
    return max(depth for _node, depth, _path in walk(net.root))


def default_depth(net: Model) -> int:
    """The deepest rolled view that stays within `NODE_BUDGET` nodes."""
    best = 1
    for depth in range(1, height(net) + 1):
        if _count(net, Plan(depth, roll=True), NODE_BUDGET) > NODE_BUDGET:
            break
        best = depth
    return best


class _OverBudget(Exception):
    """Raised inside a trial drawing once it has more nodes than asked for."""


def _count(net: Model, plan: Plan, limit: int = HARD_BUDGET) -> int:
    """Nodes `plan` draws, or `limit + 1` as soon as it is known to be more."""
    try:
        return _Drawer(net, plan, "TB", limit).draw().count
    except _OverBudget:
        return limit + 1


def plan_for(net: Model, depth: int | None) -> Plan:
    if depth is None:
        return _fitted(net, Plan(default_depth(net), roll=True), NODE_BUDGET)
    if depth < 1:
        raise DiagramError(f"--depth must be at least 1 (1 = top-level rows only), got {depth}")
    return _fitted(net, Plan(depth, roll=False), HARD_BUDGET)


def _fitted(net: Model, plan: Plan, budget: int) -> Plan:
    """`plan`, or the first fold of it that fits `budget` nodes: identical
    layers rolled, then long chains elided, then the network as one box."""
    for candidate in (
        plan,
        Plan(plan.depth, roll=True, roll_layers=True),
        Plan(plan.depth, roll=True, roll_layers=True, elide=True),
    ):
        if _count(net, candidate, budget) <= budget:
            return candidate
    return Plan(0, roll=True)


# ---------------------------------------------------------------- drawing


class _Drawer:
    """Walks the IR under a plan, adding nodes, clusters and labelled edges.
    Each block kind wires its own children (`Kind.draw`) with this drawer as
    its `Pen`."""

    def __init__(
        self, net: Model, plan: Plan, rankdir: str, limit: int | None = None, order: str = "chw"
    ) -> None:
        import graphviz

        self.net = net
        self.plan = plan
        self.limit = limit
        self.order = order
        self.graph = graphviz.Digraph(
            name=python_name(net.name),  # an identifier: the name itself is shown escaped
            graph_attr={**style.GRAPH_ATTRS, "rankdir": rankdir},
            node_attr=style.NODE_ATTRS,
            edge_attr=style.EDGE_ATTRS,
        )
        self.legend: dict[str, str] = {}
        self.labelled: set[str] = set()
        self.pending: list[tuple[str, str, dict[str, str]]] = []
        self.created: list[str] = []  # node ids in drawing order
        self.same_rank: list[list[str]] = []  # first nodes of parallel branches

    @property
    def count(self) -> int:
        return len(self.created)

    # --- primitives
    def node(
        self,
        g: graphviz.Digraph,
        ident: str,
        label: str,
        look: style.Style,
        tooltip: str,
        **attrs: str,
    ) -> None:
        self.legend.setdefault(look.family, look.fill)
        self.created.append(ident)
        if self.limit is not None and len(self.created) > self.limit:
            raise _OverBudget
        g.node(ident, label, fillcolor=look.fill, shape=look.shape, tooltip=tooltip, **attrs)

    def edges(
        self, sources: list[Endpoint], head: str, first: int = 0, count: int = 0, **attrs: str
    ) -> None:
        # A tensor fanning out to several consumers is labelled once, on its
        # first edge: four identical labels around an Inception module are noise.
        # An edge into a node with several inputs always says its shape and
        # which input it is (`in 2: 256×28×28`).
        # Edges are all stated at the top level, after the clusters: an edge
        # stated inside a cluster would pull its tail node into that cluster.
        count = count or len(sources)
        for index, (tail, shape) in enumerate(sources, start=first):
            if count > 1:
                label = style.input_edge_label(shape, index, count, self.order)
            else:
                label = "" if tail in self.labelled else style.shape_text(shape, self.order)
            self.labelled.add(tail)
            self.pending.append((tail, head, {"label": label, **attrs}))

    def join(
        self,
        g: graphviz.Digraph,
        ident: str,
        op_name: str,
        sources: list[Endpoint],
        shortcut: Endpoint | None = None,
        caption: str = "",
    ) -> str:
        """A combinator's join node; the shortcut edge is drawn apart (colour,
        no pull on the layout) so the main path stays a straight column."""
        look = style.op_style(op_name)
        label = caption or style.join_label(op_name)
        self.node(g, ident, label, look, op_name, width="0.3", height="0.3", margin="0.02")
        count = len(sources) + (shortcut is not None)
        self.edges(sources, ident, count=count)
        if shortcut is not None:
            self.edges([shortcut], ident, len(sources), count, weight="0", **style.SHORTCUT_EDGE)
        return ident

    # --- the walk
    def draw(self) -> _Drawer:
        net = self.net
        self.node(
            self.graph,
            "@input",
            style.terminal_label("input", net.input, self.order),
            style.TERMINAL,
            "input",
        )
        start: list[Endpoint] = [("@input", net.input)]
        if self.plan.depth == 0:  # nothing else fits: the network as one box
            box = self.collapsed(Item((net.root,), ("network",), 0), self.graph, start)[0]
            ends = [(box, shape) for shape in net.root.outputs]
        else:
            ends = self.body(net.root, (), 0, start, self.graph)
        self.outputs(ends)
        for tail, head, attrs in self.pending:
            self.graph.edge(tail, head, **attrs)
        for group in self.same_rank:  # Inception's branches start on one row
            with self.graph.subgraph() as row:
                row.attr(rank="same")
                for ident in group:
                    row.node(ident)
        facts = self.facts()
        self.graph.attr(label=style.title_label(net.name, net.title, facts, self.legend))
        return self

    def facts(self) -> str:
        net = self.net
        outs = ", ".join(style.shape_text(s, self.order) for s in net.outputs[:MAX_SIDE_OUTPUTS])
        if len(net.outputs) > MAX_SIDE_OUTPUTS:
            outs += f", … ({len(net.outputs):,} in all)"
        noun = "outputs" if len(net.outputs) > 1 else "output"
        return (
            f"input {style.shape_text(net.input, self.order)} → {noun} {outs} · "
            f"{net.params:,} params · {human(net.macs)} MACs"
        )

    def outputs(self, ends: list[Endpoint]) -> None:
        root = self.net.root
        names = root.output_names if isinstance(root, Graph) else ("output",)
        if len(ends) > MAX_SIDE_OUTPUTS + 1:
            hidden = len(ends) - MAX_SIDE_OUTPUTS - 1
            caption = f"… {hidden:,} more side outputs"
            self.node(self.graph, "@output.more", caption, style.TERMINAL, caption)
            ends = ends[: MAX_SIDE_OUTPUTS + 1]
        for index, end in enumerate(ends):
            caption = "output" if index == 0 else f"side output: {names[index]}"
            ident = "@output" if index == 0 else f"@output.{names[index]}"
            self.node(
                self.graph,
                ident,
                style.terminal_label(caption, end[1], self.order),
                style.TERMINAL,
                caption,
            )
            self.edges([end], ident)

    def item(self, item: Item, g: graphviz.Digraph, sources: list[Endpoint]) -> list[Endpoint]:
        node = item.node
        if item.elided or (isinstance(node, Layer) and item.rolled):
            return [self.stretch(item, g, sources)]
        if isinstance(node, Layer):
            return [self.layer(node, item, g, sources)]
        if not expanded(item, self.plan):
            return [self.collapsed(item, g, sources)]
        with self.cluster(g, item) as sub:
            ends = self.body(node, item.path, item.depth, sources, sub)
        if item.rolled:  # the run leaves with its last member's output
            return [(ends[0][0], item.members[-1].outputs[0])]
        return ends

    @contextmanager
    def cluster(
        self, g: graphviz.Digraph, item: Item, kind: type[Block] | None = None
    ) -> Iterator[graphviz.Digraph]:
        """An expanded block (or rolled run) as a cluster tinted by its kind
        (default: the item's own)."""
        look = style.block_style(kind or type(item.node))
        with g.subgraph(name=f"cluster_{item.ident}") as sub:
            sub.attr(
                label=style.cluster_label(item.members),
                style="rounded,filled",
                fillcolor=style.tint(look.fill, 0.65),
                color=style.tint(look.fill, 0.1),
                fontsize="10",
                labeljust="l",
                tooltip=_where(item),
            )
            yield sub

    def layer(
        self, layer: Layer, item: Item, g: graphviz.Digraph, sources: list[Endpoint]
    ) -> Endpoint:
        ident = item.ident
        self.node(g, ident, style.layer_label(layer), style.op_style(layer.op), _where(item))
        self.edges(sources, ident)
        return (ident, layer.output)

    def collapsed(self, item: Item, g: graphviz.Digraph, sources: list[Endpoint]) -> Endpoint:
        node = item.node
        if item.elided or isinstance(node, Layer):
            return self.stretch(item, g, sources)
        look = style.block_style(type(node))
        extra = {"penwidth": "2"} if item.rolled else {}
        self.node(g, item.ident, style.node_label(item.members), look, _where(item), **extra)
        self.edges(sources, item.ident)
        return (item.ident, item.members[-1].outputs[0])

    def stretch(self, item: Item, g: graphviz.Digraph, sources: list[Endpoint]) -> Endpoint:
        """A run of layers or an elided stretch, drawn as one box."""
        params = sum(m.cost.params for m in item.members)
        macs = sum(m.cost.macs for m in item.members)
        title = (
            f"… {len(item.members):,} more"
            if item.elided
            else f"{style.layer_title(item.node)} ×{len(item.members)}"
        )
        label = style.lines_label(title, style.cost_text(params, macs))
        look = style.ELIDED if item.elided else style.op_style(item.node.op)  # type: ignore[union-attr]
        self.node(g, item.ident, label, look, _where(item), penwidth="2")
        self.edges(sources, item.ident)
        return (item.ident, item.members[-1].outputs[0])

    def body(
        self,
        block: Block,
        path: tuple[str, ...],
        depth: int,
        sources: list[Endpoint],
        g: graphviz.Digraph,
    ) -> list[Endpoint]:
        """Draw an expanded block's children into `g`; its output endpoints."""
        if not isinstance(block, Kind):
            raise DiagramError(f"cannot draw a block of type {type(block).__name__}")
        return block.draw(self, path, depth, sources, g)

    # --- what block kinds draw with (the `Pen` protocol of archspec/blocks)
    def items(self, block: Block, path: tuple[str, ...], depth: int) -> list[Item]:
        return items(block, path, depth, self.plan)

    def side_by_side(
        self, members: list[Item], g: graphviz.Digraph, sources: list[Endpoint]
    ) -> list[Endpoint]:
        # Branches drawn in order from the same source: Graphviz puts them
        # side by side, as Inception's figure does.
        outs, heads = [], []
        for item in members:
            first = len(self.created)
            outs.append(self.item(item, g, sources)[0])
            heads.append(self.created[first])
        self.same_rank.append(heads)
        return outs

    def expanded(self, item: Item) -> bool:
        return expanded(item, self.plan)

    def representative(self, item: Item, g: graphviz.Digraph, source: Endpoint) -> Endpoint:
        """The first member of a rolled run (always a block), drawn inside the
        run's cluster."""
        node = item.node
        assert isinstance(node, Block)
        return self.body(node, item.path, item.depth, [source], g)[0]


def _where(item: Item) -> str:
    """The tooltip (SVG hover): dotted path and spec line."""
    names = ".".join(item.path)
    if item.rolled:
        names += f" … {item.members[-1].name} (×{len(item.members)})"
    span = item.node.span  # the file's name only: the DOT must not depend on the checkout
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
    return _Drawer(net, plan_for(net, depth), rankdir, order=shape_order).draw().graph


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
