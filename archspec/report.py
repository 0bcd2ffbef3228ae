"""Reports of a model: the summary rows, the `archspec summary` table and its
JSON form.

Shapes print in PyTorch's C×H×W order unless a view is asked for the papers'
H×W×C (`shape_order="hwc"`). A layer's op column shows what its defaults
applied (`conv1-128 +bn +relu`, `bn+relu → conv1-128` for pre-activation), so
three convs written `conv1-128` under different defaults never read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blocks import Graph
from .errors import SpecWarning, ToolError
from .ir import Layer, Model, Node, Shape, fused, walk
from .ir import op_text as ir_op_text
from .numbers import human

MAC_CONVENTION = (
    "1 MAC = one multiply-accumulate at batch 1; conv = Hout·Wout·Cout·(Cin/groups)·kh·kw, "
    "linear = in·out; FLOPs = 2 × MACs; pooling, norm, activation and join work is counted "
    "separately as other ops"
)
SHAPE_ORDERS = ("chw", "hwc")
BYTES = 4  # fp32
MIB = 2**20


# ---------------------------------------------------------------- notation


def shape_text(shape: Shape, order: str = "chw") -> str:
    """C×H×W (PyTorch's order, the default) or H×W×C (the papers'); a vector is its size."""
    if order not in SHAPE_ORDERS:
        raise ToolError(f"unknown shape order `{order}` (chw or hwc)")
    return shape.hwc() if order == "hwc" else str(shape)


def applied(layer: Layer) -> tuple[str, ...]:
    """The norm and activation fused into a layer (`("bn", "relu")`)."""
    return fused(layer.attrs)


def is_pre(layer: Layer) -> bool:
    return layer.attrs.get("order") == "pre" and bool(applied(layer))


def op_text(node: Node) -> str:
    """The op column: `conv1-128 +bn +relu`, `bn+relu → conv1-128`, or a
    block's notation."""
    notation = node.notation or node.name
    return ir_op_text(notation, node.attrs) if isinstance(node, Layer) else notation


def _bn_channels(layer: Layer) -> int:
    if layer.op == "bn":
        return layer.inputs[0].c
    if not layer.attrs.get("bn"):
        return 0
    return layer.inputs[0].c if layer.attrs.get("order") == "pre" else layer.output.c


def params_by_part(layer: Layer) -> dict[str, int]:
    """Parameters per torch part, as torchinfo lists them (`{"conv": …, "bn": …}`)."""
    if not layer.cost.params:
        return {}
    if layer.op == "bn":
        return {"bn": layer.cost.params}
    bn = 2 * _bn_channels(layer)
    parts = {layer.op: layer.cost.params - bn}
    return {**parts, "bn": bn} if bn else parts


def buffers(layer: Layer) -> int:
    """Non-parameter state: a batch norm's running mean and variance."""
    return 2 * _bn_channels(layer)


def saved_elements(layer: Layer) -> int:
    """Elements a layer keeps for backward: every part's output (a conv with
    BN and ReLU writes three tensors)."""
    extras = applied(layer)
    if not extras:
        return layer.cost.memory
    fused = layer.inputs[0].numel if is_pre(layer) else layer.output.numel
    return layer.cost.memory + fused * len(extras)


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


# ---------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a summary: a block or a layer."""

    path: tuple[str, ...]
    depth: int
    op: str
    kind: str
    outputs: tuple[Shape, ...]
    params: int
    macs: int
    receptive_field: int
    line: int
    is_block: bool
    file: str = ""
    inputs: tuple[Shape, ...] = ()
    sources: tuple[str, ...] = ()  # the tensors a graph child reads ("connected to")
    attrs: tuple[tuple[str, Any], ...] = ()
    parts: tuple[tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        return ".".join(self.path) if self.path else "(network)"

    def as_dict(self) -> dict[str, Any]:
        out = [s.as_list() for s in self.outputs]
        data: dict[str, Any] = {
            "name": self.name,
            "op": self.op,
            "kind": self.kind,
            "depth": self.depth,
            "input": [s.as_list() for s in self.inputs],
            "output": out[0] if len(out) == 1 else out,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.receptive_field,
            "file": self.file,
            "line": self.line,
        }
        if self.sources:
            data["from"] = list(self.sources)
        if not self.is_block:
            data["attrs"] = {k: _json_value(v) for k, v in self.attrs}
            data["params_by_part"] = dict(self.parts)
        return data


def _sources(model: Model) -> dict[tuple[str, ...], tuple[str, ...]]:
    """For every child of a graph block that is not simply fed by the child
    before it, the tensors it reads (Keras's "connected to")."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}
    for node, _level, path in walk(model.root):
        if not isinstance(node, Graph):
            continue
        chained = node.chained()
        for index, (child, reads) in enumerate(node.wires):
            if child not in chained and not (index == 0 and reads == node.input_names[:1]):
                found[(*path[1:], child)] = tuple(reads)
    return found


def _row(node: Node, level: int, path: tuple[str, ...], sources: tuple[str, ...]) -> Row:
    is_layer = isinstance(node, Layer)
    kind = node.op if isinstance(node, Layer) else node.block or node.kind
    return Row(
        path,
        level,
        op_text(node),
        kind,
        node.outputs,
        node.cost.params,
        node.cost.macs,
        node.field.size,
        node.span.line,
        not is_layer,
        file=Path(node.span.file).name if node.span.line else "",
        inputs=node.inputs,
        sources=sources,
        attrs=node.attrs.items if isinstance(node, Layer) else (),
        parts=tuple(params_by_part(node).items()) if isinstance(node, Layer) else (),
    )


def check_depth(depth: int | None) -> None:
    if depth is not None and depth < 1:
        raise ToolError(f"--depth must be at least 1 (1 = top-level rows only), got {depth}")


def rows(model: Model, depth: int | None = None) -> list[Row]:
    """Summary rows, parents first, the root left out; `depth` hides rows
    nested deeper than it (a block at the cut-off carries its children's totals)."""
    check_depth(depth)
    wired = _sources(model)
    return [
        _row(node, level, path[1:], wired.get(path[1:], ()))
        for node, level, path in walk(model.root)
        if level > 0 and (depth is None or level <= depth)
    ]


def leaves(model: Model) -> Iterator[Layer]:
    for node, _level, _path in walk(model.root):
        if isinstance(node, Layer):
            yield node


# ---------------------------------------------------------------- totals


@dataclass(frozen=True, slots=True)
class Totals:
    """What the totals lines say, as numbers."""

    params: int
    trainable: int
    non_trainable: int
    buffers: int
    activation_elements: int
    saved_elements: int  # per sample, kept for backward
    batch: int

    @property
    def param_mib(self) -> float:
        return self.params * BYTES / MIB

    @property
    def forward_mib(self) -> float:
        return self.activation_elements * BYTES / MIB

    @property
    def training_mib(self) -> float:
        """Activations kept for backward at `batch`, plus weights and their gradients."""
        return (self.saved_elements * self.batch + 2 * self.params) * BYTES / MIB

    def as_dict(self) -> dict[str, Any]:
        return {
            "trainable_params": self.trainable,
            "non_trainable_params": self.non_trainable,
            "buffers": self.buffers,
            "param_mib": round(self.param_mib, 3),
            "forward_activation_mib": round(self.forward_mib, 3),
            "batch": self.batch,
            "training_saved_elements_per_sample": self.saved_elements,
            "training_mib": round(self.training_mib, 3),
        }


def totals(model: Model, batch: int = 1) -> Totals:
    if batch < 1:
        raise ToolError(f"--batch must be at least 1, got {batch}")
    layers = list(leaves(model))
    joins = model.root.cost.memory - sum(layer.cost.memory for layer in layers)
    saved = model.input.numel + joins + sum(saved_elements(layer) for layer in layers)
    return Totals(
        params=model.params,
        trainable=model.params,  # every parameter archspec builds is trained
        non_trainable=0,
        buffers=sum(buffers(layer) for layer in layers),
        activation_elements=model.activation_elements,
        saved_elements=saved,
        batch=batch,
    )


# ---------------------------------------------------------------- JSON


def as_dict(
    model: Model, warnings: list[SpecWarning], depth: int | None = None, batch: int = 1
) -> dict[str, Any]:
    """What `archspec summary --json` prints (shapes as [C, H, W] lists)."""
    outputs = [s.as_list() for s in model.outputs]
    return {
        "name": model.name,
        "title": model.title,
        "variant": model.variant,
        "file": model.source,
        "input": model.input.as_list(),
        "output": outputs[0] if len(outputs) == 1 else outputs,
        "params": model.params,
        "macs": model.macs,
        "flops": model.flops,
        "other_ops": model.other_ops,
        "activation_elements": model.activation_elements,
        "receptive_field": model.receptive_field,
        **totals(model, batch).as_dict(),
        "mac_convention": MAC_CONVENTION,
        "layers": [row.as_dict() for row in rows(model, depth)],
        "warnings": [str(w) for w in warnings],
    }


# ---------------------------------------------------------------- the text table


def header(model: Model, all_rows: list[Row], order: str = "chw") -> tuple[str, ...]:
    shape = "output H×W×C" if order == "hwc" else "output C×H×W"
    wired = ("from",) if any(row.sources for row in all_rows) else ()
    return ("layer", "op", *wired, shape, "params", "MACs", "RF")


def cells(row: Row, wired: bool, order: str = "chw") -> tuple[str, ...]:
    name = "  " * (row.depth - 1) + (row.path[-1] if row.path else row.name)
    shapes = ", ".join(shape_text(s, order) for s in row.outputs)
    source = (", ".join(row.sources),) if wired else ()
    numbers = (f"{row.params:,}", human(row.macs), str(row.receptive_field))
    return (name, row.op, *source, shapes, *numbers)


def summary_table(
    model: Model, depth: int | None = None, order: str = "chw", batch: int = 1
) -> str:
    all_rows = rows(model, depth)
    head = header(model, all_rows, order)
    wired = "from" in head
    table = [head, *(cells(row, wired, order) for row in all_rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    right = set(range(len(head) - 3, len(head)))

    def line(parts: tuple[str, ...]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(parts, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    rule = "─" * len(line(head))
    lines = [title_line(model), io_line(model, order), rule, line(head), rule]
    lines += [line(parts) for parts in table[1:]]
    return "\n".join([*lines, rule, *totals_lines(model, batch)])


def title_line(model: Model) -> str:
    return model.name + (f" — {model.title}" if model.title else "")


def io_line(model: Model, order: str = "chw") -> str:
    outputs = ", ".join(shape_text(s, order) for s in model.outputs)
    return f"input {shape_text(model.input, order)} → output {outputs}"


def totals_lines(model: Model, batch: int = 1) -> list[str]:
    t = totals(model, batch)
    memory = t.activation_elements
    return [
        f"params           {t.params:,} ({human(t.params)}), {t.param_mib:.1f} MiB at fp32: "
        f"{t.trainable:,} trainable, {t.non_trainable:,} non-trainable; "
        f"buffers {t.buffers:,} (BN running mean and variance)",
        f"MACs             {model.macs:,} ({human(model.macs)}); FLOPs {human(model.flops)}",
        f"other ops        {model.other_ops:,} ({human(model.other_ops)})",
        f"activations      {memory:,} elements ({t.forward_mib:.1f} MiB at fp32, batch 1, forward)",
        f"training memory  ~{t.training_mib:.1f} MiB at fp32, batch {t.batch}: activations kept "
        f"for backward ({t.saved_elements:,} elements per sample) + weights and gradients",
        f"receptive field  {model.receptive_field}",
        f"convention: {MAC_CONVENTION}",
    ]
