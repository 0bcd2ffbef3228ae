"""One `Scene` for every picture: the Graphviz DOT and the HTML page are both
written from it, so they show the same nodes, of the same kinds, joined by the
same edges; and a node's kind is a typed field, never read off its id."""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import pytest

import archspec
from archspec.blocks import Dense, Residual
from archspec.diagram import diagram, dot_graph, plan_for
from archspec.html import page_data
from archspec.ir import Layer, Model, walk
from archspec.scene import FULL, DepthPlan, NodeKind, Scene, build, height

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_draw import _NODE, _unquote, parse

SPECS = ["resnet18", "googlenet_aux", "densenet121"]
TERMINALS = {NodeKind.INPUT, NodeKind.OUTPUT}


@cache
def model(name: str) -> Model:
    return archspec.load(name).model


def dot_nodes(source: str) -> dict[str, str]:
    """Each node statement's id and attribute text, as the DOT writes them."""
    found = {}
    for line in source.splitlines():
        if (match := _NODE.match(line)) and not line.strip().startswith(("graph", "node", "edge")):
            found[_unquote(match.group(1))] = match.group(2)
    return found


def scene_edges(scene: Scene) -> list[tuple[str, str, str]]:
    return [(e.tail, e.head, e.label()) for e in scene.edges]


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("depth", [2, None])
def test_the_dot_is_its_scene(name: str, depth: int | None) -> None:
    net = model(name)
    scene = build(net, plan_for(net, depth))
    source = diagram(net, depth=depth).source
    dot = parse(source)
    assert list(dot.nodes) == [node.ident for node in scene.nodes]
    assert dot.clusters == [f"cluster_{cluster.ident}" for cluster in scene.clusters]
    assert dot.edges == scene_edges(scene)
    assert dot.same_rank == [list(group) for group in scene.same_rank]
    attrs = dot_nodes(source)
    for node in scene.nodes:  # the DOT draws each kind its own way
        assert ("width=0.3" in attrs[node.ident]) == (node.kind is NodeKind.JOIN), node.ident
        assert ("shape=ellipse" in attrs[node.ident]) == (node.kind in TERMINALS), node.ident


@pytest.mark.parametrize("name", SPECS)
def test_the_page_and_the_full_diagram_show_the_same_scene(name: str) -> None:
    net = model(name)
    scene = build(net, FULL)
    data = page_data(net)
    dot = parse(diagram(net, depth=height(net)).source)
    assert [n["id"] for n in data["nodes"]] == list(dot.nodes) == [n.ident for n in scene.nodes]
    assert [c["id"] for c in data["clusters"]] == [c.ident for c in scene.clusters]
    assert dot.clusters == [f"cluster_{c['id']}" for c in data["clusters"]]
    page_edges = [(tail, head, label) for tail, head, label, _shortcut in data["edges"]]
    assert page_edges == dot.edges == scene_edges(scene)
    shortcuts = {(e.tail, e.head) for e in scene.edges if e.shortcut}
    assert {(t, h) for t, h, _label, apart in data["edges"] if apart} == shortcuts
    for entry, node in zip(data["nodes"], scene.nodes, strict=True):
        assert entry["parent"] == node.parent
        assert entry.get("join", False) == (node.kind is NodeKind.JOIN)
        assert entry.get("terminal", False) == (node.kind in TERMINALS)
        assert entry.get("ir", False) == (node.kind in (NodeKind.LAYER, NodeKind.BLOCK))


def test_a_collapsed_block_and_a_join_are_typed_by_what_they_draw() -> None:
    """Nodes are found by the IR node they stand for, never by their ids."""
    net = model("resnet18")
    shallow = build(net, DepthPlan(2, roll=False))
    at_depth_2 = [node for node, depth, _path in walk(net.root) if depth == 2]
    by_member = {id(node.members[0]): node for node in shallow.nodes if node.members}
    assert at_depth_2 and all(isinstance(block, Residual) for block in at_depth_2)
    for block in at_depth_2:  # the basic blocks, drawn shut
        node = by_member[id(block)]
        assert node.kind is NodeKind.BLOCK and not node.rolled
        assert node.look == Residual.STYLE

    deep = build(net, FULL)
    residuals = [c for c in deep.clusters if issubclass(c.kind, Residual)]
    assert residuals
    for cluster in residuals:  # each residual meets in one `add` with its shortcut apart
        (join,) = [n for n in deep.nodes if n.parent == cluster.ident and n.kind is NodeKind.JOIN]
        assert join.op == "add" and join.members == ()
        into = [e for e in deep.edges if e.head == join.ident]
        assert len(into) == 2 and [e.shortcut for e in into] == [False, True]
        assert all(e.inputs == 2 for e in into)
    layers = [n for n in deep.nodes if n.kind is NodeKind.LAYER]
    assert layers and all(isinstance(n.members[0], Layer) for n in layers)


def test_a_rolled_dense_run_is_typed_whether_open_or_shut() -> None:
    net = model("densenet121")
    shut = build(net, DepthPlan(2, roll=True))  # each dense block's layers: one box ×N
    rolled = [n for n in shut.nodes if n.rolled]
    assert len(rolled) == 4
    assert all(n.kind is NodeKind.BLOCK and len(n.members) in (6, 12, 24, 16) for n in rolled)

    opened = build(net, plan_for(net, None))  # the run opened: one layer and its concat
    runs = [c for c in opened.clusters if len(c.members) > 1]
    assert [len(c.members) for c in runs] == [6, 12, 24, 16]
    for cluster in runs:
        assert issubclass(cluster.kind, Dense)
        (join,) = [n for n in opened.nodes if n.parent == cluster.ident and n.kind is NodeKind.JOIN]
        assert join.op == "concat"
        assert len([e for e in opened.edges if e.head == join.ident]) == 2


def test_the_dot_is_written_from_the_scene_alone() -> None:
    net = model("googlenet_aux")
    scene = build(net, plan_for(net, None))
    assert dot_graph(scene).source == diagram(net).source
    assert dot_graph(scene, "LR", "hwc").source == diagram(net, None, "LR", "hwc").source
    assert re.search(r"rankdir=LR", dot_graph(scene, "LR").source)
