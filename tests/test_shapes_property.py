"""Shape inference against real torch layers, for random geometry."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import ShapeError, SpecErrors

torch = pytest.importorskip("torch")


def _spec(layer: str, size: int) -> str:
    return f"name: p\ninput: 2x{size}x{size + 3}\nlayers:\n  - {layer}\n"


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    pad=st.integers(0, 3),
    dilation=st.integers(1, 3),
    groups=st.sampled_from([1, 2]),
)
def test_conv_output_size_matches_torch(size, kernel, stride, pad, dilation, groups) -> None:
    spec = _spec(f"conv{kernel}/{stride}-4 (pad={pad}, dilation={dilation}, groups={groups})", size)
    layer = torch.nn.Conv2d(2, 4, kernel, stride, pad, dilation, groups)
    try:
        expected = tuple(layer(torch.zeros(1, 2, size, size + 3)).shape[1:])
    except RuntimeError:
        with pytest.raises((SpecErrors, ShapeError)):
            archspec.loads(spec)
        return
    net = archspec.loads(spec)
    assert tuple(net.output.as_list()) == expected
    assert net.params == sum(p.numel() for p in layer.parameters())


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    pad=st.integers(0, 3),
    ceil=st.booleans(),
    kind=st.sampled_from(["maxpool", "avgpool"]),
)
def test_pool_output_size_matches_torch(size, kernel, stride, pad, ceil, kind) -> None:
    round_mode = "ceil" if ceil else "floor"
    spec = _spec(f"{kind}{kernel}/{stride} (pad={pad}, round={round_mode})", size)
    cls = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
    if pad * 2 > kernel:  # torch refuses such padding; so do we
        with pytest.raises(SpecErrors):
            archspec.loads(spec)
        return
    layer = cls(kernel, stride, pad, ceil_mode=ceil)
    try:
        expected = tuple(layer(torch.zeros(1, 2, size, size + 3)).shape[1:])
    except RuntimeError:
        with pytest.raises((SpecErrors, ShapeError)):
            archspec.loads(spec)
        return
    assert tuple(archspec.loads(spec).output.as_list()) == expected


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(3, 30),
    kernel=st.sampled_from([1, 3, 5, 7]),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    asym=st.booleans(),
)
def test_same_padding_matches_torch_half_padding(size, kernel, stride, dilation, asym) -> None:
    kernel_text = f"1x{kernel}" if asym else f"{kernel}"
    spec = _spec(f"conv{kernel_text}/{stride}-3 (pad=same, dilation={dilation})", size)
    kh, kw = (1, kernel) if asym else (kernel, kernel)
    padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    layer = torch.nn.Conv2d(2, 3, (kh, kw), stride, padding, dilation)
    x = torch.zeros(1, 2, size, size + 3)
    try:
        expected = tuple(layer(x).shape[1:])
    except RuntimeError:
        with pytest.raises(SpecErrors):
            archspec.loads(spec)
        return
    assert tuple(archspec.loads(spec).output.as_list()) == expected
