"""Every op option, at random valid values, means the same thing in the three
places it shows: the summary's notation, the module `build()` makes, and the
constructor call `source()` writes. Activations are included, arguments and
all (a `hardtanh(-2, 2)` that printed one thing and built another would fail
here)."""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import archspec
from archspec.ir import layers
from archspec.ops import ACTIVATIONS, REGISTRY


@dataclass(frozen=True)
class Case:
    layer: str  # the spec's layer text
    cls: str  # the torch.nn class it builds
    expected: dict[str, Any] = field(default_factory=dict)  # torch keyword → value
    notation: str = ""  # what the summary shows for it
    input: str = "4x16x16"


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, tuple | list) or isinstance(expected, tuple | list):
        return _pair(actual) == _pair(expected)
    return actual == expected


def _source_call(source: str, cls: str) -> dict[str, Any]:
    """The arguments of the first `nn.<cls>(…)` in the source, by torch's parameter names."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == cls
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "nn"
        ):
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            bound = inspect.signature(getattr(nn, cls)).bind(*args, **kwargs)
            bound.apply_defaults()
            return dict(bound.arguments)
    raise AssertionError(f"no nn.{cls}(…) in the generated source")


def check(case: Case) -> None:
    net = archspec.loads(f"name: t\ninput: {case.input}\nlayers:\n  - {case.layer!r}\n")
    assert case.notation in net.summary(), (case.layer, case.notation)
    module = next(m for m in net.build().modules() if type(m) is getattr(nn, case.cls))
    called = _source_call(net.source(), case.cls)
    for key, value in case.expected.items():
        assert _same(getattr(module, key), value), (case.layer, key, getattr(module, key))
        assert _same(called[key], value), (case.layer, key, called[key])
    (layer, _), *_ = layers(net.root)
    spelt = REGISTRY.ops[layer.op].spell(layer.attrs.as_dict())
    again = archspec.loads(f"name: t\ninput: {case.input}\nlayers:\n  - {spelt!r}\n")
    assert next(layers(again.root))[0].attrs == layer.attrs, (case.layer, spelt)


def _g(value: float) -> str:
    return f"{value:g}"


numbers = st.integers(-400, 400).map(lambda n: n / 100)  # exact in `:g` notation
fractions = st.integers(1, 95).map(lambda n: n / 100)


@st.composite
def leaky_relu(draw: st.DrawFn) -> Case:
    slope = draw(fractions)
    if draw(st.booleans()):
        shown = (
            "leaky_relu" if slope == 0.01 else f"leaky_relu {_g(slope)}"
        )  # a layer at its default
        return Case(f"leaky_relu {slope}", "LeakyReLU", {"negative_slope": slope}, shown)
    return Case(f"conv3-8 (act=leaky_relu({slope}))", "LeakyReLU", {"negative_slope": slope},
                f"+leaky_relu({_g(slope)})")  # fmt: skip


@st.composite
def hardtanh(draw: st.DrawFn) -> Case:
    low, high = sorted(draw(st.lists(numbers, min_size=2, max_size=2, unique=True)))
    expected = {"min_val": low, "max_val": high}
    if draw(st.booleans()):
        shown = "hardtanh" if (low, high) == (-1, 1) else f"hardtanh {_g(low)}, {_g(high)}"
        return Case(f"hardtanh (min={low}, max={high})", "Hardtanh", expected, shown)
    return Case(f"conv3-8 (act=hardtanh({low}, {high}))", "Hardtanh", expected,
                f"+hardtanh({_g(low)}, {_g(high)})")  # fmt: skip


@st.composite
def prelu(draw: st.DrawFn) -> Case:
    shared = draw(st.booleans())
    count = 1 if shared else 8
    if draw(st.booleans()):
        written = "prelu (shared)" if shared else "prelu"
        count = 1 if shared else 4  # the layer's input channels
        return Case(written, "PReLU", {"num_parameters": count}, written.replace(" (shared)", ""))
    act = "prelu(shared)" if shared else "prelu"
    return Case(f"conv3-8 (act={act})", "PReLU", {"num_parameters": count}, f"+{act}")


plain_acts = st.sampled_from(
    [name for name, form in ACTIVATIONS.items() if not form.args and name != "softmax"]
).map(lambda name: Case(name, ACTIVATIONS[name].cls, {}, name))


@st.composite
def conv(draw: st.DrawFn) -> Case:
    k, s = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 3))
    p, d, g = draw(st.integers(0, 2)), draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 4]))
    deconv = draw(st.booleans())
    op = "deconv" if deconv else "conv"
    extras = [f"g={g}"] if g != 1 else []
    extras += [f"d={d}"] if d != 1 else []
    stride = f"/{s}" if s != 1 else ""
    notation = f"{op}{k}{stride}-8" + (f" ({', '.join(extras)})" if extras else "")
    expected = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "groups": g}
    return Case(f"{op}{k}/{s}-8 (pad={p}, dilation={d}, groups={g})",
                "ConvTranspose2d" if deconv else "Conv2d", expected, notation)  # fmt: skip


@st.composite
def batchnorm(draw: st.DrawFn) -> Case:
    eps, momentum = draw(st.sampled_from([1e-5, 1e-3, 0.01])), draw(fractions)
    expected = {"eps": eps, "momentum": momentum}
    if draw(st.booleans()):
        return Case(f"bn (eps={eps}, momentum={momentum})", "BatchNorm2d", expected, "BN")
    order = draw(st.sampled_from(["post", "pre"]))
    return Case(f"conv3-8 (bn=true, eps={eps}, momentum={momentum}, order={order})",
                "BatchNorm2d", expected, "conv3-8")  # fmt: skip


@st.composite
def pool(draw: st.DrawFn) -> Case:
    kind, k = draw(st.sampled_from(["max", "avg"])), draw(st.integers(2, 4))
    s, p, ceil = draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), draw(st.booleans())
    count_pad = draw(st.booleans())
    written = f"{kind}pool{k}/{s} (pad={p}, {'ceil' if ceil else 'floor'}"
    expected = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil}
    if kind == "avg":
        written += f", count_pad={str(count_pad).lower()}"
        expected["count_include_pad"] = count_pad
    notation = f"{kind}pool{k}/{s}" + (" (ceil)" if ceil else "")
    return Case(written + ")", "MaxPool2d" if kind == "max" else "AvgPool2d", expected, notation)


@st.composite
def other_layers(draw: st.DrawFn) -> Case:
    which = draw(st.sampled_from(["lrn", "gn", "dropout", "shuffle", "pad", "upsample"]))
    if which == "lrn":
        size, alpha, beta, k = draw(st.integers(1, 7)), draw(fractions), draw(fractions), 2.0
        expected = {"size": size, "alpha": alpha, "beta": beta, "k": k}
        return Case(f"lrn (size={size}, alpha={alpha}, beta={beta})", "LocalResponseNorm",
                    expected, "LRN")  # fmt: skip
    if which == "gn":
        groups, eps = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1e-5, 1e-3]))
        return Case(f"groupnorm {groups} (eps={eps})", "GroupNorm",
                    {"num_groups": groups, "eps": eps}, f"GN {groups}")  # fmt: skip
    if which == "dropout":
        p = draw(fractions)
        return Case(f"dropout {p}", "Dropout", {"p": p}, f"dropout {_g(p)}")
    if which == "shuffle":
        groups = draw(st.sampled_from([1, 2, 4]))
        return Case(f"shuffle {groups}", "ChannelShuffle", {"groups": groups}, f"shuffle {groups}")
    if which == "pad":
        sides = draw(st.lists(st.integers(0, 3), min_size=4, max_size=4))
        return Case(f"pad (sides={sides})", "ZeroPad2d", {"padding": tuple(sides)}, f"pad{sides}")
    factor = draw(st.integers(1, 3))
    return Case(f"upsample {factor}", "Upsample", {"scale_factor": factor, "mode": "nearest"},
                f"upsample {factor} (nearest)")  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.one_of(leaky_relu(), hardtanh(), prelu(), plain_acts))
def test_activation_arguments_agree_everywhere(case: Case) -> None:
    check(case)


@settings(max_examples=40, deadline=None)
@given(st.one_of(conv(), batchnorm(), pool(), other_layers()))
def test_layer_options_agree_everywhere(case: Case) -> None:
    check(case)


def test_hardtanh_defaults_are_minus_one_and_one() -> None:
    check(Case("hardtanh", "Hardtanh", {"min_val": -1.0, "max_val": 1.0}, "hardtanh"))
    check(Case("conv3-8 (act=hardtanh)", "Hardtanh", {"min_val": -1.0, "max_val": 1.0},
               "+hardtanh"))  # fmt: skip
