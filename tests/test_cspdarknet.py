"""CSPDarknet-53: the bundled spec computes what timm's `cspdarknet53` computes,
with timm's weights copied in tensor by tensor."""

from __future__ import annotations

import pytest

import archspec
from reference import import_torchvision, randomise_batch_norm

torch = pytest.importorskip("torch")
nn = torch.nn


def timm_cspdarknet53() -> nn.Module:
    import_torchvision()
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("cspdarknet53", pretrained=False)
    randomise_batch_norm(model)
    return model.eval()


def test_cspdarknet53_matches_timm() -> None:
    reference = timm_cspdarknet53()
    net = archspec.load("cspdarknet53")
    assert net.params == sum(p.numel() for p in reference.parameters()) == 27_642_184
    model = net.build().eval()
    theirs = list(reference.state_dict().values())
    ours = model.state_dict()
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs]
    model.load_state_dict(dict(zip(ours, theirs, strict=True)))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert got.shape == expected.shape == (2, 1000)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
