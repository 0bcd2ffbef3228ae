"""The spec language: layer expressions, blocks, combinators, variants, graphs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import archspec
from archspec import ast
from archspec.errors import Span, SpecErrors
from archspec.expr import evaluate
from archspec.expressions import parse_expression
from archspec.ir import Shape, layers, verify


def net_of(body: str, input_shape: str = "3x32x32", head: str = "") -> archspec.Network:
    text = f"name: t\ninput: {input_shape}\n{head}layers:\n{body}"
    net = archspec.loads(text, "t.yaml")
    verify(net.root)
    return net


def leaf(net: archspec.Network, path: str):
    node = net.find(path)
    assert not hasattr(node, "children")
    return node


# ------------------------------------------------------------------ primitive layers


def test_conv_geometry_params_and_macs() -> None:
    net = net_of("  - conv3/2-16 (pad=1)\n")
    conv = leaf(net, "conv1")
    assert conv.output == Shape(16, 16, 16)
    assert conv.cost.params == 16 * 3 * 9 + 16
    assert conv.cost.macs == 16 * 16 * 16 * 3 * 9
    assert conv.field.size == 3 and conv.field.jump == 2


def test_asymmetric_kernel_with_same_padding() -> None:
    net = net_of("  - conv1x7-8 (pad=same), conv7x1-8 (pad=same)\n")
    assert net.output == Shape(8, 32, 32)
    assert leaf(net, "conv1").cost.params == 8 * 3 * 7 + 8
    assert leaf(net, "conv2").cost.macs == 32 * 32 * 8 * 8 * 7


def test_groups_dilation_bias_and_bn() -> None:
    net = net_of(
        "  - conv3-8 (pad=same)\n  - conv3-16 (groups=4, dilation=2, bias=false, pad=same)\n"
        "  - conv3-16 (bn=true, act=relu)\n"
    )
    grouped = leaf(net, "conv2")
    assert grouped.output == Shape(16, 32, 32)
    assert grouped.cost.params == 16 * 2 * 9  # no bias
    assert grouped.field.size == 3 + 4
    bn = leaf(net, "conv3")
    assert bn.cost.params == 16 * 16 * 9 + 2 * 16  # BN replaces the bias
    assert bn.output == Shape(16, 30, 30)


def test_pooling_rounding_and_global_pool() -> None:
    net = net_of("  - maxpool3/2 (ceil)\n  - avgpool3/2\n  - gap\n", "3x112x112")
    assert leaf(net, "maxpool1").output == Shape(3, 56, 56)
    assert leaf(net, "avgpool1").output == Shape(3, 27, 27)
    assert net.output == Shape(3, 1, 1)


def test_fc_flattens_and_activations_keep_shape() -> None:
    net = net_of("  - FC-10, relu, sigmoid, tanh, softmax, dropout 40%\n", "4x2x2")
    names = [child.name for child in net.root.children]
    assert names == ["flatten1", "fc1", "relu1", "sigmoid1", "tanh1", "softmax1", "dropout1"]
    assert leaf(net, "fc1").cost.params == 16 * 10 + 10
    assert leaf(net, "dropout1").attrs["p"] == pytest.approx(0.4)
    assert net.output == Shape(10)


def test_lrn_and_batch_norm() -> None:
    net = net_of("  - LRN, bn\n")
    assert leaf(net, "lrn1").attrs["size"] == 5 and leaf(net, "lrn1").attrs["k"] == 2.0
    assert leaf(net, "bn1").cost.params == 6


# ------------------------------------------------------------------ defaults, repetition, names


def test_defaults_apply_and_calls_override() -> None:
    head = "defaults:\n  conv: {pad: same, bn: true, act: relu}\n"
    net = net_of("  - conv3-8\n  - conv3-8 (bn=false, pad=valid)\n", head=head)
    assert leaf(net, "conv1").attrs["bn"] is True and leaf(net, "conv1").output.h == 32
    assert leaf(net, "conv2").attrs["bn"] is False and leaf(net, "conv2").output.h == 30
    assert leaf(net, "conv2").attrs["bias"] is True


def test_repetition_names_each_copy() -> None:
    net = net_of("  - conv3-8 (pad=same) x3\n  - stem: conv1-4\n  - conv1-4 ×2\n")
    assert [c.name for c in net.root.children] == [
        "conv1",
        "conv2",
        "conv3",
        "stem",
        "conv4",
        "conv5",
    ]


def test_explicit_names_are_never_reused_by_auto_names() -> None:
    net = net_of("  - conv1-4\n  - conv2: conv1-4\n  - conv1-4\n")
    assert [c.name for c in net.root.children] == ["conv1", "conv2", "conv3"]


def test_labels_become_identifiers() -> None:
    net = net_of("  - stage one:\n", head="blocks:\n  stage: [conv1-4]\n")
    assert net.root.children[0].name == "stage_one"
    assert net.root.children[0].notation == "stage (one)"


# ------------------------------------------------------------------ blocks and arithmetic


def test_block_parameters_defaults_and_arithmetic() -> None:
    head = (
        "blocks:\n  unit:\n    params: [width, expand=4]\n"
        "    layers: conv1-{width}, conv1-{expand*width}, conv1-(in.c * 2)\n"
    )
    net = net_of("  - unit(8)\n  - unit(8, expand=2)\n", head=head)
    assert net.find("unit1.conv2").output.c == 32
    assert net.find("unit1.conv3").output.c == 6  # in.c is the block's input: 3
    assert net.find("unit2.conv2").output.c == 16
    assert net.find("unit2.conv3").output.c == 12


def test_floor_of_theta_times_channels() -> None:
    head = "params: {theta: 0.5}\nblocks:\n  transition:\n    layers: conv1-{floor(theta * in.c)}\n"
    net = net_of("  - conv1-13\n  - transition\n", head=head)
    assert net.output.c == 6


def test_block_named_by_a_variable() -> None:
    head = "params: {unit: wide}\nblocks:\n  narrow: [conv1-4]\n  wide: [conv1-64]\n"
    assert net_of("  - unit\n", head=head).output.c == 64


def test_variants_and_base_files(tmp_path: Path) -> None:
    (tmp_path / "_family.yaml").write_text(
        "input: 3x32x32\nvariants:\n  small: {w: 8}\n  big: {w: 32}\nlayers:\n  - conv3-{w}\n"
    )
    (tmp_path / "big.yaml").write_text("base: _family.yaml\nname: big\nvariant: big\n")
    assert archspec.load(tmp_path / "big.yaml").output.c == 32
    family = tmp_path / "_family.yaml"
    assert archspec.load(family).output.c == 8  # the first variant by default
    assert archspec.load(family, variant="big").name == "big"
    with pytest.raises(SpecErrors, match="unknown variant `bigg` — did you mean `big`"):
        archspec.load(family, variant="bigg")


def test_conditionals_and_recursion_fractal_expansion() -> None:
    head = (
        "blocks:\n  fractal:\n    params: [c, C]\n    if: C == 1\n    then: conv3-{c} (pad=same)\n"
        "    else:\n      mean:\n        - conv3-{c} (pad=same)\n"
        "        - fractal(c, C - 1), fractal(c, C - 1)\n"
    )
    net = net_of("  - fractal(8, 4)\n", head=head)
    convs = [layer for layer, _ in layers(net.root)]
    assert len(convs) == 2**4 - 1  # f_C has 2^C − 1 convolutions
    assert max(len(path) for _, path in layers(net.root)) == 1 + 2 * 3 + 1


# ------------------------------------------------------------------ combinators


def test_concat_branches_side_by_side() -> None:
    net = net_of(
        "  - concat:\n    - conv1-4\n    - conv1-2, conv3-6 (pad=same)\n    - maxpool3/1 (pad=1)\n"
    )
    block = net.root.children[0]
    assert block.kind == "concat"
    assert [c.name for c in block.children] == ["branch1", "branch2", "branch3"]
    assert block.output == Shape(4 + 6 + 3, 32, 32)


def test_residual_identity_projection_scale_and_then() -> None:
    head = "defaults:\n  conv: {pad: same, bn: true, act: relu}\n"
    body = (
        "  - residual: conv3-3, conv3-3 (act=none)\n    then: relu\n"
        "  - residual: conv3/2-8, conv3-8 (act=none)\n"
        "  - residual: conv3-8\n    scale: 0.17\n"
    )
    net = net_of(body, head=head)
    identity, projection, scaled = net.root.children
    assert [c.name for c in identity.children] == ["residual", "relu1"]
    assert identity.projection is False and identity.post == "relu1"
    short = projection.child("shortcut")
    assert short.notation == "conv1/2-8" and short.attrs["act"] is None and short.attrs["bn"]
    assert short.cost.params == 3 * 8 + 2 * 8
    assert scaled.scale == pytest.approx(0.17)


def test_dense_block_grows_channels() -> None:
    net = net_of("  - dense: bn, relu, conv3-4 (pad=same)\n    times: 5\n", "6x8x8")
    block = net.root.children[0]
    assert block.kind == "dense" and len(block.children) == 5
    assert [c.inputs[0].c for c in block.children] == [6, 10, 14, 18, 22]
    assert block.output == Shape(26, 8, 8)


def test_squeeze_excitation_scale() -> None:
    net = net_of(
        "  - conv3-32 (pad=same)\n  - scale: gap, fc-(32 // 16) (act=relu), fc-32 (act=sigmoid)\n"
    )
    block = net.root.children[1]
    assert block.kind == "scale" and block.output == Shape(32, 32, 32)
    assert block.cost.params == (32 * 2 + 2) + (2 * 32 + 32)


def test_graph_with_named_inputs_heads_and_joins() -> None:
    head = (
        "blocks:\n  cell:\n    inputs: [h, p]\n    params: [c]\n    layers:\n"
        "      - a: {from: h, layers: conv1-c}\n      - b: {from: p, layers: conv1-c}\n"
        "      - out: {from: [a, b], join: add}\n"
    )
    body = (
        "  - stem: conv3-8 (pad=same)\n  - t: conv1-8\n"
        "  - c1: {from: [t, stem], layers: cell(4)}\n"
        "  - side: {head: 'gap, fc-5'}\n  - gap, fc-10\n"
    )
    net = net_of(body, head=head)
    assert net.root.kind == "graph"
    wires = dict(net.root.wires)
    assert wires["c1"] == ("t", "stem") and wires["side"] == ("c1",)
    assert net.outputs == (Shape(10), Shape(5))
    assert net.find("c1").kind == "graph" and net.find("c1.out").op == "add"


def test_when_guard_removes_a_head() -> None:
    body = "  - conv1-4\n  - aux: {head: 'gap, fc-5', when: with_aux}\n  - gap, fc-10\n"
    assert net_of(body, head="params: {with_aux: false}\n").outputs == (Shape(10),)
    assert len(net_of(body, head="params: {with_aux: true}\n").outputs) == 2


# ------------------------------------------------------------------ the parser and evaluator


def test_ast_equality_ignores_spans() -> None:
    first = parse_expression("conv3/2-{4*w} x2", Span("a.yaml", 3, 5))
    second = parse_expression("conv3/2-{4*w} x2", Span("b.yaml", 9, 1))
    assert first == second
    assert isinstance(first, ast.Repeat) and first.body.span.file == "a.yaml"


def test_expression_spans_point_into_the_line() -> None:
    call = parse_expression("conv3-{wdth}", Span("s.yaml", 7, 5, 12, "  - conv3-{wdth}"))
    assert (call.width.span.line, call.width.span.col) == (7, 12)


def test_evaluator_is_not_python() -> None:
    scope = {"w": 8}
    expr = parse_expression("w * 3 // 2 + max(1, 2) if w > 4 else 0", Span("e", 1, 1), "expr")
    assert evaluate(expr, scope) == 14
    for hostile in ("__import__('os')", "w.__class__", "(1).real", "open('x')"):
        with pytest.raises(archspec.ArchSpecError):
            evaluate(parse_expression(hostile, Span("e", 1, 1), "expr"), scope)
    with pytest.raises(archspec.ArchSpecError, match="too large"):
        evaluate(parse_expression("100000000 * 100000000", Span("e", 1, 1), "expr"), scope)


def test_yaml_tags_are_refused() -> None:
    with pytest.raises(archspec.ArchSpecError):
        archspec.loads(
            "name: !!python/object/apply:os.system ['true']\ninput: 3x8x8\nlayers: [relu]\n"
        )


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    for i in range(1, 7):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "\n".join(lines) + "\nname: b\ninput: 3x8x8\nlayers: *a6\n"
    with pytest.raises(archspec.ArchSpecError, match="more than"):
        archspec.loads(text)


def test_the_ir_records_what_the_spec_wrote() -> None:
    """Provenance: a block instance keeps its definition, call, every
    parameter's value and the expressions passed; a layer the expressions of
    its options; a repeat's copies their index; the root the file constants.
    None of it takes part in equality."""
    spec = """name: prov
input: 3x32x32
params: {base: 8}
blocks:
  unit:
    params: [width, stride=1]
    layers: conv3/{stride}-{2*width}, dropout {0.1 * width}
layers:
  - unit(base) x2
  - unit(width=base, stride=2)
"""
    net = archspec.loads(spec, "prov.yaml")
    root = net.root
    assert root.bound == (("base", 8),)
    first, second, third = root.children
    assert first.definition is not None and first.definition.name == "unit"
    assert first.bound == (("width", 8), ("stride", 1))
    assert [(name, type(expr).__name__) for name, expr in first.given] == [("width", "Str")]
    assert (first.index, second.index, third.index) == (1, 2, None)
    assert third.bound == (("width", 8), ("stride", 2))
    assert [name for name, _expr in third.given] == ["width", "stride"]
    assert third.call is not None and third.call.head == "unit"
    conv, drop = third.children
    assert dict(conv.written)["width"] == ast.BinOp("*", ast.Num(2), ast.Var("width"))
    assert isinstance(dict(conv.written)["stride"], ast.Var)
    assert [name for name, _expr in drop.written] == ["p"]
    assert replace(conv, written=(), index=7) == conv
    assert repr(replace(conv, written=())) == repr(conv)
    verify(root)
