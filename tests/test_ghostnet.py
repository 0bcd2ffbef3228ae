"""GhostNet (specs/ghostnet_100.yaml) against timm's ghostnet_100: the same
tensors in the same order, and the same outputs once the weights are copied."""

from __future__ import annotations

import pytest

import archspec
from reference import import_torchvision, randomise_batch_norm

torch = pytest.importorskip("torch")


def _timm_ghostnet_100() -> torch.nn.Module:
    import_torchvision()  # timm imports torchvision; the shim makes it load
    timm = pytest.importorskip("timm")
    return timm.create_model("ghostnet_100", pretrained=False)


def _tensors(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Parameters and float buffers in registration order (no BN batch counters)."""
    return [(k, v) for k, v in model.state_dict().items() if v.dtype != torch.long]


def _plain(shape: torch.Size) -> tuple[int, ...]:
    """A 1×1 conv's weight reads as a Linear's."""
    return tuple(shape[:2]) if len(shape) == 4 and tuple(shape[2:]) == (1, 1) else tuple(shape)


def test_ghostnet_100_equals_timm() -> None:
    torch.manual_seed(0)
    reference = _timm_ghostnet_100().eval()
    net = archspec.load("ghostnet_100")
    assert net.params == sum(p.numel() for p in reference.parameters()) == 5_182_508

    randomise_batch_norm(reference)  # so eval-mode BN is not the identity
    generator = torch.Generator().manual_seed(1)

    model = net.build().eval()
    ours, theirs = _tensors(model), _tensors(reference)
    assert [_plain(v.shape) for _, v in ours] == [_plain(v.shape) for _, v in theirs]
    model.load_state_dict(
        {k: t.reshape(v.shape) for (k, v), (_, t) in zip(ours, theirs, strict=True)}, strict=False
    )

    x = torch.randn(2, 3, 64, 64, generator=generator)
    with torch.no_grad():
        got, expected = model(x), reference(x)
    assert got.shape == expected.shape == (2, 1000)
    print("max |difference|", (got - expected).abs().max().item())
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
