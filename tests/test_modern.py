"""The language after 2017 (issue 10): activations with parameters, channel
plumbing, LayerNorm / GroupNorm / layer scale, resampling, computed kernels,
and the traps users fell into."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecErrors, ToolError
from archspec.ir import Shape, verify
from archspec.zoo import OPS_BEGIN, OPS_END, op_table
from reference import import_torchvision

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parent.parent


def net_of(body: str, input_shape: str = "8x16x16", head: str = "") -> archspec.Network:
    net = archspec.loads(f"name: t\ninput: {input_shape}\n{head}layers:\n{body}", "t.yaml")
    verify(net.root)
    return net


def errors_of(text: str, filename: str = "bad.yaml", **kwargs) -> list[tuple[int, int, str]]:
    with pytest.raises(SpecErrors) as caught:
        archspec.loads(text, filename, **kwargs)
    return [(e.span.line, e.span.col, e.message) for e in caught.value.errors]


def same_outputs(net: archspec.Network, reference: torch.nn.Module, x: torch.Tensor) -> None:
    """Copies `reference`'s weights into the built network in order (matching
    shapes, a Linear's weight taken as a 1×1 conv's) and compares outputs."""
    model = net.build().eval()
    reference.eval()
    ours = {k: v for k, v in model.state_dict().items() if v.dtype != torch.long}
    theirs = [v for v in reference.state_dict().values() if v.dtype != torch.long]
    assert len(ours) == len(theirs)
    used = [False] * len(theirs)
    loaded = {}
    for key, value in ours.items():
        index = next(
            i
            for i, other in enumerate(theirs)
            if not used[i] and _plain(other.shape) == _plain(value.shape)
        )
        used[index] = True
        loaded[key] = theirs[index].reshape(value.shape)
    model.load_state_dict(loaded, strict=False)
    with torch.no_grad():
        got, expected = model(x), reference(x)
    expected = expected["out"] if isinstance(expected, dict) else expected
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


def _plain(shape: torch.Size) -> tuple[int, ...]:
    """A 1×1 conv's weight reads as a Linear's."""
    return tuple(shape[:2]) if len(shape) == 4 and tuple(shape[2:]) == (1, 1) else tuple(shape)


# ------------------------------------------------------------------ activations


def test_one_list_of_activations_for_act_and_layers() -> None:
    from archspec.ops import ACTIVATIONS, REGISTRY

    for act in ACTIVATIONS:
        assert REGISTRY.lookup(act) is not None
        net_of(f"  - conv3-8 (act={act})\n")
    net = net_of("  - conv3-8 (act=swish), swish\n")
    assert net.find("conv1").attrs["act"] == "silu"
    assert net.find("silu1").op == "silu"


def test_parameterised_activations() -> None:
    net = net_of(
        "  - leaky_relu 0.1, prelu, prelu (shared), conv1-4 (act=leaky_relu(0.2))\n"
        "  - conv1-4 (act=prelu), conv1-4 (act=prelu(shared)), fc-3\n",
        head="defaults:\n  fc: {act: leaky_relu(0.3)}\n",
    )
    assert net.find("leaky_relu1").notation == "leaky_relu 0.1"
    assert net.find("prelu1").cost.params == 8 and net.find("prelu2").cost.params == 1
    assert net.find("conv1").attrs["act"] == "leaky_relu(0.2)"
    assert net.find("conv2").cost.params == 4 * 4 + 4 + 4
    assert net.find("conv3").cost.params == 4 * 4 + 4 + 1
    model = net.build()
    assert model.leaky_relu1.negative_slope == 0.1
    assert model.conv1.leaky_relu.negative_slope == 0.2
    assert model.fc1.leaky_relu.negative_slope == 0.3
    assert sum(p.numel() for p in model.parameters()) == net.params


@pytest.mark.parametrize(
    ("written", "module"),
    [
        ("hardswish", torch.nn.Hardswish()),
        ("hardsigmoid", torch.nn.Hardsigmoid()),
        ("mish", torch.nn.Mish()),
        ("silu", torch.nn.SiLU()),
        ("leaky_relu 0.2", torch.nn.LeakyReLU(0.2)),
    ],
)
def test_activation_layers_compute_what_torch_does(written: str, module) -> None:
    model = net_of(f"  - {written}\n").build().eval()
    x = torch.randn(2, 8, 16, 16)
    assert torch.equal(model(x.clone()), module(x.clone()))


def test_bad_activations_are_named() -> None:
    found = errors_of("name: b\ninput: 3x8x8\nlayers:\n  - conv3-8 (act=leaky_relu(0.1, 2))\n")
    assert "activation `leaky_relu` takes slope, got 2 values" in found[0][2]
    found = errors_of("name: b\ninput: 3x8x8\nlayers:\n  - conv3-8 (act=hard_swsh)\n")
    assert "unknown activation `hard_swsh` — did you mean `hard_swish`?" in found[0][2]


# ------------------------------------------------------------------ channel plumbing


def test_slice_split_and_shuffle() -> None:
    net = net_of(
        "  - {split: {a: 3, b: 5}}\n"
        "  - c: {from: b, layers: conv1-3}\n"
        "  - j: {from: [a, c], join: concat}\n"
        "  - shuffle 2, slice-4 (start=2)\n"
    )
    assert net.find("a").output == Shape(3, 16, 16)
    assert net.find("b").attrs["start"] == 3
    assert net.output == Shape(4, 16, 16)
    model = net.build().eval()
    x = torch.randn(1, 8, 16, 16)
    conv = model.c
    joined = torch.cat([x[:, :3], conv(x[:, 3:])], 1)
    shuffled = joined.view(1, 2, 3, 16, 16).transpose(1, 2).reshape(1, 6, 16, 16)
    assert torch.allclose(model(x), shuffled[:, 2:6])


def test_pad_channels_at_the_end_adds_onto_the_first_channels() -> None:
    net = net_of("  - residual: conv1-12\n    shortcut: pad_channels-12 (end)\n")
    model = net.build().eval()
    x = torch.randn(1, 8, 16, 16)
    out = model(x)
    body = model.block1.residual(x) if hasattr(model, "block1") else None
    body = model.residual1.residual(x) if body is None else body
    assert torch.allclose(out[:, :8], body[:, :8] + x) and torch.allclose(out[:, 8:], body[:, 8:])


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 12), start=st.integers(0, 12), width=st.integers(1, 12))
def test_slice_shape_matches_torch(c: int, start: int, width: int) -> None:
    spec = f"name: p\ninput: {c}x5x6\nlayers:\n  - slice-{width} (start={start})\n"
    if start + width > c:
        with pytest.raises(SpecErrors):
            archspec.loads(spec)
        return
    expected = tuple(torch.zeros(1, c, 5, 6)[:, start : start + width].shape[1:])
    assert tuple(archspec.loads(spec).output.as_list()) == expected


# ------------------------------------------------------------------ normalisation, scaling


def test_layernorm_groupnorm_and_layer_scale() -> None:
    net = net_of("  - layernorm (eps=1e-6), groupnorm 4, layer_scale 0.5\n  - gap, layernorm\n")
    assert [net.find(n).cost.params for n in ("layernorm1", "groupnorm1", "layer_scale1")] == [
        16,
        16,
        8,
    ]
    model = net.build().eval()
    x = torch.randn(2, 8, 16, 16)
    ln = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (8,), eps=1e-6).permute(0, 3, 1, 2)
    gn = torch.nn.functional.group_norm(ln, 4)
    assert torch.allclose(model.layernorm1(x), ln, atol=1e-6)
    assert torch.allclose(model.groupnorm1(ln), gn, atol=1e-6)
    assert torch.allclose(model.layer_scale1(gn), gn * 0.5)


def test_groupnorm_must_divide_channels() -> None:
    found = errors_of("name: b\ninput: 6x8x8\nlayers:\n  - groupnorm 4\n")
    assert "4 groups do not divide 6 channels" in found[0][2]


# ------------------------------------------------------------------ resampling


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), factor=st.integers(1, 4))
def test_upsample_by_factor_matches_torch(h: int, w: int, factor: int) -> None:
    layer = f"upsample {factor} (bilinear, align_corners=false)"
    spec = f"name: p\ninput: 2x{h}x{w}\nlayers:\n  - {layer}\n"
    x = torch.zeros(1, 2, h, w)
    expected = torch.nn.functional.interpolate(
        x, scale_factor=factor, mode="bilinear", align_corners=False
    )
    assert tuple(archspec.loads(spec).output.as_list()) == tuple(expected.shape[1:])


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 20), bilinear=st.booleans())
def test_upsample_to_a_reference_tensor(h: int, w: int, bilinear: bool) -> None:
    mode = " (bilinear, align_corners=false)" if bilinear else ""
    net = net_of(
        "  - small: {layers: [gap]}\n"
        f"  - out:\n      from: [small, x]\n      layers: upsample{mode}\n",
        input_shape=f"3x{h}x{w}",
    )
    assert net.output == Shape(3, h, w)
    model = net.build().eval()
    x = torch.randn(1, 3, h, w)
    assert torch.allclose(model(x), x.mean((2, 3), keepdim=True).expand(1, 3, h, w), atol=1e-6)


def test_bilinear_needs_align_corners_and_a_size() -> None:
    found = errors_of("name: b\ninput: 3x8x8\nlayers:\n  - upsample 2 (bilinear)\n")
    assert "needs `align_corners=true` or `align_corners=false`" in found[0][2]
    found = errors_of("name: b\ninput: 3x8x8\nlayers:\n  - upsample\n")
    assert "give a factor" in found[0][2]


def test_joins_spread_a_global_feature_over_the_image() -> None:
    net = net_of(
        "  - g: {from: x, layers: [gap, conv1-8]}\n  - m: {from: [x, g], join: mul}\n"
        "  - a: {from: [m, g], join: add}\n"
    )
    assert net.output == Shape(8, 16, 16)
    model = net.build().eval()
    x = torch.randn(1, 8, 16, 16)
    g = model.g(x)
    assert torch.allclose(model(x), x * g + g)


# ------------------------------------------------------------------ computed kernels


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 7), s=st.integers(1, 3), c=st.integers(1, 9))
def test_computed_kernel_in_the_name(k: int, s: int, c: int) -> None:
    head = f"params: {{k: {k}, s: {s}, c: {c}}}\n"
    net = net_of("  - conv{k}/{s}-{c}\n", "2x12x13", head)
    layer = torch.nn.Conv2d(2, c, k, s)
    assert tuple(net.output.as_list()) == tuple(layer(torch.zeros(1, 2, 12, 13)).shape[1:])
    assert net.params == sum(p.numel() for p in layer.parameters())
    same = net_of(f"  - conv/{s}-{c} (kernel={k})\n", "2x12x13")
    assert same.find("conv1").attrs == net.find("conv1").attrs


# ------------------------------------------------------------------ traps


def test_child_defaults_merge_op_by_op(tmp_path: Path) -> None:
    (tmp_path / "_base.yaml").write_text(
        "input: 3x32x32\ndefaults:\n  conv: {pad: same, act: relu}\nlayers:\n  - conv3-8\n"
    )
    (tmp_path / "child.yaml").write_text("base: _base.yaml\nname: child\n"
                                         "defaults:\n  conv: {bn: true}\n")  # fmt: skip
    conv = archspec.load(tmp_path / "child.yaml").find("conv1")
    assert conv.attrs["bn"] is True and conv.attrs["act"] == "relu"
    assert conv.output == Shape(8, 32, 32)


def test_a_list_under_an_unknown_key_is_an_error() -> None:
    found = errors_of("name: b\ninput: 3x8x8\nlayers:\n  - concta: [identity, conv3-16]\n")
    assert found[0][:2] == (4, 5)
    assert "unknown combinator `concta` — did you mean `concat`?" in found[0][2]
    net = net_of("  - stem: {layers: [conv1-4, relu]}\n")
    assert [c.name for c in net.find("stem").children] == ["conv1", "relu1"]


def test_all_independent_errors_of_a_file_are_reported() -> None:
    text = (
        "name: b\ninput: 3x32x32\nlayers:\n  - conv3-16 (act=hardswsh)\n"
        "  - conv3-16 (act=hard_sigmod)\n  - cnov3-16\n  - conv3-16 (groups=5)\n"
    )
    assert [place[:2] for place in errors_of(text)] == [(4, 5), (5, 5), (6, 5), (7, 5)]
    # the four lines of the report: two activations valid now, two errors left
    text = (
        "name: b\ninput: 3x32x32\nlayers:\n  - conv3-16 (act=hardswish)\n"
        "  - conv3-16 (act=hardsigmoid)\n  - cnov3-16\n  - conv3-16 (groups=5)\n"
    )
    assert [place[:2] for place in errors_of(text)] == [(6, 5), (7, 5)]


def test_an_unknown_variant_is_reported_alone() -> None:
    text = (
        "name: b\ninput: 3x32x32\nvariants:\n  tiny: {w: 8, n: 1}\n  big: {w: 64, n: 2}\n"
        "variant: small\nlayers:\n  - conv3-{w} x{n}\n  - conv3-{w * 2}\n  - fc-{w}\n"
    )
    found = errors_of(text)
    assert len(found) == 1 and found[0][2].startswith("unknown variant `small`")


def test_the_spec_s_own_name_wins_over_its_variant(tmp_path: Path) -> None:
    family = (REPO / "specs" / "_resnet.yaml").read_text()
    (tmp_path / "_resnet.yaml").write_text(family)
    (tmp_path / "resnet50_v1_5.yaml").write_text(
        "base: _resnet.yaml\nname: resnet50_v1_5\nvariant: resnet50\n"
    )
    assert archspec.load(tmp_path / "resnet50_v1_5.yaml").name == "resnet50_v1_5"
    assert archspec.load(tmp_path / "_resnet.yaml", variant="resnet101").name == "resnet101"
    assert archspec.load(REPO / "specs" / "_resnet.yaml").name == "resnet18"
    assert archspec.load("resnet50").name == "resnet50"


def test_base_names_a_bundled_spec_or_a_path_inside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("base: vgg_d\nname: mine\ninput: 3x32x32\n"
                                        "params: {}\n")  # fmt: skip
    net = archspec.load(tmp_path / "mine.yaml")
    assert net.name == "mine" and net.input == Shape(3, 32, 32)
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "_f.yaml").write_text("input: 3x8x8\nlayers:\n  - conv3-4\n")
    (tmp_path / "child.yaml").write_text("base: fam/_f.yaml\nname: child\n")
    assert archspec.load(tmp_path / "child.yaml").params == 4 * 27 + 4
    for target in ("../outside.yaml", "/etc/passwd.yaml", "link.yaml"):
        (tmp_path.parent / "outside.yaml").write_text("input: 3x8x8\nlayers: [relu]\n")
        if target == "link.yaml":
            (tmp_path / "link.yaml").symlink_to(tmp_path.parent / "outside.yaml")
        (tmp_path / "bad.yaml").write_text(f"base: {target}\nname: bad\n")
        with pytest.raises(archspec.errors.ArchSpecError) as caught:
            archspec.load(tmp_path / "bad.yaml")
        assert (caught.value.span.line, caught.value.span.col) == (1, 7)


def test_input_and_params_can_be_overridden() -> None:
    net = archspec.load("densenet_bc_100_k12", input="3x64x64", params={"k": 24})
    assert net.input == Shape(3, 64, 64)
    assert net.params != archspec.load("densenet_bc_100_k12").params
    net = archspec.load("resnet50", params={"stages": [3, 4, 23, 3]})
    assert net.params == archspec.load("resnet101").params
    with pytest.raises(ToolError, match="did you mean `stages`"):
        archspec.load("resnet50", params={"stagse": 1})
    with pytest.raises(ToolError, match="CxHxW"):
        archspec.load("resnet50", input="3x12")


@pytest.mark.parametrize("command", ["summary", "check", "draw", "compile"])
def test_cli_input_and_set_options(command: str, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "archspec", command, "resnet20", "--input", "3x64x64"]
    args += ["--set", "n=1"]
    if command in ("draw", "compile"):
        args += ["-o", str(tmp_path / ("out.dot" if command == "draw" else "out.py"))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    if command == "check":
        assert "3×64×64" in result.stdout


def test_se_receptive_field_covers_its_gate() -> None:
    net = net_of("  - conv3-8 (pad=same)\n  - scale: gap, fc-2 (act=relu), fc-8 (act=sigmoid)\n")
    block = net.root.children[1]
    assert block.field.size >= block.children[0].field.size > 3


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("  - hardswis\n", "did you mean `hardswish`?"),
        ("  - upsampel 2\n", "did you mean `upsample`?"),
        ("  - LN\n", "write `layernorm`"),
        ("  - dwconv3-32\n", "a depthwise conv is `conv3-C (groups=C)`"),
        ("  - conv3-8 (activation=relu)\n", "write `act=`"),
    ],
)
def test_did_you_mean_is_close_or_says_what_to_write(written: str, expected: str) -> None:
    found = errors_of(f"name: b\ninput: 3x8x8\nlayers:\n{written}")
    assert expected in found[0][2]
    assert "`swish`" not in found[0][2] and "`LRN`" not in found[0][2]
    assert "`deconv3`" not in found[0][2] and "`dilation`" not in found[0][2]


def test_did_you_mean_never_suggests_a_far_name() -> None:
    from archspec.errors import did_you_mean

    assert did_you_mean("hardswish", ["swish", "relu"]) == ""
    assert did_you_mean("cnov", ["conv"]) == " — did you mean `conv`?"


# ------------------------------------------------------------------ README


def test_readme_op_table_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    current = readme[readme.index(OPS_BEGIN) + len(OPS_BEGIN) : readme.index(OPS_END)].strip()
    assert current == op_table(), "run `python -m archspec.zoo --write` to refresh README.md"


# ------------------------------------------------------------------ against the libraries

LIBRARY = {
    "mobilenet_v3_small": ("models.mobilenet_v3_small", (1, 3, 64, 64)),
    "shufflenet_v2_x0_5": ("models.shufflenet_v2_x0_5", (1, 3, 64, 64)),
    "shufflenet_v2_x2_0": ("models.shufflenet_v2_x2_0", (1, 3, 64, 64)),
    "convnext_small": ("models.convnext_small", (1, 3, 64, 64)),
    "lraspp_mobilenet_v3_large": ("models.segmentation.lraspp_mobilenet_v3_large", (1, 3, 64, 64)),
    "fcn_resnet50": ("models.segmentation.fcn_resnet50", (1, 3, 64, 64)),
}


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_spec_equals_the_torchvision_model(name: str) -> None:
    torchvision = import_torchvision()
    where, size = LIBRARY[name]
    factory = torchvision
    for part in where.split("."):
        factory = getattr(factory, part)
    kwargs = {"weights": None}
    if "segmentation" in where:
        kwargs["weights_backbone"] = None
    torch.manual_seed(0)
    reference = factory(**kwargs)
    net = archspec.load(name)
    assert net.params == sum(p.numel() for p in reference.parameters())
    same_outputs(net, reference, torch.randn(*size))
