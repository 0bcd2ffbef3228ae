"""`archspec.from_module` on torchvision models: the imported spec, built and given
the source's weights, computes the source's outputs (eval mode, atol 1e-5)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

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
