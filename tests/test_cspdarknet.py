"""CSPDarknet-53: the bundled spec computes what timm's `cspdarknet53` computes,
with timm's weights copied in tensor by tensor."""

from __future__ import annotations

import pytest

import archspec
from reference import import_torchvision

torch = pytest.importorskip("torch")
nn = torch.nn


def timm_cspdarknet53() -> nn.Module:
    import_torchvision()
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("cspdarknet53", pretrained=False)
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=gen) * 0.1)
            module.running_var.copy_(torch.rand(shape, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(shape, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(shape, generator=gen) * 0.1)
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
