"""The importers' common graph, its costs, and the fusion of norm and activation layers.

Both importers (Caffe prototxt, PyTorch via torch.fx) build the same small DAG,
`LayerGraph`, of archspec ops with Caffe's or torch's own shapes. `graph_costs`
counts it by the op registry's rules, the ones the written spec is later
counted by; `fuse` then folds conv → BN → activation chains (and BN → act →
conv, pre-activation) into one `conv` with `bn`/`act` options, and FC → act
into one `FC`, as a person transcribing the network would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ArchSpecError, Span, SpecValueError
from ..ir import Shape
from ..ops import ACTIVATIONS, REGISTRY, Geometry

INPUT = "input"  # the op of the graph's input node, the one node that is no layer
# Activations that become the `act=` option of the layer before them. Softmax
# stays a layer of its own: it normalises across channels and ends a classifier.
FUSED_ACTS = frozenset(ACTIVATIONS) - {"softmax"}


class ImportError_(ArchSpecError):  # not the builtin ImportError
    """A source the importer cannot translate (unsupported layer, bad wiring)."""


class Unstructured(Exception):
    """The graph is not series-parallel here; carries a message for the user."""


def configured(op: str, values: dict[str, Any], span: Span | None = None,
               name: str = "") -> dict[str, Any]:  # fmt: skip
    """The attributes of a layer whose source says `values` (spec options:
    `pad`, `round`, …), configured by its op, so that the op's `spell` writes
    it back; the graph's own nodes (`input`, Caffe's pending `bn_stats`) keep
    theirs as given."""
    if op not in REGISTRY.ops:
        return dict(values)
    try:
        return REGISTRY.ops[op].configure(Geometry(), values)
    except SpecValueError as exc:
        raise SpecValueError(f"`{name}`: {exc.message}" if name else exc.message, span) from None


@dataclass
class GNode:
    """One layer of the imported graph: an archspec op with its configured attributes.

    `shape` is the output as the *source* computes it (C×H×W or C), so the
    spec written later can be checked against it; `hint` is a class name that
    names blocks (torch's `Bottleneck`), empty for Caffe."""

    id: int
    name: str
    op: str
    attrs: dict[str, Any]
    inputs: list[int]
    shape: tuple[int, ...]
    span: Span | None = None
    hint: str = ""


@dataclass
class LayerGraph:
    name: str
    input_shape: tuple[int, ...]
    nodes: dict[int, GNode] = field(default_factory=dict)
    title: str = ""
    names_help: bool = True  # name plain layers after the source (Caffe: yes)

    def add(self, name: str, op: str, attrs: dict[str, Any], inputs: list[int], shape,
            span: Span | None = None, hint: str = "") -> int:  # fmt: skip
        """A node for the layer whose source gives the option values `attrs`."""
        nid = len(self.nodes) and max(self.nodes) + 1
        attrs = configured(op, attrs, span, name)
        self.nodes[nid] = GNode(nid, name, op, attrs, list(inputs), tuple(shape), span, hint)
        return nid

    def consumers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n: [] for n in self.nodes}
        for node in self.nodes.values():
            for i in node.inputs:
                if node.id not in out[i]:
                    out[i].append(node.id)
        return out

    def sinks(self) -> list[int]:
        """The nodes no other node reads: the network's outputs."""
        return [n for n, users in self.consumers().items() if not users]


# ---------------------------------------------------------------- costs


def graph_costs(graph: LayerGraph) -> tuple[int, int]:
    """(params, MACs) of the graph before any fusion, each layer counted by its
    op's own rules in the registry: one cost rule per op, here and in the spec."""
    params = macs = 0
    for node in graph.nodes.values():
        if node.op == INPUT:
            continue
        p, m = _node_cost(graph, node)
        params, macs = params + p, macs + m
    return params, macs


def _node_cost(graph: LayerGraph, node: GNode) -> tuple[int, int]:
    op = REGISTRY.ops[node.op]
    # An FC reads its input flattened, as the spec's implicit flatten before it does.
    flat = op.name == "fc"
    inputs = [_shape(graph.nodes[i].shape, flat) for i in node.inputs]
    out = _shape(node.shape, False)
    return op.params(node.attrs, inputs, out), op.macs(node.attrs, inputs, out)


def _shape(dims: tuple[int, ...], flat: bool) -> Shape:
    shape = Shape(*dims)
    return Shape(shape.numel) if flat else shape


# ---------------------------------------------------------------- fusion


def fuse(graph: LayerGraph) -> None:
    """Fold norm and activation layers into the conv / FC they belong to."""
    for nid in list(graph.nodes):
        node = graph.nodes.get(nid)
        if node is None:
            continue
        if node.op in ("conv", "deconv") and not node.attrs.get("bn") and not node.attrs["act"]:
            _fuse_post(graph, node)
        elif node.op == "bn":
            _fuse_pre(graph, node)
        elif node.op == "fc" and not node.attrs["act"]:
            _absorb_act(graph, node)


def _sole_consumer(graph: LayerGraph, node: GNode) -> GNode | None:
    users = [n for n in graph.nodes.values() if node.id in n.inputs]
    if len(users) != 1 or users[0].inputs != [node.id]:
        return None
    return users[0]


def _remove(graph: LayerGraph, node: GNode, keep: GNode) -> None:
    """Drop a single-input node, its consumers reading `keep` instead."""
    for other in graph.nodes.values():
        other.inputs = [keep.id if i == node.id else i for i in other.inputs]
    del graph.nodes[node.id]
    keep.shape = node.shape


def _fuse_post(graph: LayerGraph, conv: GNode) -> None:
    nxt = _sole_consumer(graph, conv)
    if nxt is not None and nxt.op == "bn":
        conv.attrs.update(bn=True, eps=nxt.attrs.get("eps", 1e-5), order="post")
        _remove(graph, nxt, conv)
    _absorb_act(graph, conv)


def _absorb_act(graph: LayerGraph, node: GNode) -> None:
    nxt = _sole_consumer(graph, node)
    if nxt is not None and nxt.op in FUSED_ACTS:
        node.attrs["act"] = nxt.op
        _remove(graph, nxt, node)


def _fuse_pre(graph: LayerGraph, bn: GNode) -> None:
    """BN → act → conv becomes one pre-activation conv (DenseNet's layers)."""
    nxt = _sole_consumer(graph, bn)
    act = None
    if nxt is not None and nxt.op in FUSED_ACTS:
        act, nxt = nxt, _sole_consumer(graph, nxt)
    if nxt is None or nxt.op != "conv" or nxt.attrs.get("bn") or nxt.attrs["act"]:
        return
    nxt.attrs.update(bn=True, eps=bn.attrs.get("eps", 1e-5), order="pre",
                     act=act.op if act else None)  # fmt: skip
    nxt.inputs = list(bn.inputs)
    for gone in (bn, act):
        if gone is not None:
            del graph.nodes[gone.id]
