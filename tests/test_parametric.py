"""The parametric generated source (compiler/source/parametric/): what its classes
and functions say must be true of the network at any size, not only at the
instances the spec has, and every bundled spec and family gets that form.

Real torch, real generated files imported as modules, a real CLI process.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

import archspec
from archspec.compiler.source.emit import network_class
from archspec.compiler.source.layerforms import slot_roles
from archspec.compiler.source.parametric import loop_stop, module_names, write_module
from archspec.compiler.torch import layers
from archspec.compiler.torch.builder import build_module
from archspec.compiler.torch.plan import LayerPlan, make_plan
from archspec.ir import Model

ROOT = Path(__file__).resolve().parent.parent
SPECS = [path.stem for path in archspec.bundled_specs()]
FAMILIES = ["_resnet", "_densenet", "_resnet_cifar", "_resnext", "_resnet_tv", "_shufflenet_v2"]


def import_text(text: str, folder: Path, stem: str) -> ModuleType:
    path = folder / f"{stem}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"parametric_{stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def module_tree(module: nn.Module) -> list[tuple[str, str, str]]:
    """Every submodule below the root, with its kind and settings (the root is
    the network class in one backend and a `Sequential` or `GraphModule` in
    the other)."""
    return [(name, module_kind(m), m.extra_repr()) for name, m in module.named_modules()][1:]


OURS = {*layers.COMBINATORS, *layers.PART_CLASSES}


def module_kind(module: nn.Module) -> str:
    """What a module is, whichever backend made it: the first torch.nn class
    or class of ours in its MRO. A generated `Bottleneck(Residual)` is a
    `Residual`; a graph block is a plain module in both (a generated `Graph`
    subclass, an `fx.GraphModule`)."""
    for cls in type(module).__mro__:
        if cls.__name__ in OURS:
            return "Module" if cls.__name__ == "Graph" else cls.__name__
        if cls.__module__.startswith("torch.nn"):
            return cls.__name__
    return "?"


def assert_builds_the_same_tree(text: str, model: Model, constructor: str) -> None:
    """The generated module's `constructor()` builds the builder's module tree:
    the same names, in the same order, of the same kinds with the same
    settings (the check `compile` once ran on its own output; the writer now
    decides from the IR alone, and this proves it decided right)."""
    namespace: dict = {"__name__": "parametric_check"}
    with torch.device("meta"):
        exec(compile(text, f"<{constructor}>", "exec"), namespace)
        twin = namespace[constructor]()
        built = build_module(model)
    assert module_tree(twin) == module_tree(built), constructor


def test_every_bundled_spec_gets_the_parametric_form() -> None:
    """No spec falls back to the unrolled form (MobileNetV3's blocks used to),
    and every generated class builds exactly the builder's tree."""
    for name in SPECS:
        net = archspec.load(name)
        text = write_module([net.model])
        assert net.source() == text, name
        assert_builds_the_same_tree(text, net.model, network_class(net.model))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_factory_builds_its_variant(family: str) -> None:
    """A family module's factories build each variant's tree exactly."""
    path = ROOT / "specs" / f"{family}.yaml"
    net = archspec.load(path)
    text = net.source(family=True)
    models = [archspec.load(path, variant=variant).model for variant in net.family()]
    _names, _cls, factories = module_names(models, family=True)
    for model, factory in zip(models, factories, strict=True):
        assert_builds_the_same_tree(text, model, factory)


def test_a_number_that_only_matches_is_not_a_parameter(tmp_path: Path) -> None:
    """Inception-v4's stem reads 3 input channels and has 3×3 kernels: the
    kernel is a number, the input is `in_c`, so the class builds a correct stem
    for any input (it once read `nn.Conv2d(in_c, 32, in_c)`)."""
    text = archspec.load("inception_v4").source()
    assert "        self.conv1 = conv_bn_relu(in_c, 32, 3, stride=2)\n" in text
    assert "branch1=nn.MaxPool2d(3, stride=2)," in text
    assert "in_c, 32, in_c" not in text
    module = import_text(text, tmp_path, "inception_v4")
    for channels in (1, 3, 5):
        stem = module.Stem(channels)
        first, *rest = convs(stem)
        assert first.in_channels == channels
        assert all(conv.kernel_size in ((3, 3), (1, 1), (1, 7), (7, 1)) for conv in [first, *rest])
        assert stem(torch.randn(1, channels, 299, 299)).shape == (1, 384, 35, 35)
    # Reduction-A reads 384 channels and has n = 384: its input is still `in_c`
    assert "def __init__(self, in_c: int, k: int, l_: int, m: int, n: int) -> None:" in text
    reduction = module.ReductionA(100, 192, 224, 256, 384)
    assert reduction(torch.randn(1, 100, 35, 35)).shape == (1, 100 + 256 + 384, 17, 17)


def test_layer_functions_tie_channels_by_the_op_rule(tmp_path: Path) -> None:
    """`conv_bn_relu(in, out, k)`: the BN takes the conv's output channels
    because the conv op's rule says so, and the fixed settings are written in."""
    text = archspec.load("inception_v4").source()
    assert text.count("\ndef conv_bn_relu(") == 1
    module = import_text(text, tmp_path, "inception_v4")
    layer = module.conv_bn_relu(5, 7, (1, 7), padding=(0, 3))
    assert [name for name, _m in layer.named_children()] == ["conv", "bn", "relu"]
    assert (layer.conv.in_channels, layer.conv.out_channels) == (5, 7)
    assert layer.conv.kernel_size == (1, 7) and layer.conv.padding == (0, 3)
    assert layer.conv.bias is None
    assert layer.bn.num_features == 7 and layer.bn.eps == 0.001
    assert layer.relu.inplace


def test_slot_roles_come_from_the_op() -> None:
    """Which arguments are the input and output channels, asked of the op."""
    net = archspec.load("resnet18")
    plan = make_plan(net.root)
    conv1 = next(c for c in plan.children if c.name == "conv1")
    assert isinstance(conv1, LayerPlan)
    assert [p.cls for p in conv1.parts] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert slot_roles(conv1) == {(0, 0): "in", (0, 1): "out", (1, 0): "out"}
    fc = next(c for c in plan.children if c.name == "fc1")
    assert isinstance(fc, LayerPlan)
    assert slot_roles(fc) == {(0, 0): "in", (0, 1): "out"}


def test_the_option_that_picks_a_form_is_the_condition(tmp_path: Path) -> None:
    """MobileNetV3's `(act=act)`: the form is chosen by `act`, not by the
    kernel or `se` that happen to go with it in the table; a child whose
    number shifts with the optional expansion before it is named by that."""
    text = archspec.load("mobilenet_v3_small").source()
    assert 'conv_bn_relu(in_c, e, 1) if act == "relu" else conv_bn_hardswish(in_c, e, 1)' in text
    assert '"conv1" if e == in_c else "conv2",' in text
    module = import_text(text, tmp_path, "mobilenet_v3_small")
    # a combination the table does not have: ReLU with a 5×5 kernel, no SE
    body = module.Body(16, 5, 64, 24, False, "relu", 1)
    assert [type(m).__name__ for m in body.conv2.children()] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert body(torch.randn(1, 16, 8, 8)).shape == (1, 24, 8, 8)


def test_resnet_family_reads_like_torchvision(tmp_path: Path) -> None:
    """One network class taking the block and the stage counts, the paper's
    columns; channels follow from the block (`unit.out_channels(64)`)."""
    text = archspec.load(ROOT / "specs" / "_resnet.yaml").source(family=True)
    assert "class Resnet(nn.Module):" in text
    assert (
        "    def __init__(self, unit: type[Basic | Bottleneck], stages: list[int]) -> None:" in text
    )
    assert "    return Resnet(unit=Bottleneck, stages=[3, 8, 36, 3])\n" in text
    assert 'f"{unit.spec_name}{i}": unit(64 if i == 1 else unit.out_channels(64), 64)' in text
    assert "for i in range(1, stages[1])" in text
    assert "self.fc1 = nn.Linear(unit.out_channels(512), 1000)" in text
    assert "with_" not in text and "_arg0" not in text
    assert sum(1 for line in text.splitlines() if line.strip()) <= 200
    module = import_text(text, tmp_path, "resnet_family")
    # a depth the paper does not list, built from the same class
    with torch.device("meta"):
        deep = module.Resnet(module.Bottleneck, [2, 2, 2, 2])
        assert deep(torch.empty(1, 3, 224, 224)).shape == (1, 1000)
    assert [name for name, _m in deep.conv3_x.named_children()] == ["bottleneck1", "bottleneck2"]


def test_densenet_family_counts_channels_as_it_goes() -> None:
    text = archspec.load(ROOT / "specs" / "_densenet.yaml").source(family=True)
    assert "    def __init__(self, blocks: list[int], k: int) -> None:" in text
    assert "        self.dense_block_1 = DenseBlock(2 * k, blocks[0], k)\n" in text
    assert "        self.transition_1 = Transition(self.dense_block_1.out_c)\n" in text
    assert "        self.out_c = in_c + n * k\n" in text
    assert "    return Densenet(blocks=[6, 12, 24, 16], k=32)\n" in text


def test_compile_never_runs_what_it_writes() -> None:
    """The writer decides from the IR alone: writing ResNet-50's source builds
    no module (building one initialises weights, which pulls in
    `torch._dynamo`: 2.3 s of a 2.8 s compile when the output was run to
    check it)."""
    script = (
        "import sys, archspec\n"
        "text = archspec.load('resnet50').source()\n"
        "assert 'class Bottleneck(Residual)' in text\n"
        "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_family_that_is_not_one_module_says_why(tmp_path: Path) -> None:
    """VGG's runs are numbered after the previous run's length: no module
    can name them for every variant, and the CLI says so at the line."""
    out = tmp_path / "vgg.py"
    done = subprocess.run(
        [sys.executable, "-m", "archspec", "compile", str(ROOT / "specs" / "_vgg_bn.yaml"),
         "--family", "-o", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "_vgg_bn.yaml:17:3: error: cannot write one module for this family" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("count", "stop"),
    [("7", "8"), ("n", "n + 1"), ("stages[1] - 1", "stages[1]"), ("n * 2 - 1", "n * 2"),
     ("a - 1 if b else c", "(a - 1 if b else c) + 1"), ("-n", "-n + 1")],
)  # fmt: skip
def test_loop_stop(count: str, stop: str) -> None:
    assert loop_stop(count) == stop
    for a, b, c, n in [(5, True, 9, 4), (3, False, 2, 1)]:
        stages = [0, 6]
        scope = {"a": a, "b": b, "c": c, "n": n, "stages": stages}
        assert eval(stop, {}, scope) == eval(count, {}, scope) + 1


@pytest.mark.parametrize(
    ("doc", "spec", "family"),
    [("generated_resnet.py", "resnet50", False), ("generated_resnet_family.py", "_resnet", True)],
)
def test_docs_show_what_compile_writes(doc: str, spec: str, family: bool) -> None:
    """The README's side-by-side with torchvision reads these files."""
    net = archspec.load(ROOT / "specs" / f"{spec}.yaml")
    assert (ROOT / "docs" / doc).read_text(encoding="utf-8") == net.source(family=family)
