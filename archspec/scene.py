"""What a picture of the network shows, before any format: the `Scene`.

A scene is plain typed data: the nodes drawn (each with its `NodeKind`: a
layer, a collapsed block, a run of identical layers, a stretch left out to
fit, a combinator's join, the input and the outputs), the clusters of the
expanded blocks they sit in, and the edges between them with the tensor each
carries. It is built once, by walking the IR under a `DepthPlan` with each block
kind wiring its own children (`Kind.draw`, given this module's builder as its
`Pen`); the Graphviz diagram (`diagram.py`) and the interactive page
(`html.py`) are two serialisations of the same scene.

How deep to look is a `DepthPlan`:

* an explicit depth N shows every node down to depth N (top-level rows are
  depth 1); blocks at depth N are drawn as one node with their params and MACs.
* the default depth rolls each run of identical consecutive blocks (same
  block, notation and shapes: ResNet's `bottleneck(128, 1)` ×3, DenseNet's
  dense layers) into one item marked ×N, then picks the deepest depth whose
  picture stays within `NODE_BUDGET` nodes. That shows GoogLeNet's inception
  branches, one of each distinct ResNet block opened up and ResNet-152 as
  ~50 nodes, not 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import diagram_style as style
from .blocks import Dense, Endpoint, Graph, Kind, Seq
from .errors import ToolError
from .ir import Block, Layer, Model, Node, Shape, walk
from .numbers import human
from .ops import Style

NODE_BUDGET = 120
# Past this many nodes, even a depth the user asked for is folded (identical
# layers rolled, long chains elided in the middle, at worst the network drawn
# as one box): Graphviz runs out of memory on a 20,000-node picture, and a
# valid spec must always draw.
HARD_BUDGET = 5_000
KEEP_AT_ENDS = 20  # items kept before and after an elided stretch
MAX_SIDE_OUTPUTS = 20


class DiagramError(ToolError):
    """A diagram could not be made (no Graphviz, bad depth, unwritable file)."""


# ---------------------------------------------------------------- the scene


class NodeKind(Enum):
    INPUT = "input"
    OUTPUT = "output"  # the main output, a side output, or "… N more" of them
    LAYER = "layer"
    BLOCK = "block"  # a collapsed block, or a run of identical ones marked ×N
    LAYER_RUN = "layer run"  # a run of identical layers marked ×N
    ELIDED = "elided"  # a stretch of a long chain left out to fit
    JOIN = "join"  # where a combinator's branches meet (concat, +, ×, mean)


@dataclass(frozen=True, slots=True)
class SceneNode:
    """One node of the picture. `parent` is the id of the cluster it sits in
    ("" at the top); `order` its place in drawing order among all nodes and
    clusters. `members` are the IR nodes it stands for (several for a rolled
    run; none for a join or a terminal), `path` the first one's names from
    the root; `op` is a join's op, `caption` a join's own caption (`×0.17 +`)
    or a terminal's, `shape` a terminal's tensor."""

    ident: str
    kind: NodeKind
    parent: str
    order: int
    look: Style
    members: tuple[Node, ...] = ()
    path: tuple[str, ...] = ()
    op: str = ""
    caption: str = ""
    shape: Shape | None = None

    @property
    def rolled(self) -> bool:
        return len(self.members) > 1


@dataclass(frozen=True, slots=True)
class Cluster:
    """An expanded block (or a rolled run of blocks, drawn by its first
    member) holding the nodes and clusters whose `parent` it is; tinted as
    the block kind `kind`."""

    ident: str
    parent: str
    order: int
    kind: type[Block]
    members: tuple[Node, ...]
    path: tuple[str, ...]

    @property
    def look(self) -> Style:
        return style.block_style(self.kind)


@dataclass(frozen=True, slots=True)
class Edge:
    """A tensor of `shape` flowing from `tail` to `head`, the head's input
    `index` of `inputs`. A tensor fanning out to several consumers is shown
    once (`first`: this is its first edge); `shortcut` marks a residual's
    shortcut, drawn apart from the main path."""

    tail: str
    head: str
    shape: Shape
    index: int = 0
    inputs: int = 1
    first: bool = True
    shortcut: bool = False

    def label(self, order: str = "chw") -> str:
        """`in 2: 256×28×28` into a node with several inputs; the shape on a
        tensor's first edge; nothing on the others."""
        if self.inputs > 1:
            return style.input_edge_label(self.shape, self.index, self.inputs, order)
        return style.shape_text(self.shape, order) if self.first else ""


@dataclass(frozen=True, slots=True)
class Scene:
    """The whole picture; `same_rank` are groups of nodes that start
    parallel branches, drawn on one row (Inception's)."""

    model: Model
    nodes: tuple[SceneNode, ...]
    clusters: tuple[Cluster, ...]
    edges: tuple[Edge, ...]
    same_rank: tuple[tuple[str, ...], ...]

    def legend(self) -> dict[str, str]:
        """Each colour family drawn, in order of first appearance, with its fill."""
        legend: dict[str, str] = {}
        for node in self.nodes:
            legend.setdefault(node.look.family, node.look.fill)
        return legend


def facts(model: Model, order: str = "chw") -> str:
    """The picture's caption: input → outputs · params · MACs."""
    outs = ", ".join(style.shape_text(s, order) for s in model.outputs[:MAX_SIDE_OUTPUTS])
    if len(model.outputs) > MAX_SIDE_OUTPUTS:
        outs += f", … ({len(model.outputs):,} in all)"
    noun = "outputs" if len(model.outputs) > 1 else "output"
    return (
        f"input {style.shape_text(model.input, order)} → {noun} {outs} · "
        f"{model.params:,} params · {human(model.macs)} MACs"
    )


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class DepthPlan:
    """Blocks shallower than `depth` are expanded (depth 0: the network is
    one box); `roll` folds runs of identical blocks into one item,
    `roll_layers` runs of identical layers too, and `elide` keeps only the
    ends of a chain longer than 2 × KEEP_AT_ENDS items."""

    depth: int
    roll: bool
    roll_layers: bool = False
    elide: bool = False


FULL = DepthPlan(depth=10**6, roll=False)  # every node, nothing rolled


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


def items(block: Block, path: tuple[str, ...], depth: int, plan: DepthPlan) -> list[Item]:
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


def expanded(item: Item, plan: DepthPlan) -> bool:
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
        if _count(net, DepthPlan(depth, roll=True), NODE_BUDGET) > NODE_BUDGET:
            break
        best = depth
    return best


class _OverBudget(Exception):
    """Raised inside a trial drawing once it has more nodes than asked for."""


def _count(net: Model, plan: DepthPlan, limit: int = HARD_BUDGET) -> int:
    """Nodes `plan` draws, or `limit + 1` as soon as it is known to be more."""
    try:
        return len(build(net, plan, limit).nodes)
    except _OverBudget:
        return limit + 1


def plan_for(net: Model, depth: int | None) -> DepthPlan:
    if depth is None:
        return _fitted(net, DepthPlan(default_depth(net), roll=True), NODE_BUDGET)
    if depth < 1:
        raise DiagramError(f"--depth must be at least 1 (1 = top-level rows only), got {depth}")
    return _fitted(net, DepthPlan(depth, roll=False), HARD_BUDGET)


def _fitted(net: Model, plan: DepthPlan, budget: int) -> DepthPlan:
    """`plan`, or the first fold of it that fits `budget` nodes: identical
    layers rolled, then long chains elided, then the network as one box."""
    for candidate in (
        plan,
        DepthPlan(plan.depth, roll=True, roll_layers=True),
        DepthPlan(plan.depth, roll=True, roll_layers=True, elide=True),
    ):
        if _count(net, candidate, budget) <= budget:
            return candidate
    return DepthPlan(0, roll=True)


# ---------------------------------------------------------------- building


def build(net: Model, plan: DepthPlan, limit: int | None = None) -> Scene:
    """The scene of `net` under `plan`; `_OverBudget` past `limit` nodes."""
    return _Builder(net, plan, limit).draw()


@dataclass
class _Builder:
    """Walks the IR under a plan, adding nodes, clusters and edges. Each block
    kind wires its own children (`Kind.draw`) with this builder as its `Pen`;
    the `g` a kind passes around is the id of the cluster being drawn into
    ("" at the top)."""

    net: Model
    plan: DepthPlan
    limit: int | None = None
    nodes: list[SceneNode] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    same_rank: list[tuple[str, ...]] = field(default_factory=list)
    labelled: set[str] = field(default_factory=set)

    def _add(self, g: str, ident: str, kind: NodeKind, look: Style, **fields: Any) -> None:
        order = len(self.nodes) + len(self.clusters)
        self.nodes.append(SceneNode(ident, kind, g, order, look, **fields))
        if self.limit is not None and len(self.nodes) > self.limit:
            raise _OverBudget

    def connect(
        self, sources: list[Endpoint], head: str, first: int = 0, count: int = 0, **flags: bool
    ) -> None:
        # A tensor fanning out to several consumers is labelled once, on its
        # first edge: four identical labels around an Inception module are noise.
        count = count or len(sources)
        for index, (tail, shape) in enumerate(sources, start=first):
            edge = Edge(tail, head, shape, index, count, tail not in self.labelled, **flags)
            self.labelled.add(tail)
            self.edges.append(edge)

    def draw(self) -> Scene:
        net = self.net
        self._add("", "@input", NodeKind.INPUT, style.TERMINAL, caption="input", shape=net.input)
        start: list[Endpoint] = [("@input", net.input)]
        if self.plan.depth == 0:  # nothing else fits: the network as one box
            box = self.collapsed(Item((net.root,), ("network",), 0), "", start)[0]
            ends = [(box, shape) for shape in net.root.outputs]
        else:
            ends = self.body(net.root, (), 0, start, "")
        self.outputs(ends)
        return Scene(
            net, tuple(self.nodes), tuple(self.clusters), tuple(self.edges), tuple(self.same_rank)
        )

    def outputs(self, ends: list[Endpoint]) -> None:
        root = self.net.root
        names = root.output_names if isinstance(root, Graph) else ("output",)
        if len(ends) > MAX_SIDE_OUTPUTS + 1:
            hidden = len(ends) - MAX_SIDE_OUTPUTS - 1
            caption = f"… {hidden:,} more side outputs"
            self._add("", "@output.more", NodeKind.OUTPUT, style.TERMINAL, caption=caption)
            ends = ends[: MAX_SIDE_OUTPUTS + 1]
        for index, end in enumerate(ends):
            caption = "output" if index == 0 else f"side output: {names[index]}"
            ident = "@output" if index == 0 else f"@output.{names[index]}"
            terminal = {"caption": caption, "shape": end[1]}
            self._add("", ident, NodeKind.OUTPUT, style.TERMINAL, **terminal)
            self.connect([end], ident)

    def layer(self, layer: Layer, item: Item, g: str, sources: list[Endpoint]) -> Endpoint:
        look = style.op_style(layer.op)
        self._add(g, item.ident, NodeKind.LAYER, look, members=item.members, path=item.path)
        self.connect(sources, item.ident)
        return (item.ident, layer.output)

    def stretch(self, item: Item, g: str, sources: list[Endpoint]) -> Endpoint:
        """A run of layers or an elided stretch, drawn as one box."""
        if item.elided:
            kind, look = NodeKind.ELIDED, style.ELIDED
        else:
            kind, look = NodeKind.LAYER_RUN, style.op_style(item.node.op)  # type: ignore[union-attr]
        self._add(g, item.ident, kind, look, members=item.members, path=item.path)
        self.connect(sources, item.ident)
        return (item.ident, item.members[-1].outputs[0])

    def body(
        self, block: Block, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: str
    ) -> list[Endpoint]:
        """Draw an expanded block's children into `g`; its output endpoints."""
        if not isinstance(block, Kind):
            raise DiagramError(f"cannot draw a block of type {type(block).__name__}")
        return block.draw(self, path, depth, sources, g)

    # --- what block kinds draw with (the `Pen` protocol of archspec/blocks)
    def items(self, block: Block, path: tuple[str, ...], depth: int) -> list[Item]:
        return items(block, path, depth, self.plan)

    def item(self, item: Item, g: str, sources: list[Endpoint]) -> list[Endpoint]:
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

    def side_by_side(self, members: list[Item], g: str, sources: list[Endpoint]) -> list[Endpoint]:
        # Branches drawn in order from the same source, their first nodes on
        # one row, as Inception's figure does.
        outs, heads = [], []
        for item in members:
            first = len(self.nodes)
            outs.append(self.item(item, g, sources)[0])
            heads.append(self.nodes[first].ident)
        self.same_rank.append(tuple(heads))
        return outs

    def join(
        self,
        g: str,
        ident: str,
        op_name: str,
        sources: list[Endpoint],
        shortcut: Endpoint | None = None,
        caption: str = "",
    ) -> str:
        """A combinator's join node; the shortcut edge is marked apart so the
        main path stays a straight column."""
        look = style.op_style(op_name)
        self._add(g, ident, NodeKind.JOIN, look, op=op_name, caption=caption)
        count = len(sources) + (shortcut is not None)
        self.connect(sources, ident, count=count)
        if shortcut is not None:
            self.connect([shortcut], ident, len(sources), count, shortcut=True)
        return ident

    def expanded(self, item: Item) -> bool:
        return expanded(item, self.plan)

    def collapsed(self, item: Item, g: str, sources: list[Endpoint]) -> Endpoint:
        node = item.node
        if item.elided or isinstance(node, Layer):
            return self.stretch(item, g, sources)
        look = style.block_style(type(node))
        self._add(g, item.ident, NodeKind.BLOCK, look, members=item.members, path=item.path)
        self.connect(sources, item.ident)
        return (item.ident, item.members[-1].outputs[0])

    @contextmanager
    def cluster(self, g: str, item: Item, kind: type[Block] | None = None) -> Iterator[str]:
        """An expanded block (or rolled run) as a cluster tinted by its kind
        (default: the item's own)."""
        order = len(self.nodes) + len(self.clusters)
        tint = kind or type(item.node)
        self.clusters.append(Cluster(item.ident, g, order, tint, item.members, item.path))
        yield item.ident

    def representative(self, item: Item, g: str, source: Endpoint) -> Endpoint:
        """The first member of a rolled run (always a block), drawn inside the
        run's cluster."""
        node = item.node
        assert isinstance(node, Block)
        return self.body(node, item.path, item.depth, [source], g)[0]
