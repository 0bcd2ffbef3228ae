"""`archspec draw`: the DOT is checked structurally against the IR (nodes per
depth, a cluster per expanded block, edge labels equal to the inferred shapes),
every bundled spec is rendered by the real `dot`, and the failure modes (no
Graphviz, bad depth) are one line with exit status 1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

import archspec
from archspec.diagram import NODE_BUDGET, DiagramError, default_depth, diagram, height, render
from archspec.ir import Block, Layer, Node, Shape
from archspec.network import Network

SPECS = [path.stem for path in archspec.bundled_specs()]
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
FULL = 99  # deeper than any spec: every block expanded


@cache
def load(name: str) -> Network:
    return archspec.load(name)


# ---------------------------------------------------------------- a small DOT reader

_ID = r'"(?:[^"\\]|\\.)*"|[^\s\[\]{};"]+'
_NODE = re.compile(rf"^\s*({_ID})\s*\[(.*)\]\s*$")
_EDGE = re.compile(rf"^\s*({_ID})\s*->\s*({_ID})\s*(?:\[(.*)\])?\s*$")
_CLUSTER = re.compile(rf"^\s*subgraph\s+({_ID})\s*\{{")
_LABEL = re.compile(r'(?:^|\s)label=("(?:[^"\\]|\\.)*"|<.*>|[^\s\]]+)')


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


@dataclass
class Dot:
    nodes: dict[str, str] = field(default_factory=dict)  # id → label
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # tail, head, label
    clusters: list[str] = field(default_factory=list)
    same_rank: list[list[str]] = field(default_factory=list)


def parse(source: str) -> Dot:
    """Node, edge and cluster statements of the DOT that python-graphviz writes
    (one statement per line)."""
    dot = Dot()
    rank_group: list[str] | None = None
    for line in source.splitlines():
        if line.strip().startswith(("graph [", "node [", "edge [")):
            continue
        if rank_group is not None:
            if line.strip() == "}":
                dot.same_rank.append(rank_group)
                rank_group = None
            elif "rank=same" not in line:
                rank_group.append(_unquote(line.strip()))
            continue
        if line.strip() == "{":  # an anonymous subgraph: the rank=same groups
            rank_group = []
            continue
        if match := _CLUSTER.match(line):
            dot.clusters.append(_unquote(match.group(1)))
        elif match := _EDGE.match(line):
            label = _LABEL.search(match.group(3) or "")
            text = _unquote(label.group(1)) if label else ""
            dot.edges.append((_unquote(match.group(1)), _unquote(match.group(2)), text))
        elif match := _NODE.match(line):
            label = _LABEL.search(match.group(2))
            dot.nodes[_unquote(match.group(1))] = label.group(1) if label else ""
    return dot


@cache
def drawn(name: str, depth: int | None) -> Dot:
    return parse(diagram(load(name).model, depth=depth).source)


# ---------------------------------------------------------------- what the IR says


def _expanded(node: Node, depth: int, limit: int) -> bool:
    return isinstance(node, Block) and bool(node.children) and depth < limit


def _joins(block: Block) -> int:
    """Join nodes a combinator adds: one concat / + / × / mean, or one concat
    per dense layer."""
    if block.kind == "dense":
        return len(block.children)
    return 1 if block.kind in ("concat", "mean", "residual", "scale") else 0


def expected_nodes(net: Network, limit: int) -> int:
    def visible(block: Block, depth: int) -> int:
        total = _joins(block) if depth > 0 else 0
        for child in block.children:
            if _expanded(child, depth + 1, limit):
                total += visible(child, depth + 1)  # type: ignore[arg-type]
            else:
                total += 1
        return total

    return 1 + len(net.outputs) + visible(net.root, 0)  # input, outputs, the network


def expected_clusters(net: Network, limit: int) -> set[str]:
    found = set()

    def walk(block: Block, path: tuple[str, ...], depth: int) -> None:
        for child in block.children:
            here = (*path, child.name)
            if _expanded(child, depth + 1, limit):
                found.add("cluster_" + ".".join(here))
                walk(child, here, depth + 1)  # type: ignore[arg-type]

    walk(net.root, (), 0)
    return found


def tensor_after(net: Network, ident: str) -> Shape:
    """The shape leaving a drawn node, from the IR alone."""
    if ident == "@input":
        return net.input
    if "/" not in ident:
        node = net.find(ident.split("*")[0])
        if "*" in ident:  # a rolled run leaves with its last member's output
            parent = net.find(ident.rsplit(".", 1)[0]) if "." in ident else net.root
            assert isinstance(parent, Block)
            names = [c.name for c in parent.children]
            start, count = names.index(node.name), int(ident.split("*")[1])
            if parent.kind == "dense":  # leaves with x after the whole run
                return _dense_after(parent, start + count)
            return parent.children[start + count - 1].outputs[0]
        return node.outputs[0]
    where, join = ident.split("/")
    block = net.find(where) if where else net.root
    assert isinstance(block, Block)
    if join == "add":
        return block.child("residual").outputs[0]
    if block.kind == "dense" and join != "concat":
        return _dense_after(block, int(join.removeprefix("concat")))
    return block.outputs[0]


def _dense_after(block: Block, done: int) -> Shape:
    """x after `done` dense layers: the input and their new features."""
    x = block.inputs[0]
    return Shape(x.c + sum(c.outputs[0].c for c in block.children[:done]), x.h, x.w)


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("name", SPECS)
def test_nodes_and_clusters_at_every_depth(name: str) -> None:
    net = load(name)
    for depth in range(1, height(net.model) + 1):
        dot = drawn(name, depth)
        assert len(dot.nodes) == expected_nodes(net, depth), f"depth {depth}"
        assert set(dot.clusters) == expected_clusters(net, depth), f"depth {depth}"
    # deeper than the tree changes nothing: that is the full picture
    assert drawn(name, FULL).nodes.keys() == drawn(name, height(net.model)).nodes.keys()


@pytest.mark.parametrize("name", SPECS)
def test_full_depth_draws_every_layer_with_its_label(name: str) -> None:
    from archspec.ops import REGISTRY

    net = load(name)
    dot = drawn(name, FULL)
    for layer, path in _layers(net.root):
        ident = ".".join(path)
        label = REGISTRY.ops[layer.op].label(layer.attrs.as_dict())
        assert ident in dot.nodes
        assert label.replace("&", "&amp;") in dot.nodes[ident]


def _layers(root: Block) -> list[tuple[Layer, tuple[str, ...]]]:
    from archspec.ir import layers

    return list(layers(root))


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("depth", [1, None, FULL])
def test_edge_labels_are_the_inferred_shapes(name: str, depth: int | None) -> None:
    check_edge_labels(load(name), drawn(name, depth))


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "googlenet_aux"])
def test_edge_labels_of_rolled_views_at_every_depth(name: str) -> None:
    from archspec.diagram import DepthPlan, dot_graph
    from archspec.scene import build

    net = load(name)
    for depth in range(1, height(net.model) + 1):
        source = dot_graph(build(net.model, DepthPlan(depth, roll=True))).source
        check_edge_labels(net, parse(source))


def check_edge_labels(net: Network, dot: Dot) -> None:
    """Shapes are C×H×W; an edge into a node with several inputs says which
    input it is (`in 2: 256×28×28`), other tensors are labelled once."""
    labelled: dict[str, str] = {}
    heads: dict[str, list[str]] = {}
    for tail, head, label in dot.edges:
        assert tail in dot.nodes and head in dot.nodes
        heads.setdefault(head, []).append(label)
        if label.startswith("in "):
            assert label.split(": ")[1] == str(tensor_after(net, tail)), (tail, head)
        elif label:  # a tensor that fans out is labelled once
            assert tail not in labelled, f"{tail} labelled twice"
            labelled[tail] = label
    for head, labels in heads.items():
        if len(labels) > 1:
            assert [label.split(":")[0] for label in labels] == [
                f"in {i}" for i in range(1, len(labels) + 1)
            ], head
    for tail, _head, label in dot.edges:
        if not label.startswith("in ") and tail in labelled:
            assert labelled[tail] == str(tensor_after(net, tail)), tail
    outputs = sorted(label for _t, head, label in dot.edges if head.startswith("@output"))
    assert outputs == sorted(str(s) for s in net.outputs)


def test_edge_label_examples() -> None:
    dot = drawn("googlenet", FULL)
    edges = {(t, h): label for t, h, label in dot.edges}
    assert edges[("inception_3a/concat", "inception_3b.branch1")] == "256×28×28"
    assert edges[("@input", "conv1")] == "3×224×224"
    # every input of a join says its shape and which input it is
    assert edges[("inception_3a.branch1", "inception_3a/concat")] == "in 1: 64×28×28"
    assert edges[("inception_3a.branch4.conv1", "inception_3a/concat")] == "in 4: 32×28×28"
    assert edges[("flatten1", "fc1")] == "1024"  # a vector shows just its size


def test_shape_order_hwc_gives_the_papers_order() -> None:
    dot = parse(load("googlenet").draw(FULL, shape_order="hwc").source)
    edges = {(t, h): label for t, h, label in dot.edges}
    assert edges[("@input", "conv1")] == "224×224×3"
    assert edges[("inception_3a.branch1", "inception_3a/concat")] == "in 1: 28×28×64"


def test_fused_norm_and_activation_are_drawn() -> None:
    dot = drawn("resnet18", FULL)
    assert "+bn +relu" in dot.nodes["conv1"]
    assert "+bn +relu" not in dot.nodes["conv2_x.basic1.residual.conv2"]
    assert "+bn" in dot.nodes["conv2_x.basic1.residual.conv2"]


def test_default_depth_googlenet_shows_nine_inception_modules_branches_in_one_rank() -> None:
    dot = drawn("googlenet", None)
    inceptions = [c for c in dot.clusters if c.startswith("cluster_inception_") and "." not in c]
    assert len(inceptions) == 9
    assert "<b>inception (3a)</b>" in diagram(load("googlenet").model).source
    rows = [sorted(group) for group in dot.same_rank]
    assert [
        "inception_3a.branch1",
        "inception_3a.branch2.conv1",
        "inception_3a.branch3.conv1",
        "inception_3a.branch4.maxpool1",
    ] in rows


def test_default_depth_rolls_repeated_blocks() -> None:
    net = load("resnet152")
    dot = drawn("resnet152", None)
    assert len(dot.nodes) <= NODE_BUDGET < expected_nodes(net, FULL)
    source = diagram(net.model).source
    assert "bottleneck(256, 1) ×35" in source  # conv4_x: 1 downsampling + 35 alike
    assert "cluster_conv4_x.bottleneck1" in dot.clusters  # the first one opened up
    dense = diagram(load("densenet121").model).source
    assert "dense block (1)" in dense and "k=32, ×6" in dense


@pytest.mark.parametrize("name", SPECS)
def test_default_depth_is_readable(name: str) -> None:
    net = load(name)
    assert 1 <= default_depth(net.model) <= height(net.model)
    assert len(drawn(name, None).nodes) <= max(NODE_BUDGET, expected_nodes(net, 1))


def test_residual_shortcut_is_its_own_edge() -> None:
    dot = drawn("resnet50", FULL)
    heads = {(t, h) for t, h, _ in dot.edges}
    # identity: from the previous block's output straight to the add
    assert ("conv2_x.bottleneck1.relu1", "conv2_x.bottleneck2/add") in heads
    # projection: the 1×1 conv beside the residual branch
    assert ("maxpool1", "conv2_x.bottleneck1.shortcut") in heads
    assert ("conv2_x.bottleneck1.shortcut", "conv2_x.bottleneck1/add") in heads


def test_side_heads_are_side_outputs() -> None:
    dot = drawn("googlenet_aux", None)
    assert {"@output", "@output.aux1", "@output.aux2"} <= dot.nodes.keys()
    tails = {h: t for t, h, _ in dot.edges}
    assert tails["@output.aux1"].startswith("aux1")


def test_title_and_legend() -> None:
    net = load("googlenet")
    source = diagram(net.model).source
    title = source[source.rindex("label=<<table") :]
    for text in (
        "googlenet",
        "GoogLeNet",
        "3×224×224",
        f"{net.params:,} params",
        "MACs",
        "convolution",
        "pooling",
        "#a8d5ff",
    ):
        assert text in title


def test_network_draw_and_rankdir() -> None:
    import graphviz

    graph = load("vgg_a").draw(depth=1, rankdir="LR")
    assert isinstance(graph, graphviz.Digraph)
    assert "rankdir=LR" in graph.source
    with pytest.raises(DiagramError):
        diagram(load("vgg_a").model, depth=0)


# ---------------------------------------------------------------- rendering with `dot`


# Rasterising the deepest networks at full depth costs ~1 s each; every spec
# is rendered to SVG at both depths and to PNG at the default one, and these
# cover the PNG path at full depth (a plain column, branches, a dense chain).
FULL_PNG = {"vgg_e", "googlenet_aux", "resnet50", "densenet121"}


@needs_dot
@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("depth", [None, FULL])
def test_every_spec_renders_svg_and_png(name: str, depth: int | None, tmp_path: Path) -> None:
    net = load(name)
    svg = render(net.model, tmp_path / "net.svg", fmt="svg", depth=depth).read_text(
        encoding="utf-8"
    )
    dot = drawn(name, depth)
    assert svg.count('class="node"') == len(dot.nodes)
    assert svg.count('class="cluster"') == len(dot.clusters)
    assert svg.count('class="edge"') == len(dot.edges)
    if depth is None or name in FULL_PNG:
        png = render(net.model, tmp_path / "net.png", fmt="png", depth=depth).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


@needs_dot
def test_pdf_and_repr_svg(tmp_path: Path) -> None:
    assert (
        render(load("vgg_a").model, tmp_path / "a.pdf", fmt="pdf").read_bytes().startswith(b"%PDF")
    )
    svg = load("resnet18")._repr_svg_()
    assert svg is not None and "<svg" in svg


def test_unwritable_output_is_a_diagram_error(tmp_path: Path) -> None:
    with pytest.raises(DiagramError, match="cannot write"):
        render(load("vgg_a").model, tmp_path / "missing" / "a.dot", fmt="dot")


# ---------------------------------------------------------------- the command


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "archspec", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def _without_dot(tmp_path: Path) -> dict[str, str]:
    """PATH with only a folder that holds no `dot` (python is run by full path)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    repo = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PATH": str(empty), "PYTHONPATH": repo}


def test_without_dot_only_the_dot_format_works(tmp_path: Path) -> None:
    env = _without_dot(tmp_path)
    ok = _cli("draw", "googlenet", "--format", "dot", "-o", str(tmp_path / "g.dot"), env=env)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph googlenet {")
    for fmt in ("png", "svg"):
        failed = _cli(
            "draw", "googlenet", "--format", fmt, "-o", str(tmp_path / f"g.{fmt}"), env=env
        )
        assert failed.returncode == 1
        assert "Traceback" not in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
        assert "install Graphviz" in failed.stderr and "apt-get install graphviz" in failed.stderr
        assert not (tmp_path / f"g.{fmt}").exists()


@needs_dot
def test_cli_draw_writes_the_file_named_by_format(tmp_path: Path) -> None:
    result = _cli("draw", "resnet18", "--format", "svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "resnet18.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    bad = _cli("draw", "resnet18", "--depth", "0", "-o", str(tmp_path / "x.svg"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr  # refused by the parser
    assert "--depth: must be at least 1" in bad.stderr


def test_draw_does_not_import_torch(tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    argv = ["draw", "googlenet_aux", "--format", "dot", "-o", str(out)]
    code = (
        "import sys, archspec.cli, archspec.diagram\n"
        f"assert archspec.cli.main({argv!r}) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert out.exists()
