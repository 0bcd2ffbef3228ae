"""Caffe deploy prototxt → the importer's graph, with Caffe's own shape rules.

Layers run in file order; a `top` equal to its `bottom` (in place, as ReLU,
BatchNorm and Scale usually are) makes a new node that takes over the blob's
name. Shapes follow Caffe, not torch: pools round *up* (and drop a last window
that would start in the padding only when there is padding), convolutions
round down. A `BatchNorm` must be followed by its `Scale` (the pair is one
affine batch norm, 2·C parameters); anything else Caffe can express that the
classic nets do not use is refused with the place it is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ShapeError, Span, SpecNameError, SpecSyntaxError, SpecValueError
from .graph import ImportError_, LayerGraph, configured
from .prototxt import Entry, Message, decode, parse

SUPPORTED = (
    "Input", "Convolution", "Deconvolution", "Pooling", "InnerProduct", "ReLU", "Sigmoid",
    "TanH", "LRN", "Dropout", "Concat", "Eltwise", "BatchNorm", "Scale", "Softmax",
    "Flatten", "Split",
)  # fmt: skip


class _Layer:
    """One `layer { … }` with the spans the errors point at."""

    def __init__(self, entry: Entry, filename: str) -> None:
        assert isinstance(entry.value, Message)
        self.msg = entry.value
        self.span = entry.span
        type_entry = self.msg.first("type")
        if type_entry is None:
            raise SpecSyntaxError("a layer without a `type`", entry.span)
        self.type = str(type_entry.value)
        self.type_span = type_entry.value_span
        self.name = str(self.msg.get("name", f"layer{entry.span.line}"))
        self.bottoms = self.msg.all("bottom")
        self.tops = self.msg.all("top")


class CaffeReader:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.root = parse(text, filename)
        stem = re.sub(r"[._-]?(deploy|prototxt)$", "", Path(filename).stem)
        self.graph = LayerGraph(str(self.root.get("name", stem)), ())
        self.blobs: dict[str, int] = {}
        self.pending_bn: dict[int, tuple[float, _Layer]] = {}
        self.input_id: int | None = None

    def read(self) -> tuple[LayerGraph, int]:
        v1 = self.root.first("layers")
        if v1 is not None:
            raise SpecValueError(
                "old-style (V1) `layers` entries are not supported: upgrade the file with "
                "Caffe's `upgrade_net_proto_text` (they become `layer` entries)",
                v1.span,
            )
        layers = [_Layer(e, self.filename) for e in self.root.all("layer")]
        if not layers:
            raise SpecValueError(
                "no `layer` entries: not a Caffe network", Span(self.filename, 1, 1)
            )
        self._top_level_input()
        self.tops_at = {t.value: (lay, t) for lay in layers for t in lay.tops}
        for position, layer in enumerate(layers):
            self._layer(layer, position, layers)
        if self.input_id is None:
            raise SpecValueError("no input: give an `Input` layer or `input_dim`s", layers[0].span)
        for nid, (_eps, layer) in self.pending_bn.items():
            if any(nid in n.inputs for n in self.graph.nodes.values()) or nid in self.graph.sinks():
                raise ImportError_(
                    f"BatchNorm `{layer.name}` is not followed by a Scale", layer.span
                )
        return self.graph, self.input_id

    # --- input
    def _top_level_input(self) -> None:
        entry = self.root.first("input")
        if entry is None:
            return
        dims = [e for e in self.root.all("input_dim")]
        shape_msg = self.root.first("input_shape")
        if shape_msg is not None and isinstance(shape_msg.value, Message):
            dims = shape_msg.value.all("dim")
        self._make_input(str(entry.value), [d.value for d in dims], entry.span)

    def _make_input(self, blob: str, dims: list[Any], span: Span) -> None:
        if self.input_id is not None:
            raise ImportError_("a second input: networks with one input are supported", span)
        if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims):
            raise SpecValueError("the input needs four positive dims (N, C, H, W)", span)
        self.graph.input_shape = tuple(dims[1:])
        self.input_id = self.graph.add(blob, "input", {}, [], dims[1:], span)
        self.blobs[blob] = self.input_id

    # --- layers
    def _layer(self, layer: _Layer, position: int, layers: list[_Layer]) -> None:
        if layer.type not in SUPPORTED:
            raise ImportError_(f"unsupported layer type {layer.type}", layer.type_span)
        if layer.type == "Input":
            shape = layer.msg.message("input_param").message("shape")
            dims = [d.value for d in shape.all("dim")]
            top = layer.tops[0].value if layer.tops else layer.name
            self._make_input(str(top), dims, layer.type_span)
            return
        inputs = [self._bottom(b, layer, position, layers) for b in layer.bottoms]
        if not inputs:
            raise SpecNameError(f"layer `{layer.name}` has no `bottom`", layer.span)
        if not layer.tops:
            raise SpecNameError(f"layer `{layer.name}` has no `top`", layer.span)
        if layer.type == "Split":
            for top in layer.tops:
                self.blobs[str(top.value)] = inputs[0]
            return
        if layer.type == "Scale":
            nid = self._scale(layer, inputs)
        else:
            op, attrs, shape = HANDLERS[layer.type](self, layer, inputs)
            nid = self.graph.add(layer.name, op, attrs, inputs, shape, layer.span)
            if layer.type == "BatchNorm":
                self.pending_bn[nid] = (attrs["eps"], layer)
        self.blobs[str(layer.tops[0].value)] = nid

    def _bottom(self, entry: Entry, layer: _Layer, position: int, layers: list[_Layer]) -> int:
        blob = str(entry.value)
        if blob in self.blobs:
            nid = self.blobs[blob]
            if nid in self.pending_bn and layer.type != "Scale":
                raise ImportError_(
                    f"BatchNorm output `{blob}` is read before its Scale (layer `{layer.name}`)",
                    entry.value_span,
                )
            return nid
        later = self.tops_at.get(blob)
        if later is not None and later[0] is not layer:
            raise SpecNameError(
                f"`{blob}` is read here but produced later, by layer `{later[0].name}` "
                f"(line {later[1].span.line}): a cycle or a forward reference",
                entry.value_span,
            )
        raise SpecNameError(
            f"bottom `{blob}` is never produced by an earlier layer", entry.value_span
        )

    def _shape(self, nid: int) -> tuple[int, ...]:
        return self.graph.nodes[nid].shape

    def _image(self, layer: _Layer, nid: int) -> tuple[int, int, int]:
        shape = self._shape(nid)
        if len(shape) != 3:
            raise ShapeError(f"`{layer.name}` needs a C×H×W input, got {shape}", layer.type_span)
        return shape  # type: ignore[return-value]

    def _scale(self, layer: _Layer, inputs: list[int]) -> int:
        nid = inputs[0]
        if nid not in self.pending_bn or len(inputs) != 1:
            raise ImportError_(
                f"Scale `{layer.name}` does not follow a BatchNorm (only BatchNorm + Scale "
                "pairs are supported)",
                layer.type_span,
            )
        if not _flag(layer.msg.message("scale_param"), "bias_term", False):
            raise ImportError_(f"Scale `{layer.name}` needs `bias_term: true`", layer.type_span)
        eps, _bn = self.pending_bn.pop(nid)
        node = self.graph.nodes[nid]
        node.op, node.attrs = "bn", configured("bn", {"eps": eps}, layer.span, layer.name)
        return nid


# ---------------------------------------------------------------- per-type handlers

Result = tuple[str, dict[str, Any], tuple[int, ...]]


def _flag(msg: Message, key: str, default: bool) -> bool:
    value = msg.get(key, default)
    return value in (True, "true", 1)


def _ints(msg: Message, key: str) -> list[int]:
    return [int(e.value) for e in msg.all(key)]  # type: ignore[arg-type]


def _pair(msg: Message, key: str, default: int | None, layer: _Layer) -> tuple[int, int]:
    """Caffe's repeated-or-`_h`/`_w` geometry fields (`kernel_size`, `pad`, `stride`)."""
    stem = {"kernel_size": "kernel"}.get(key, key)
    h, w = msg.get(f"{stem}_h"), msg.get(f"{stem}_w")
    if h is not None or w is not None:
        if h is None or w is None:
            raise SpecValueError(f"`{stem}_h` and `{stem}_w` go together", layer.type_span)
        return int(h), int(w)  # type: ignore[arg-type]
    values = _ints(msg, key)
    if not values:
        if default is None:
            raise SpecValueError(f"`{layer.name}` needs `{key}`", layer.type_span)
        return default, default
    if len(values) > 2:
        raise ImportError_(
            f"`{key}` with {len(values)} values (3-D) is not supported", layer.type_span
        )
    return (values[0], values[-1])


def _conv(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    p = layer.msg.message("convolution_param")
    c, h, w = reader._image(layer, inputs[0])
    kernel = _pair(p, "kernel_size", None, layer)
    stride = _pair(p, "stride", 1, layer)
    pad = _pair(p, "pad", 0, layer)
    dil = _pair(p, "dilation", 1, layer)
    if stride[0] != stride[1] or dil[0] != dil[1]:
        raise ImportError_("different strides or dilations along H and W are not supported",
                           layer.type_span)  # fmt: skip
    out = int(p.get("num_output", 0))  # type: ignore[arg-type]
    groups = int(p.get("group", 1))  # type: ignore[arg-type]
    if out <= 0 or groups <= 0 or c % groups or out % groups:
        raise SpecValueError(f"`{layer.name}`: num_output {out} and group {groups} do not fit "
                             f"{c} input channels", layer.type_span)  # fmt: skip
    attrs = {"out": out, "kernel": kernel, "stride": stride[0], "pad": pad,
             "dilation": dil[0], "groups": groups, "bias": _flag(p, "bias_term", True)}  # fmt: skip
    s, d = stride[0], dil[0]
    if layer.type == "Deconvolution":
        size = [
            (n - 1) * s - 2 * q + d * (k - 1) + 1
            for n, k, q in zip((h, w), kernel, pad, strict=True)
        ]
        return "deconv", attrs, (out, *size)
    size = [
        (n + 2 * q - (d * (k - 1) + 1)) // s + 1
        for n, k, q in zip((h, w), kernel, pad, strict=True)
    ]
    if min(size) <= 0:
        raise ShapeError(
            f"`{layer.name}`: the kernel is larger than its {h}×{w} input", layer.type_span
        )
    return "conv", attrs, (out, *size)


def _pool(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    p = layer.msg.message("pooling_param")
    c, h, w = reader._image(layer, inputs[0])
    kind = str(p.get("pool", "MAX"))
    if kind not in ("MAX", "AVE"):
        raise ImportError_(f"unsupported pooling {kind}", layer.type_span)
    if _flag(p, "global_pooling", False):
        return ("gap" if kind == "AVE" else "gmp"), {}, (c, 1, 1)
    kernel = _pair(p, "kernel_size", None, layer)
    stride = _pair(p, "stride", 1, layer)
    pad = _pair(p, "pad", 0, layer)
    if stride[0] != stride[1]:
        raise ImportError_("different strides along H and W are not supported", layer.type_span)
    ceil = str(p.get("round_mode", "CEIL")) != "FLOOR"
    size = [
        _pool_size(n, k, stride[0], q, ceil) for n, k, q in zip((h, w), kernel, pad, strict=True)
    ]
    rounding = "ceil" if ceil else "floor"
    attrs = {"kernel": kernel, "stride": stride[0], "pad": pad, "round": rounding}
    return ("maxpool" if kind == "MAX" else "avgpool"), attrs, (c, *size)


def _pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """Caffe's pooling_layer.cpp: round up, then drop a window starting in the padding."""
    span = n + 2 * p - k
    out = (math.ceil(span / s) if ceil else span // s) + 1
    if p and (out - 1) * s >= n + p:
        out -= 1
    return out


def _fc(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    p = layer.msg.message("inner_product_param")
    if int(p.get("axis", 1)) != 1:  # type: ignore[arg-type]
        raise ImportError_("InnerProduct with `axis` other than 1", layer.type_span)
    out = int(p.get("num_output", 0))  # type: ignore[arg-type]
    if out <= 0:
        raise SpecValueError(f"`{layer.name}` needs a positive `num_output`", layer.type_span)
    return "fc", {"out": out, "bias": _flag(p, "bias_term", True)}, (out,)


def _same(op: str, attrs: Callable[[_Layer], dict[str, Any]] | None = None):
    def handler(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
        if len(inputs) != 1:
            raise ImportError_(f"`{layer.name}` takes one bottom", layer.type_span)
        return op, attrs(layer) if attrs else {}, reader._shape(inputs[0])

    return handler


def _relu(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    if float(layer.msg.message("relu_param").get("negative_slope", 0) or 0) != 0:  # type: ignore[arg-type]
        raise ImportError_("ReLU with a `negative_slope` is not supported", layer.type_span)
    return "relu", {}, reader._shape(inputs[0])


def _lrn(layer: _Layer) -> dict[str, Any]:
    p = layer.msg.message("lrn_param")
    if str(p.get("norm_region", "ACROSS_CHANNELS")) != "ACROSS_CHANNELS":
        raise ImportError_("LRN WITHIN_CHANNEL is not supported", layer.type_span)
    return {"size": int(p.get("local_size", 5)), "alpha": float(p.get("alpha", 1.0)),  # type: ignore[arg-type]
            "beta": float(p.get("beta", 0.75)), "k": float(p.get("k", 1.0))}  # type: ignore[arg-type]  # fmt: skip


def _bn_attrs(layer: _Layer) -> dict[str, Any]:
    return {"eps": float(layer.msg.message("batch_norm_param").get("eps", 1e-5))}  # type: ignore[arg-type]


def _concat(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    p = layer.msg.message("concat_param")
    if int(p.get("axis", p.get("concat_dim", 1))) != 1:  # type: ignore[arg-type]
        raise ImportError_("Concat along an axis other than channels", layer.type_span)
    shapes = [reader._shape(i) for i in inputs]
    for bottom, shape in zip(layer.bottoms[1:], shapes[1:], strict=True):
        if shape[1:] != shapes[0][1:]:
            raise ShapeError(
                f"Concat `{layer.name}` of different sizes: `{layer.bottoms[0].value}` is "
                f"{_text(shapes[0])}, `{bottom.value}` is {_text(shape)}",
                bottom.value_span,
            )
    return "concat", {}, (sum(s[0] for s in shapes), *shapes[0][1:])


def _eltwise(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    p = layer.msg.message("eltwise_param")
    op = {"SUM": "add", "PROD": "mul"}.get(str(p.get("operation", "SUM")))
    if op is None:
        raise ImportError_(f"Eltwise {p.get('operation')} has no archspec join", layer.type_span)
    if any(float(c.value) != 1.0 for c in p.all("coeff")):  # type: ignore[arg-type]
        raise ImportError_("Eltwise with coefficients other than 1", layer.type_span)
    shapes = [reader._shape(i) for i in inputs]
    for bottom, shape in zip(layer.bottoms[1:], shapes[1:], strict=True):
        if shape != shapes[0]:
            raise ShapeError(f"Eltwise `{layer.name}` of different shapes: {_text(shapes[0])} "
                             f"and {_text(shape)}", bottom.value_span)  # fmt: skip
    return op, {}, shapes[0]


def _flatten(reader: CaffeReader, layer: _Layer, inputs: list[int]) -> Result:
    shape = reader._shape(inputs[0])
    return "flatten", {}, (math.prod(shape),)


def _dropout(layer: _Layer) -> dict[str, Any]:
    return {"p": float(layer.msg.message("dropout_param").get("dropout_ratio", 0.5))}  # type: ignore[arg-type]


def _text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


HANDLERS: dict[str, Callable[[CaffeReader, _Layer, list[int]], Result]] = {
    "Convolution": _conv,
    "Deconvolution": _conv,
    "Pooling": _pool,
    "InnerProduct": _fc,
    "ReLU": _relu,
    "Sigmoid": _same("sigmoid"),
    "TanH": _same("tanh"),
    "LRN": _same("lrn", _lrn),
    "Dropout": _same("dropout", _dropout),
    "BatchNorm": _same("bn_stats", _bn_attrs),
    "Softmax": _same("softmax"),
    "Concat": _concat,
    "Eltwise": _eltwise,
    "Flatten": _flatten,
}


def read(path: Path) -> tuple[LayerGraph, int]:
    """The graph of a prototxt file (located errors for every problem)."""
    filename = str(path)
    text = decode(path.read_bytes(), filename)
    return CaffeReader(text, filename).read()


def import_prototxt(path: Path) -> str:
    """The spec text for a Caffe prototxt."""
    from .write import write_spec

    graph, input_id = read(path)
    return write_spec(graph, input_id, path.name, Span(str(path), 1, 1))
