"""The inference build (`net.build(inference=True)`, `fold`) computes what the
plain build computes in eval mode, on every bundled spec."""

from __future__ import annotations

import copy

import pytest
import torch

import archspec
from archspec import cli
from archspec.compiler.torch.inference import ConvAct2d, fold

RTOL = 1e-4

# Specs whose forward at their own input size takes seconds on two CPU cores.
HEAVY = {
    "fcn32s", "senet154", "vgg_a", "vgg_a_lrn", "vgg_b", "vgg_c", "vgg_d", "vgg_e",
    "inception_resnet_v2", "inception_v4", "resnet152", "resnet101", "wide_resnet50_2",
    "densenet161", "densenet201", "densenet169", "resnet1202", "fractalnet",
    "inception_resnet_v1", "alexnet", "zfnet", "wide_resnet28_10",
}  # fmt: skip
SPECS = [path.stem for path in archspec.bundled_specs()]
# Random BN scales compound over depth; the 1,202-layer net overflows at ~1.
GAMMA = {"resnet1202": 0.3}


def _randomise(module: torch.nn.Module, seed: int = 1, gamma: float = 1.0) -> None:
    """Non-trivial BN statistics and affine terms (fresh ones fold to ~identity),
    and no softmax, whose saturation would hide differences in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.4 + 0.8)
                m.weight.copy_((torch.rand(n, generator=g) * 0.4 + 0.8) * gamma)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Softmax):
                setattr(parent, name, torch.nn.Identity())


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _assert_close(expected, actual) -> None:
    for e, a in zip(_as_tuple(expected), _as_tuple(actual), strict=True):
        assert e.shape == a.shape
        assert e.isfinite().all()
        scale = e.abs().max().clamp_min(1e-12)
        assert ((e - a).abs().max() / scale).item() <= RTOL


def _check_spec(name: str, batch: int = 1) -> None:
    net = archspec.load(name)
    torch.manual_seed(0)
    plain = net.build().eval()
    _randomise(plain, gamma=GAMMA.get(name, 1.0))
    folded = fold(copy.deepcopy(plain))
    x = torch.randn(batch, *net.input.as_list())
    with torch.inference_mode():
        _assert_close(plain(x), folded(x))


@pytest.mark.parametrize("name", [s for s in SPECS if s not in HEAVY])
def test_fold_matches_plain_build(name: str) -> None:
    _check_spec(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [s for s in SPECS if s in HEAVY])
def test_fold_matches_plain_build_heavy(name: str) -> None:
    _check_spec(name)


def test_build_inference_is_fold_of_build() -> None:
    net = archspec.load("resnet20")
    torch.manual_seed(0)
    plain = net.build().eval()
    torch.manual_seed(0)
    inference = net.build(inference=True)
    assert not inference.training
    assert not any(p.requires_grad for p in inference.parameters())
    x = torch.randn(4, *net.input.as_list())
    with torch.inference_mode():
        _assert_close(plain(x), inference(x))


def test_bn_folds_into_the_conv_and_leaves() -> None:
    model = fold(archspec.load("resnet50").build())
    names = dict(model.named_modules())
    layer = names["conv2_x.bottleneck1.residual.conv2"]
    assert "bn" not in layer._modules
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert isinstance(layer.conv, ConvAct2d)  # conv → BN → ReLU became one call
    assert layer.conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_pre_order_bn_stays() -> None:
    """BN → ReLU → conv (order=pre) cannot fold into the conv after it; the BN
    after a conv in the same sequence still folds."""
    model = fold(archspec.load("preact_resnet164").build())
    residual = dict(model.named_modules())["conv2_x.unit1.residual"]
    assert isinstance(residual.bn1, torch.nn.BatchNorm2d)
    assert "bn2" not in residual._modules  # folded into conv1


def test_dropout_and_drop_path_become_identity() -> None:
    for name in ("vgg_a", "resnet110_stochastic_depth"):
        model = fold(archspec.load(name).build())
        kinds = {type(m).__name__ for m in model.modules()}
        assert not kinds & {"Dropout", "DropPath"}, name


def test_fold_after_loading_weights() -> None:
    """Folding bakes in the BN statistics present when `fold` runs."""
    net = archspec.load("resnet20")
    trained = net.build().eval()
    _randomise(trained, seed=7)
    fresh = net.build()
    fresh.load_state_dict(trained.state_dict())
    folded = fold(fresh)
    x = torch.randn(2, *net.input.as_list())
    with torch.inference_mode():
        _assert_close(trained(x), folded(x))


def test_fused_conv_relu_fallback_matches() -> None:
    """Off the oneDNN path (autograd on, here) the module computes the same."""
    conv = torch.nn.Conv2d(8, 16, 3, padding=1)
    fused = ConvAct2d(conv, torch.nn.ReLU())
    x = torch.randn(2, 8, 10, 10, requires_grad=True)
    expected = torch.relu(conv(x))
    torch.testing.assert_close(fused(x), expected)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x.detach()), expected.detach())


def test_compiled_inference_source(tmp_path) -> None:
    """`archspec compile --inference` appends `fold` and `inference_model`; the
    file still imports only torch, and its folded model matches its class."""
    out = tmp_path / "resnet20_inference.py"
    assert cli.main(["compile", "resnet20", "--inference", "-o", str(out)]) == 0
    namespace: dict = {"__name__": "resnet20_inference"}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), namespace)
    net_cls = namespace["Resnet20"]
    torch.manual_seed(0)
    trained = net_cls().eval()
    _randomise(trained, seed=3)
    model = namespace["inference_model"](trained.state_dict())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        _assert_close(trained(x), model(x))
