"""`archspec import` on the published Caffe deploy files.

Each imported spec is checked against an independent, layer-by-layer reading
of the prototxt written here (its own tokenizer and Caffe's shape rules, not
the importer's), and GoogLeNet and ResNet-50 against the bundled specs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest
from spelling import written_and_spelt

import archspec
from archspec.importers.command import import_source

CAFFE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "caffe"
FILES = {
    "alexnet": "bvlc_alexnet.deploy.prototxt",
    "caffenet": "bvlc_reference_caffenet.deploy.prototxt",
    "googlenet": "bvlc_googlenet.deploy.prototxt",
    "resnet50": "resnet50.deploy.prototxt",
    "squeezenet1_0": "squeezenet_v1.0.deploy.prototxt",
    "squeezenet1_1": "squeezenet_v1.1.deploy.prototxt",
}
# Line budgets of the imported specs (the prototxt files: 277, 213, 2157, 2320, 555, 553).
MAX_LINES = {"googlenet": 60, "resnet50": 40}
LINES = {"alexnet": 16, "caffenet": 16, "googlenet": 32, "resnet50": 20,
         "squeezenet1_0": 28, "squeezenet1_1": 28}  # fmt: skip

pytestmark = pytest.mark.skipif(not CAFFE.is_dir(), reason="shared/reference/caffe is absent")


# ---------------------------------------------------------------- an independent reading


def _tokens(text: str) -> list[str]:
    text = re.sub(r"#[^\n]*", "", text)
    return re.findall(r'"[^"]*"|[{}:]|[^\s{}:"]+', text)


def _tree(tokens: list[str], i: int = 0) -> tuple[list[tuple[str, object]], int]:
    out: list[tuple[str, object]] = []
    while i < len(tokens) and tokens[i] != "}":
        key = tokens[i]
        i += 1
        if tokens[i] == ":":
            i += 1
        if tokens[i] == "{":
            sub, i = _tree(tokens, i + 1)
            out.append((key, sub))
            i += 1
        else:
            out.append((key, tokens[i].strip('"')))
            i += 1
    return out, i


def _get(entries, key, default=None):
    found = [v for k, v in entries if k == key]
    return found[0] if found else default


def _all(entries, key):
    return [v for k, v in entries if k == key]


def caffe_reading(path: Path) -> dict:
    """Blob shapes, weighted/pooled layer shapes, params and MACs, as Caffe counts them."""
    root, _ = _tree(_tokens(path.read_text()))
    blobs: dict[str, tuple[int, ...]] = {}
    if _get(root, "input"):
        dims = [int(d) for d in _all(root, "input_dim")] or [
            int(d) for d in _all(_get(root, "input_shape"), "dim")
        ]
        blobs[_get(root, "input")] = tuple(dims[1:])
    params = macs = 0
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for layer in _all(root, "layer"):
        kind, bottoms, tops = _get(layer, "type"), _all(layer, "bottom"), _all(layer, "top")
        if kind == "Input":
            dims = [int(d) for d in _all(_get(_get(layer, "input_param"), "shape"), "dim")]
            blobs[tops[0]] = tuple(dims[1:])
            continue
        x = blobs[bottoms[0]]
        if kind == "Convolution":
            p = _get(layer, "convolution_param")
            k, s = int(_get(p, "kernel_size")), int(_get(p, "stride", 1))
            pad, n, g = int(_get(p, "pad", 0)), int(_get(p, "num_output")), int(_get(p, "group", 1))
            size = (x[1] + 2 * pad - k) // s + 1
            out = (n, size, size)
            bias = n if _get(p, "bias_term", "true") == "true" else 0
            params += n * (x[0] // g) * k * k + bias
            macs += size * size * n * (x[0] // g) * k * k
            shapes.append(("conv", out))
        elif kind == "Pooling":
            p = _get(layer, "pooling_param")
            if _get(p, "global_pooling") == "true":
                out = (x[0], 1, 1)
            else:
                k, s, pad = (
                    int(_get(p, "kernel_size")),
                    int(_get(p, "stride", 1)),
                    int(_get(p, "pad", 0)),
                )
                size = math.ceil((x[1] + 2 * pad - k) / s) + 1
                if pad and (size - 1) * s >= x[1] + pad:
                    size -= 1
                out = (x[0], size, size)
            shapes.append(("pool", out))
        elif kind == "InnerProduct":
            n = int(_get(_get(layer, "inner_product_param"), "num_output"))
            params += math.prod(x) * n + n
            macs += math.prod(x) * n
            out = (n,)
            shapes.append(("fc", out))
        elif kind == "Concat":
            out = (sum(blobs[b][0] for b in bottoms), *x[1:])
        elif kind == "Scale":  # with its BatchNorm: γ and β
            params += 2 * x[0]
            out = x
        else:  # ReLU, LRN, Dropout, Softmax, BatchNorm, Eltwise keep the shape
            out = x
        blobs[tops[0]] = out
    return {"params": params, "macs": macs, "shapes": shapes, "blobs": blobs, "output": out}


def spec_shapes(net: archspec.Network) -> list[tuple[str, tuple[int, ...]]]:
    kinds = {"conv": "conv", "fc": "fc", "maxpool": "pool", "avgpool": "pool", "gap": "pool"}
    return [(kinds[la.op], tuple(la.output.as_list())) for la in net.layers() if la.op in kinds]


@pytest.fixture(scope="module")
def imported() -> dict[str, tuple[str, archspec.Network]]:
    out = {}
    for key, name in FILES.items():
        text = import_source(str(CAFFE / name))
        out[key] = (text, archspec.loads(text, filename=f"{key}.yaml"))
    return out


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("key", FILES)
def test_imported_spec_counts_what_caffe_counts(imported, key: str) -> None:
    text, net = imported[key]
    reading = caffe_reading(CAFFE / FILES[key])
    assert (net.params, net.macs) == (reading["params"], reading["macs"])
    assert tuple(net.output.as_list()) == reading["output"]
    # every conv, pool and FC blob, with its shape (other blobs keep their producer's)
    assert Counter(spec_shapes(net)) == Counter(reading["shapes"])
    assert len(text.splitlines()) == LINES[key]
    assert len(text.splitlines()) < MAX_LINES.get(key, 60)


def test_exact_figures(imported) -> None:
    figures = {k: (net.params, net.macs) for k, (_t, net) in imported.items()}
    assert figures == {
        "alexnet": (60965224, 724406816),
        "caffenet": (60965224, 724406816),
        "googlenet": (6998552, 1582671872),
        "resnet50": (25557096, 3857973248),
        "squeezenet1_0": (1248424, 861339936),
        "squeezenet1_1": (1235496, 387747520),
    }


def test_googlenet_is_the_bundled_spec(imported) -> None:
    text, net = imported["googlenet"]
    bundled = archspec.load("googlenet")
    assert (net.params, net.macs) == (bundled.params, bundled.macs)
    assert spec_shapes(net) == spec_shapes(bundled)
    assert "  - inception 3a: [64, 96, 128, 16, 32, 32]" in text.splitlines()
    assert net.find("inception_5b").output == bundled.find("inception_5b").output


def test_resnet50_is_the_bundled_spec_plus_conv1_bias(imported) -> None:
    text, net = imported["resnet50"]
    bundled = archspec.load("resnet50")
    assert net.params == bundled.params + 64  # this file's conv1 keeps its bias
    assert net.find("conv1.conv1").attrs.get("bias") is True  # a named row: conv1 → its conv
    assert net.macs == bundled.macs
    ours = [s for s in spec_shapes(net) if s[0] != "pool"]
    assert ours == [s for s in spec_shapes(bundled) if s[0] != "pool"]
    assert "  - res3: res(128, 2), res(128) x3" in text.splitlines()


def test_squeezenet1_0_keeps_the_padded_final_conv(imported) -> None:
    _text, net = imported["squeezenet1_0"]
    assert net.find("conv10.conv1").output.as_list() == [1000, 15, 15]


@pytest.mark.parametrize("key", ["alexnet", "caffenet"])  # unfolded: every layer written out
def test_each_layer_is_written_as_its_op_spells_it(imported, key: str) -> None:
    text, _net = imported[key]
    seen = written_and_spelt(text)
    assert [written for _l, written, _s in seen] == [spelt for _l, _w, spelt in seen]
    assert {layer.op for layer, _w, _s in seen} == {
        "conv",
        "lrn",
        "maxpool",
        "fc",
        "dropout",
        "softmax",
    }
    assert len(seen) == 16
