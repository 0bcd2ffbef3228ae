"""Bundled specs against the figures their papers and torchvision print.

Sources: VGG Table 2 / torchvision 0.28 (vgg11…vgg19), GoogLeNet Table 1
(Szegedy et al. 2015), ResNet Table 1 (He et al. 2016) and torchvision 0.28
(resnet18…152), DenseNet Table 1 (Huang et al. 2017) and torchvision 0.28
(densenet121…201); all collected in ../shared/DESIGN.md §5.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import archspec
from archspec.ir import Shape, verify

VGG_PARAMS = {  # torchvision vgg11/vgg13/vgg16/vgg19; VGG Table 2 for C and A-LRN
    "vgg_a": 132_863_336,
    "vgg_a_lrn": 132_863_336,
    "vgg_b": 133_047_848,
    "vgg_c": 133_638_952,
    "vgg_d": 138_357_544,
    "vgg_e": 143_667_240,
}


@pytest.mark.parametrize(("name", "params"), VGG_PARAMS.items())
def test_vgg_params(name: str, params: int) -> None:
    net = archspec.load(name)
    verify(net.root)
    assert net.params == params
    assert net.output == Shape(1000)


# GoogLeNet Table 1: output size (H×W×C) and the "ops" column in millions.
GOOGLENET_ROWS = {
    "inception_3a": ("28×28×256", 128),
    "inception_3b": ("28×28×480", 304),
    "inception_4a": ("14×14×512", 73),
    "inception_4b": ("14×14×512", 88),
    "inception_4c": ("14×14×512", 100),
    "inception_4d": ("14×14×528", 119),
    "inception_4e": ("14×14×832", 170),
    "inception_5a": ("7×7×832", 54),
    "inception_5b": ("7×7×1024", 71),
}


@pytest.mark.parametrize(("row", "expected"), GOOGLENET_ROWS.items())
def test_googlenet_inception_rows(row: str, expected: tuple[str, int]) -> None:
    size, ops_millions = expected
    node = archspec.load("googlenet").find(row)
    assert node.output.hwc() == size
    if row == "inception_5a":
        # The paper's 54M for 5a is inconsistent with its own columns: the
        # columns give 51.1M; 54M is what a #5×5 reduce of 48 (5b's) gives.
        assert round(node.cost.macs / 1e6) == 51
        text = Path(archspec.load("googlenet").path).read_text(encoding="utf-8")
        patched = archspec.loads(
            text.replace("inception 5a: [256, 160, 320, 32,", "inception 5a: [256, 160, 320, 48,")
        )
        assert round(patched.find(row).cost.macs / 1e6) == ops_millions
        return
    # The paper prints whole millions, sometimes truncated (4a: 73.6M → 73M).
    assert (
        math.floor(node.cost.macs / 1e6) == ops_millions
        or round(node.cost.macs / 1e6) == ops_millions
    )


def test_googlenet_other_rows_match_output_size_column() -> None:
    net = archspec.load("googlenet")
    sizes = [row.outputs[0].hwc() for row in net.rows(depth=1)]
    assert sizes[:7] == [
        "112×112×64",
        "56×56×64",
        "56×56×64",
        "56×56×64",
        "56×56×192",
        "56×56×192",
        "28×28×192",
    ]
    assert net.find("maxpool3").output.hwc() == "14×14×480"
    assert net.find("maxpool4").output.hwc() == "7×7×832"
    assert net.find("avgpool1").output.hwc() == "1×1×1024"
    assert net.output == Shape(1000)


def test_googlenet_aux_has_three_outputs() -> None:
    plain, aux = archspec.load("googlenet"), archspec.load("googlenet_aux")
    assert aux.outputs == (Shape(1000), Shape(1000), Shape(1000))
    assert plain.params == 6_998_552
    # Each auxiliary head: 1×1 conv 128 (+bias), FC 2048→1024, FC 1024→1000.
    head_512 = 512 * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    head_528 = 528 * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    assert aux.params == plain.params + head_512 + head_528
    assert aux.find("aux1").inputs[0] == Shape(512, 14, 14)
    assert aux.find("aux2").inputs[0] == Shape(528, 14, 14)


RESNET = {  # params: torchvision 0.28; GMACs: ResNet Table 1 ("FLOPs" there are MACs)
    "resnet18": (11_689_512, 1.8),
    "resnet34": (21_797_672, 3.6),
    "resnet50": (25_557_032, 3.8),
    "resnet101": (44_549_160, 7.6),
    "resnet152": (60_192_808, 11.3),
}


@pytest.mark.parametrize(("name", "figures"), RESNET.items())
def test_resnet_params_and_macs(name: str, figures: tuple[int, float]) -> None:
    params, paper_gmacs = figures
    net = archspec.load(name)
    verify(net.root)
    # Moving the stride between 1×1 and 3×3 does not change any weight shape.
    assert net.params == params
    gmacs = net.macs / 1e9
    # The paper prints one decimal, truncating some figures (3.66 → 3.6) and
    # rounding others (7.57 → 7.6); ours must be one of the two.
    assert paper_gmacs in (math.floor(gmacs * 10) / 10, round(gmacs, 1))


def test_resnet_stride_sits_on_the_first_1x1() -> None:
    block = archspec.load("resnet50").find("conv3_x.bottleneck1")
    first = block.child("residual").child("conv1")
    assert first.notation == "conv1/2-128"
    assert block.child("shortcut").notation == "conv1/2-512"
    assert archspec.load("resnet50").find("conv3_x.bottleneck2").projection is False


DENSENET = {  # torchvision 0.28
    "densenet121": 7_978_856,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "densenet161": 28_681_000,
}


@pytest.mark.parametrize(("name", "params"), DENSENET.items())
def test_densenet_params(name: str, params: int) -> None:
    net = archspec.load(name)
    verify(net.root)
    assert net.params == params


def test_densenet_growth_and_compression() -> None:
    net = archspec.load("densenet121")
    assert net.find("dense_block_1").output == Shape(64 + 6 * 32, 56, 56)
    assert net.find("transition_1").output == Shape(128, 28, 28)
    assert net.find("dense_block_4").output == Shape(512 + 16 * 32, 7, 7)
    assert archspec.load("densenet161").find("conv1").output == Shape(96, 112, 112)
