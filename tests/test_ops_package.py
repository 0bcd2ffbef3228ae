"""The op package's declarations checked against the whole zoo: every layer's
`Part.channels` names exactly the slots the source writer finds by probing,
every layer's `Op.spell` reads back to the same attributes, ops register by
being defined, and the activation and join names live in one place each."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import replace
from pathlib import Path

import pytest

import archspec
from archspec.compiler.source.layerforms import slot_roles
from archspec.compiler.torch.plan import BlockPlan, LayerPlan, Plan, make_plan
from archspec.errors import ArchSpecError
from archspec.ir import layers
from archspec.ops import ACTIVATIONS, JOIN_OPS, REGISTRY, Op, Part, Style

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def zoo() -> list[archspec.Network]:
    return [archspec.load(path) for path in archspec.bundled_specs()]


def layer_plans(plan: Plan) -> list[LayerPlan]:
    if isinstance(plan, LayerPlan):
        return [plan]
    assert isinstance(plan, BlockPlan)
    return [leaf for child in plan.children for leaf in layer_plans(child)]


# Channels are multiplied by this to see which slots follow them: a multiple
# keeps every divisibility rule (groups) of the op intact.
PROBE = 8


def probed_roles(plan: LayerPlan) -> dict[tuple[int, int | str], str]:
    """The channel slots found without asking the declarations: the op's part
    rule run again with the input (then the output) channels scaled, and the
    slots whose value follows."""
    node = plan.node
    op = REGISTRY.ops.get(node.op)
    if op is None or not node.inputs:
        return {}
    attrs = node.attrs.as_dict()
    first, *rest = node.inputs
    wider = {**attrs, "out": attrs["out"] * PROBE} if isinstance(attrs.get("out"), int) else attrs
    try:
        wide_in = op.parts(attrs, [replace(first, c=first.c * PROBE), *rest], node.output)
        wide_out = op.parts(wider, list(node.inputs), replace(node.output, c=node.output.c * PROBE))
    except (ArchSpecError, ValueError, TypeError, KeyError, ZeroDivisionError):
        return {}
    roles: dict[tuple[int, int | str], str] = {}
    for role, probed in (("out", wide_out), ("in", wide_in)):  # "in" wins a tie
        if len(probed) != len(plan.parts):
            continue
        for k, (part, wide) in enumerate(zip(plan.parts, probed, strict=True)):
            for key, value in slots(part).items():
                if scaled(value, slots(wide).get(key)):
                    roles[(k, key)] = role
    return roles


def slots(part: Part) -> dict[int | str, object]:
    return {**dict(enumerate(part.args)), **dict(part.kwargs)}


def scaled(value: object, probed: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and value > 0
        and probed == value * PROBE
    )  # fmt: skip


def test_part_channels_name_the_slots_that_probing_finds() -> None:
    checked = 0
    for net in zoo():
        for plan in layer_plans(make_plan(net.root)):
            declared = slot_roles(plan)  # what the source writer reads: Part.channels
            assert declared == probed_roles(plan), f"{net.name}: {plan.node.op} {plan.name}"
            checked += bool(declared)
    assert checked > 1000  # the zoo's convs, BNs, FCs, activations…


def test_prelu_declares_its_per_channel_slot_only_when_not_shared() -> None:
    net = archspec.loads(
        "name: t\ninput: 3x8x8\nlayers:\n"
        "  - conv3-16 (act=prelu)\n  - conv3-16 (act=prelu(shared), bn=true, order=pre)\n"
        "  - prelu\n"
    )
    parts = [plan.parts for plan in layer_plans(make_plan(net.root))]
    assert parts[0][1].cls == "PReLU" and parts[0][1].channels == ((0, "out"),)
    assert parts[1][1].cls == "PReLU" and parts[1][1].channels == ()
    assert parts[1][0].channels == ((0, "in"),)  # pre-activation BN: the input's channels
    assert parts[2][0].channels == ((0, "in"),)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_spell_reads_back_to_the_same_attributes() -> None:
    seen: dict[tuple, str] = {}
    for net in zoo():
        for layer, _path in layers(net.root):
            op = REGISTRY.ops[layer.op]
            if len(layer.inputs) != 1 or op.min_inputs > 1:
                continue  # joins and size-reference resampling need their graph
            attrs = layer.attrs.as_dict()
            x = layer.inputs[0]
            key = (layer.op, tuple(sorted(map(repr, attrs.items()))), x)
            if key in seen:
                continue
            text = op.spell(attrs)
            # a vector input is a flattened C×1×1 one (a spec's input is an image)
            shape = f"{x.c}x1x1" if x.h is None else f"{x.c}x{x.h}x{x.w}"
            before = "  - flatten\n" if x.h is None else ""
            spec = f"name: t\ninput: {shape}\nlayers:\n{before}  - {_quoted(text)}\n"
            *_, (again, _) = layers(archspec.loads(spec).root)
            assert again.op == layer.op, text
            assert again.attrs.as_dict() == attrs, f"{net.name}: `{text}`"
            seen[key] = text
    assert len(seen) > 200
    assert "conv3/2-64" in {t.split(" (")[0] for t in seen.values()}


def test_spell_writes_options_in_the_grammar() -> None:
    net = archspec.loads(
        "name: t\ninput: 3x32x32\nlayers:\n"
        "  - conv3x5/2-64 (pad=[1, 2], groups=1, bn=true, act=leaky_relu(0.2), eps=0.001)\n"
        "  - conv3-64 (pad=[2, 1]), conv2-64 (pad=1), conv3-64 (pad=valid)\n"
    )
    spelt = [REGISTRY.ops[layer.op].spell(layer.attrs.as_dict()) for layer, _ in layers(net.root)]
    # a padding that `same` gives is written so; any other one as its sizes
    assert spelt == [
        "conv3x5/2-64 (pad=same, bn=true, act=leaky_relu(0.2), eps=0.001)",
        "conv3-64 (pad=[2, 1])",
        "conv2-64 (pad=1)",
        "conv3-64",
    ]


def test_spell_leaves_out_the_files_defaults_and_writes_numbers_through_num() -> None:
    net = archspec.loads(
        "name: t\ninput: 3x32x32\ndefaults:\n  conv: {pad: same, bn: true, act: relu}\n"
        "layers:\n  - conv3-64, conv3/2-64 (pad=valid, act=none), maxpool3/2 (ceil), FC-10\n"
    )
    defaults = {"pad": "same", "bn": True, "act": "relu"}
    conv, valid, pool, fc = [layer for layer, _ in layers(net.root) if layer.op != "flatten"]
    spell = REGISTRY.ops["conv"].spell
    assert spell(conv.attrs.as_dict(), defaults) == "conv3-64"
    assert spell(valid.attrs.as_dict(), defaults) == "conv3/2-64 (pad=valid, act=none)"
    assert spell(conv.attrs.as_dict()) == "conv3-64 (pad=same, bn=true, act=relu)"
    numbered: list[tuple[int, str]] = []

    def num(value: int, key: str) -> str:
        numbered.append((value, key))
        return f"{{{key}}}"

    # a symbolic stride is written even at 1 (it may become a block parameter)
    assert spell(conv.attrs.as_dict(), defaults, num) == "conv3/{stride}-{out}"
    assert numbered == [(64, "out"), (1, "stride")]  # widths first
    assert REGISTRY.ops["maxpool"].spell(pool.attrs.as_dict(), {"round": "ceil"}) == "maxpool3/2"
    assert REGISTRY.ops["maxpool"].spell(pool.attrs.as_dict()) == "maxpool3/2 (ceil)"
    assert REGISTRY.ops["fc"].spell(fc.attrs.as_dict(), {}, num) == "FC-{out}"


def test_an_op_class_with_a_name_registers_itself() -> None:
    before = dict(REGISTRY.ops)
    try:

        class Twice(Op):  # a throwaway op: defining it is registering it
            name = "twice_for_test"
            spellings = ("twice_for_test", "twice2_for_test")
            style = Style("other", "#ffffff")

        assert isinstance(REGISTRY.ops["twice_for_test"], Twice)
        assert REGISTRY.lookup("twice2_for_test") == (REGISTRY.ops["twice_for_test"], None)
    finally:
        REGISTRY.ops.clear()
        REGISTRY.ops.update(before)
        for spelling in ("twice_for_test", "twice2_for_test"):
            REGISTRY.by_spelling.pop(spelling)
    for name in (*ACTIVATIONS, *JOIN_OPS, "conv", "bn", "maxpool", "upsample"):
        assert name in REGISTRY.ops


def _string_tuples_and_dicts(path: Path) -> list[set[str]]:
    """Every literal collection of three or more strings in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items = (
            node.keys
            if isinstance(node, ast.Dict)
            else node.elts
            if isinstance(node, ast.Tuple | ast.List | ast.Set)
            else []
        )
        words = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
        if len(words) >= 3:
            found.append(words)
    return found


@pytest.mark.parametrize(
    ("names", "home"),
    [(set(JOIN_OPS), "archspec/ops/joins.py"), (set(ACTIVATIONS), "archspec/ops/activations.py")],
)
def test_join_and_activation_names_are_listed_in_one_module(names: set[str], home: str) -> None:
    listing = []
    for path in sorted([*(ROOT / "archspec").rglob("*.py"), *(ROOT / "compiler").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("archspec/compiler/"):
            continue
        if any(len(words & names) >= 3 for words in _string_tuples_and_dicts(path)):
            listing.append(rel)
    assert listing == ([] if home.endswith("joins.py") else [home])


def test_part_channels_default_to_none() -> None:
    assert Part("x", "Identity").channels == ()


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("hardtanh (min=2, max=-2)", "`hardtanh` needs min < max, got 2 and -2"),
        ("conv3-8 (act=hardtanh(1.5))", "`hardtanh` needs min < max, got 1.5 and 1"),
        ("conv3-8 (act=hardtanh(1, 2, 3))", "activation `hardtanh` takes min, max, got 3 values"),
    ],
)
def test_hardtanh_bounds_are_checked(layer: str, message: str) -> None:
    with pytest.raises(archspec.SpecErrors, match=re.escape(message)):
        archspec.loads(f"name: t\ninput: 3x8x8\nlayers:\n  - {layer}\n")
