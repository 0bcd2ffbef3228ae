"""The model zoo: every spec in specs/ runs through every stage, and every
network's parameter count is held to its reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.ir import Layer, verify, walk
from archspec.zoo import BEGIN, END, zoo_table
from reference import numerics

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
SPECS = [path.stem for path in archspec.bundled_specs()]

# Exact parameter counts, with where each comes from. "computed" figures were
# counted from the architecture as the cited code builds it (no library to
# instantiate here), and agree with the rounded figure the paper prints.
REFERENCE_PARAMS = {
    "lenet5": (
        60_850,
        "LeCun et al. 1998: 60,000 trainable through F6 + a 10-way linear output (850)",
    ),
    "lenet5_modern": (61_706, "computed: full C3, FC 84→10"),
    "alexnet": (60_965_224, "DESIGN §5, AlexNet with the two-GPU groups"),
    "zfnet": (107_627_624, "computed: seed 001's ZFNet changes (512-1024-512)"),
    "nin": (7_595_176, "computed: Caffe model zoo nin_imagenet"),
    "vgg_a": (132_863_336, "torchvision vgg11"),
    "vgg_a_lrn": (132_863_336, "VGG Table 2 (LRN has no parameters)"),
    "vgg_b": (133_047_848, "torchvision vgg13"),
    "vgg_c": (133_638_952, "DESIGN §5, VGG C"),
    "vgg_d": (138_357_544, "torchvision vgg16"),
    "vgg_e": (143_667_240, "torchvision vgg19"),
    "googlenet": (6_998_552, "computed: Szegedy et al. 2015 Table 1 with Caffe's biases (≈7M)"),
    "googlenet_aux": (13_378_280, "computed: googlenet + the two auxiliary heads of §5"),
    "bn_inception": (11_295_240, "Cadene pretrainedmodels bninception"),
    "se_inception": (11_941_638, "computed: bn_inception + SE (r=16) after every module"),
    "inception_v3": (23_834_568, "torchvision inception_v3, no aux"),
    "inception_v3_aux": (27_161_264, "torchvision inception_v3 with its aux head"),
    "inception_v4": (42_679_816, "timm inception_v4"),
    "inception_resnet_v1": (22_756_328, "computed: Szegedy et al. 2017, 5/10/5 modules"),
    "inception_resnet_v2": (55_843_464, "timm inception_resnet_v2"),
    "resnet18": (11_689_512, "torchvision resnet18"),
    "resnet34": (21_797_672, "torchvision resnet34"),
    "resnet50": (25_557_032, "torchvision resnet50"),
    "resnet101": (44_549_160, "torchvision resnet101"),
    "resnet152": (60_192_808, "torchvision resnet152"),
    "resnet20": (269_722, "He et al. 2016 Table 6 (0.27M), option A shortcuts"),
    "resnet56": (853_018, "He et al. 2016 Table 6 (0.85M), option A shortcuts"),
    "resnet110": (1_727_962, "He et al. 2016 Table 6 (1.7M), option A shortcuts"),
    "resnet1202": (19_421_274, "He et al. 2016 Table 6 (19.4M), option A shortcuts"),
    "resnet110_stochastic_depth": (1_727_962, "Huang et al. 2016: drop-path adds no parameters"),
    "preact_resnet164": (1_703_258, "computed: He et al. 2016b (1.7M)"),
    "wide_resnet28_10": (36_479_194, "computed: Zagoruyko & Komodakis 2016 (36.5M)"),
    "wide_resnet50_2": (68_883_240, "torchvision wide_resnet50_2"),
    "resnext50_32x4d": (25_028_904, "torchvision resnext50_32x4d"),
    "densenet121": (7_978_856, "torchvision densenet121"),
    "densenet169": (14_149_480, "torchvision densenet169"),
    "densenet201": (20_013_928, "torchvision densenet201"),
    "densenet161": (28_681_000, "torchvision densenet161"),
    "densenet_bc_100_k12": (769_162, "computed: Huang et al. 2017 Table 2 (0.8M)"),
    "se_resnet50": (28_088_024, "timm seresnet50"),
    "senet154": (115_088_984, "timm legacy_senet154"),
    "fractalnet": (76_106_634, "computed: C=4, 5 blocks of 64-128-256-512-512, BN, no conv bias"),
    "squeezenet1_0": (1_248_424, "torchvision squeezenet1_0"),
    "squeezenet1_1": (1_235_496, "torchvision squeezenet1_1"),
    "nasnet_a_mobile": (5_289_978, "Cadene pretrainedmodels nasnetamobile (paper: 5.3M)"),
    "fcn32s": (136_152_917, "voc-fcn32s: 134,346,581 learned + 1,806,336 fixed deconv weights"),
    "dilated_context": (28_392, "computed: Yu & Koltun 2016 basic module, C=21"),
    # library-exact specs (`weights:`), each checked tensor for tensor in test_weights.py
    "tv_alexnet": (61_100_840, "torchvision alexnet"),
    "tv_googlenet": (6_624_904, "torchvision googlenet (aux_logits=False)"),
    "tv_resnet50": (25_557_032, "torchvision resnet50"),
    "tv_resnet101": (44_549_160, "torchvision resnet101"),
    "tv_resnet152": (60_192_808, "torchvision resnet152"),
    "tv_resnext101_32x8d": (88_791_336, "torchvision resnext101_32x8d"),
    "tv_resnext101_64x4d": (83_455_272, "torchvision resnext101_64x4d"),
    "tv_wide_resnet101_2": (126_886_696, "torchvision wide_resnet101_2"),
    "tv_vgg11_bn": (132_868_840, "torchvision vgg11_bn"),
    "tv_vgg13_bn": (133_053_736, "torchvision vgg13_bn"),
    "tv_vgg16_bn": (138_365_992, "torchvision vgg16_bn"),
    "tv_vgg19_bn": (143_678_248, "torchvision vgg19_bn"),
    "mobilenet_v3_small": (2_542_856, "torchvision mobilenet_v3_small"),
    "shufflenet_v2_x0_5": (1_366_792, "torchvision shufflenet_v2_x0_5"),
    "shufflenet_v2_x2_0": (7_393_996, "torchvision shufflenet_v2_x2_0"),
    "convnext_small": (50_223_688, "torchvision convnext_small"),
    "ghostnet_100": (5_182_508, "timm ghostnet_100"),
    "cspdarknet53": (27_642_184, "timm cspdarknet53"),
    "lraspp_mobilenet_v3_large": (3_221_538, "torchvision segmentation lraspp_mobilenet_v3_large"),
    "fcn_resnet50": (32_957_013, "torchvision segmentation fcn_resnet50, no aux head"),
    "pyramidnet110_a48": (
        1_772_706,
        "computed from the authors' PyramidNet-PyTorch (basic blocks, widths round(16 + 48k/54),"
        " BN-only conv layers, 10-way FC); the paper's Table 4 prints 1.7M",
    ),
}


def test_every_spec_has_a_reference() -> None:
    assert sorted(REFERENCE_PARAMS) == sorted(SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_reference_parameter_count(name: str) -> None:
    expected, _source = REFERENCE_PARAMS[name]
    net = archspec.load(name)
    verify(net.root)
    assert net.params == expected


@pytest.mark.parametrize("name", numerics(SPECS))
def test_spec_runs_through_every_stage(name: str) -> None:
    net = archspec.load(name)
    assert net.summary().count("\n") > len(net.rows())
    model = net.build().train()
    assert sum(p.numel() for p in model.parameters()) == net.params
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for node, _depth, path in walk(net.root):
        if isinstance(node, Layer) and len(node.inputs) == 1:
            dotted = ".".join(path[1:])
            handles.append(
                model.get_submodule(dotted).register_forward_hook(
                    lambda _m, _i, out, key=dotted: shapes.__setitem__(key, tuple(out.shape[1:]))
                )
            )
    torch.manual_seed(0)
    outputs = model(torch.randn(2, *net.input.as_list()))
    for handle in handles:
        handle.remove()
    expected = {
        ".".join(path[1:]): tuple(node.output.as_list())
        for node, _d, path in walk(net.root)
        if isinstance(node, Layer) and len(node.inputs) == 1
    }
    assert shapes == expected
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert [tuple(o.shape[1:]) for o in outputs] == [tuple(s.as_list()) for s in net.outputs]
    sum(o.float().pow(2).mean() for o in outputs).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    source = net.source()
    compile(source, f"{name}.py", "exec")


def test_readme_zoo_table_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert BEGIN in readme and END in readme, "README.md lost its zoo-table markers"
    current = readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)].strip()
    assert current == zoo_table(), "run `python -m archspec.zoo --write` to refresh README.md"


def test_zoo_command_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "archspec.zoo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.strip() == zoo_table()
