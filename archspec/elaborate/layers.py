"""One op application → one IR `Layer`: the op's options from defaults and the
call, its shape rule, costs and receptive field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import ast
from ..blocks import Flow
from ..errors import Diagnostics, ShapeError, Span, SpecValueError
from ..ir import Attrs, Cost, Field, Layer, Shape, Written
from ..limits import MAX_CHANNELS, MAX_LAYERS, MAX_SPATIAL
from ..ops import Geometry, Op, ShapeRuleError
from .scope import Scope, option_value, unknown_option
from .values import as_checked_int

MAX_APPLIED = 10_000  # distinct layer applications remembered (the cache's bound)


@dataclass(frozen=True, slots=True)
class Applied:
    """An op applied to options and input shapes: everything a `Layer` needs
    but its name, span and receptive field."""

    attrs: Attrs
    out: Shape
    cost: Cost
    window: tuple[int, int]
    notation: str
    warnings: tuple[str, ...]


class LayerMaker:
    """Makes layers and counts them against `MAX_LAYERS`."""

    def __init__(self, defaults: dict[str, dict[str, Any]], diag: Diagnostics) -> None:
        self.defaults = defaults
        self.diag = diag
        self.count = 0
        self.applied: dict[tuple, Applied] = {}

    def values(
        self, op: Op, kernel: tuple[int, int] | None, call: ast.Call, scope: Scope
    ) -> tuple[Geometry, dict[str, Any], Written]:
        """What the call gives the op: the geometry around its name, its
        options (defaults first, then positional values, flags and keywords)
        and the expressions the call wrote for them, by option (`width` for
        `-w`, `stride` for `/s`), which the layer keeps as its provenance."""
        if kernel is not None and not op.takes_kernel:
            raise SpecValueError(f"`{op.name}` takes no kernel size", call.span)
        if call.width is not None and not op.takes_width:
            raise SpecValueError(f"`{op.name}` takes no `-width`", call.width.span)
        if call.stride is not None and "stride" not in op.options:
            raise SpecValueError(f"`{op.name}` takes no `/stride`", call.stride.span)
        stride = as_checked_int(call.stride, scope, "a stride") if call.stride is not None else None
        width = as_checked_int(call.width, scope, "a width") if call.width is not None else None
        values = dict(self.defaults.get(op.name, {}))
        written: list[tuple[str, ast.Expr]] = []
        if call.width is not None:
            written.append(("width", call.width))
        if call.stride is not None:
            written.append(("stride", call.stride))
        slots = list(op.positional)
        for arg in call.args:
            value = option_value(arg.value, scope)
            if arg.name is None:
                if isinstance(arg.value, ast.Str) and value in op.flags:
                    key, flag_value = op.flags[value]
                    values[key] = flag_value
                elif slots:
                    written.append((slots[0], arg.value))
                    values[slots.pop(0)] = value
                else:
                    raise SpecValueError(
                        f"`{op.name}` takes no positional value `{value}`", arg.span
                    )
            elif arg.name == "kernel" and not op.takes_kernel:
                raise SpecValueError(f"`{op.name}` takes no kernel size", arg.span)
            elif arg.name not in op.options:
                raise unknown_option(op, arg)
            else:
                written.append((arg.name, arg.value))
                values[arg.name] = value
        return Geometry(kernel, stride, width), values, tuple(written)

    def check(self, op: Op, kernel: tuple[int, int] | None, call: ast.Call, scope: Scope) -> None:
        """Without an input shape (after an error upstream): the call's options
        are still checked, and whatever the op can tell without its input."""
        geometry, values, _written = self.values(op, kernel, call, scope)
        try:
            op.configure(geometry, values)
        except SpecValueError as exc:
            raise SpecValueError(exc.message, call.span) from None

    def layer(
        self,
        op: Op,
        values: dict[str, Any],
        geometry: Geometry,
        flows: list[Flow],
        name: str,
        span: Span,
        written: Written = (),
    ) -> tuple[Layer, Flow]:
        self.count += 1
        if self.count > MAX_LAYERS:
            raise SpecValueError(f"the network expands to more than {MAX_LAYERS} layers", span)
        inputs = tuple(f.shape for f in flows)
        applied = self._applied(op, values, geometry, inputs, span)
        for message in applied.warnings:
            self.diag.warn(message, span)
        seen = max((f.field for f in flows), key=lambda f: f.size)
        kernel, stride = applied.window
        field = Field(seen.size + (kernel - 1) * seen.jump, seen.jump * stride)
        node = Layer(
            name, op.name, applied.attrs, inputs, applied.out, applied.cost, field,
            applied.notation, span, written,
        )  # fmt: skip
        return node, Flow(applied.out, field)

    def _applied(
        self,
        op: Op,
        values: dict[str, Any],
        geometry: Geometry,
        inputs: tuple[Shape, ...],
        span: Span,
    ) -> Applied:
        """What the op makes of these options on these inputs. A network repeats
        the same layer many times (ResNet-152: 50 identical 3×3 convs), so the
        result is kept per distinct (op, options, geometry, input shapes)."""
        try:
            key: tuple | None = (op.name, geometry, tuple(sorted(values.items())), inputs)
            hash(key)
        except TypeError:  # an unhashable option value (a list): computed afresh
            key = None
        found = self.applied.get(key) if key is not None else None
        if found is not None:
            return found
        try:
            attrs = op.configure(geometry, values)
        except SpecValueError as exc:
            raise SpecValueError(exc.message, span) from None
        shapes = list(inputs)
        out = _infer(op, attrs, shapes, span)
        notation = op.notation(attrs)
        made = Applied(
            Attrs.of(attrs),
            out,
            Cost(
                op.params(attrs, shapes, out),
                op.macs(attrs, shapes, out),
                op.other_ops(attrs, shapes, out),
                out.numel,
            ),
            op.window(attrs, shapes),
            notation,
            tuple(f"{notation}: {message}" for message in op.warnings(attrs, shapes)),
        )
        if key is not None and len(self.applied) < MAX_APPLIED:
            self.applied[key] = made
        return made


def _infer(op: Op, attrs: dict[str, Any], inputs: list[Shape], span: Span) -> Shape:
    try:
        out = op.infer(attrs, inputs)
    except ShapeRuleError as exc:
        if op.min_inputs > 1:  # a join's own message already names the shapes
            raise ShapeError(str(exc), span) from None
        shapes = " and ".join(str(s) for s in inputs)
        raise ShapeError(f"{op.notation(attrs)} on {shapes}: {exc}", span) from None
    if out.c <= 0 or (out.h is not None and (out.h <= 0 or (out.w or 0) <= 0)):
        raise ShapeError(f"{op.notation(attrs)} gives an empty output {out}", span)
    if out.c > MAX_CHANNELS or max(out.h or 0, out.w or 0) > MAX_SPATIAL:
        raise ShapeError(
            f"{op.notation(attrs)} gives {out}: tensors are limited to {MAX_CHANNELS:,} "
            f"channels and {MAX_SPATIAL:,} pixels a side",
            span,
        )
    return out
