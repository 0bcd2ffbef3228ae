"""Where tests find `../shared` (the reference data beside the repository) and
how they import torchvision's and timm's model definitions, or skip cleanly."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"


def import_torchvision() -> ModuleType:
    """`torchvision`, imported through the shared shim (its compiled operators do
    not load on the CPU torch); the calling test is skipped where it is absent."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    shim = REFERENCE / "torchvision_shim.py"
    if not shim.is_file():
        pytest.skip(f"{shim} is missing")
    if "torchvision_shim" not in sys.modules:
        spec = importlib.util.spec_from_file_location("torchvision_shim", shim)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["torchvision_shim"] = module
        spec.loader.exec_module(module)
    import torchvision

    return torchvision


# Networks whose real numerics run in the default test run: small, and between
# them every block kind and unusual op (table conv, subsampling, option-A
# shortcuts, drop-path, dense, mean joins, graph heads, SE gates, dilation).
# Every other bundled network runs the same checks under the `slow` marker,
# which CI runs too; shapes of every network are checked on the meta device.
REPRESENTATIVE = frozenset(
    {
        "lenet5",
        "resnet20",
        "resnet110_stochastic_depth",
        "densenet_bc_100_k12",
        "fractalnet",
        "googlenet_aux",
        "squeezenet1_1",
        "dilated_context",
        "se_resnet50",
        "nasnet_a_mobile",
    }
)


def numerics(names: list[str], representative: Iterable[str] = REPRESENTATIVE) -> list:
    """`names` as parameters; all but the representative ones marked slow."""
    keep = frozenset(representative)
    return [name if name in keep else pytest.param(name, marks=pytest.mark.slow)
            for name in names]  # fmt: skip


def randomise_batch_norm(model: Any) -> None:
    """Non-trivial BN statistics and affine weights (seeded), so that eval-mode
    BN is not the identity when two models are compared."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=gen) * 0.1)
            module.running_var.copy_(torch.rand(shape, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(shape, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(shape, generator=gen) * 0.1)
            module.num_batches_tracked.fill_(7)
