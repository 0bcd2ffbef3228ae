"""`archspec.from_module` on torchvision models: the imported spec, built and given
the source's weights, computes the source's outputs (eval mode, atol 1e-5)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from spelling import written_and_spelt  # noqa: E402

import archspec  # noqa: E402

SHIM = Path(__file__).resolve().parents[2] / "shared" / "reference" / "torchvision_shim.py"


def _models():
    if not SHIM.is_file() or importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision (and its shim) is absent")
    spec = importlib.util.spec_from_file_location("torchvision_shim", SHIM)
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    from torchvision import models

    return models


def _tensors(module: torch.nn.Module) -> list[torch.Tensor]:
    return [t for k, t in module.state_dict().items() if not k.endswith("num_batches_tracked")]


def _check(name: str, size: int, **kwargs) -> str:
    models = _models()
    torch.manual_seed(0)
    source = getattr(models, name)(weights=None, **kwargs).eval()
    for m in source.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    text = archspec.from_module(source, (3, size, size), name)
    net = archspec.loads(text, filename=f"{name}.yaml")
    assert net.params == sum(p.numel() for p in source.parameters())
    built = net.build().eval()
    theirs, ours = _tensors(source), _tensors(built)
    assert [t.shape for t in theirs] == [t.shape for t in ours]
    with torch.no_grad():
        for src, dst in zip(theirs, ours, strict=True):
            dst.copy_(src)
        x = torch.randn(2, 3, size, size)
        expected, got = source(x), built(x)
    if net.layers()[-1].op == "softmax":
        expected = torch.softmax(expected, 1)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    return text


def test_resnet18() -> None:
    text = _check("resnet18", 64)
    assert "  - layer1: basic_block(64) x2" in text


def test_resnet50() -> None:
    text = _check("resnet50", 64)
    assert "  - layer3: bottleneck(256, 2), bottleneck(256) x5" in text
    assert len(text.splitlines()) == 18


def test_googlenet() -> None:
    text = _check("googlenet", 64, aux_logits=False, init_weights=True)
    assert "  - inception 4e: [256, 160, 320, 32, 128, 128]" in text


def test_squeezenet1_0() -> None:
    _check("squeezenet1_0", 64)


def test_mobilenet_v2() -> None:
    _check("mobilenet_v2", 64)


def test_densenet121() -> None:
    text = _check("densenet121", 64)
    assert "dense_layer_block x24" in text


@pytest.mark.slow
def test_vgg16_bn() -> None:
    _check("vgg16_bn", 224)  # its 7×7 adaptive pool is the identity only at 224


@pytest.mark.slow
def test_inception_v3() -> None:
    _check("inception_v3", 299, aux_logits=False, init_weights=True)


def test_each_layer_is_written_as_its_op_spells_it() -> None:
    """Every imported layer is its op's spelling under the chosen defaults:
    paddings that `same` or `valid` give written so, others as their sizes,
    pool rounding as a flag, a dropout's rate after its name."""
    nn = torch.nn

    def conv(cin: int, cout: int, *args, eps: float = 1e-5, **kwargs) -> list:
        return [nn.Conv2d(cin, cout, *args, **kwargs), nn.BatchNorm2d(cout, eps=eps), nn.ReLU()]

    net = nn.Sequential(
        *conv(3, 16, 3, padding=1), *conv(16, 16, 3, padding=1, eps=1e-3),
        nn.Conv2d(16, 16, 3), nn.Tanh(),  # valid under a `same` default, no BN
        *conv(16, 16, (1, 7), padding=(0, 3)), *conv(16, 16, 3, padding=(2, 1), bias=False),
        *conv(16, 16, 3, padding=2, dilation=2, groups=4, bias=False),
        *conv(16, 16, 5, padding=1), *conv(16, 16, 2, padding=1), *conv(16, 16, 2),
        nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1),
        nn.AvgPool2d(3, 1, 1, count_include_pad=False), nn.LocalResponseNorm(3, k=1.0),
        nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1, bias=False),  # pre-activation
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 16 * 15, 32, bias=False),
        nn.Dropout(), nn.Linear(32, 10), nn.Softmax(1),
    )  # fmt: skip
    text = archspec.from_module(net.eval(), (3, 32, 32), "spelt")
    seen = written_and_spelt(text)
    written = [w for _l, w, _s in seen]
    assert written == [spelt for _l, _w, spelt in seen]
    assert len(seen) == 21
    for expected in ("conv3-16 (pad=valid, bn=false, act=tanh)", "conv3-16 (pad=[2, 1])",
                     "conv2-16 (pad=1, bias=true)", "conv2-16 (pad=valid, bias=true)",
                     "conv3-16 (bias=true, eps=0.001)", "maxpool3/2 (pad=1)", "maxpool2/2 (floor)",
                     "deconv3/2-8 (pad=same, output_padding=1)", "LRN (size=3, k=1.0)",
                     "conv1-8 (order=pre)", "dropout 0.3", "FC-32 (bias=false)"):  # fmt: skip
        assert expected in written, (expected, text)


def test_unsupported_module_is_named() -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Softplus())

        def forward(self, x):
            return self.body(x)

    with pytest.raises(archspec.ArchSpecError, match=r"unsupported module `body.1` \(Softplus\)"):
        archspec.from_module(Net(), (3, 16, 16))


def test_cli_imports_only_torchvision_model_functions(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _models()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for name in ("ResNet", "__import__", "os.system"):
        target = tmp_path / "out.yaml"
        proc = subprocess.run(
            [sys.executable, "-m", "archspec", "import", f"torchvision:{name}", "-o", str(target)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "is not a model function of torchvision.models" in proc.stderr
        assert not target.exists()
