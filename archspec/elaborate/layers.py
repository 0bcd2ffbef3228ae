"""One op application → one IR `Layer`: the op's options from defaults and the
call, its shape rule, costs and receptive field."""

from __future__ import annotations

from typing import Any

from .. import ast
from ..blocks import Flow
from ..errors import Diagnostics, ShapeError, Span, SpecValueError
from ..ir import Attrs, Cost, Field, Layer, Shape
from ..limits import MAX_CHANNELS, MAX_LAYERS, MAX_SPATIAL
from ..ops import Geometry, Op, ShapeRuleError
from .scope import Scope, option_value, unknown_option
from .values import as_checked_int


class LayerMaker:
    """Makes layers and counts them against `MAX_LAYERS`."""

    def __init__(self, defaults: dict[str, dict[str, Any]], diag: Diagnostics) -> None:
        self.defaults = defaults
        self.diag = diag
        self.count = 0

    def values(
        self, op: Op, kernel: tuple[int, int] | None, call: ast.Call, scope: Scope
    ) -> tuple[Geometry, dict[str, Any]]:
        """What the call gives the op: the geometry around its name and its
        options (defaults first, then positional values, flags and keywords)."""
        if kernel is not None and not op.takes_kernel:
            raise SpecValueError(f"`{op.name}` takes no kernel size", call.span)
        if call.width is not None and not op.takes_width:
            raise SpecValueError(f"`{op.name}` takes no `-width`", call.width.span)
        if call.stride is not None and "stride" not in op.options:
            raise SpecValueError(f"`{op.name}` takes no `/stride`", call.stride.span)
        stride = as_checked_int(call.stride, scope, "a stride") if call.stride is not None else None
        width = as_checked_int(call.width, scope, "a width") if call.width is not None else None
        values = dict(self.defaults.get(op.name, {}))
        slots = list(op.positional)
        for arg in call.args:
            value = option_value(arg.value, scope)
            if arg.name is None:
                if isinstance(arg.value, ast.Str) and value in op.flags:
                    key, flag_value = op.flags[value]
                    values[key] = flag_value
                elif slots:
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
                values[arg.name] = value
        return Geometry(kernel, stride, width), values

    def check(self, op: Op, kernel: tuple[int, int] | None, call: ast.Call, scope: Scope) -> None:
        """Without an input shape (after an error upstream): the call's options
        are still checked, and whatever the op can tell without its input."""
        geometry, values = self.values(op, kernel, call, scope)
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
    ) -> tuple[Layer, Flow]:
        self.count += 1
        if self.count > MAX_LAYERS:
            raise SpecValueError(f"the network expands to more than {MAX_LAYERS} layers", span)
        try:
            attrs = op.configure(geometry, values)
        except SpecValueError as exc:
            raise SpecValueError(exc.message, span) from None
        inputs = [f.shape for f in flows]
        out = _infer(op, attrs, inputs, span)
        for message in op.warnings(attrs, inputs):
            self.diag.warn(f"{op.notation(attrs)}: {message}", span)
        cost = Cost(
            op.params(attrs, inputs, out),
            op.macs(attrs, inputs, out),
            op.other_ops(attrs, inputs, out),
            out.numel,
        )
        kernel, stride = op.window(attrs, inputs)
        seen = max((f.field for f in flows), key=lambda f: f.size)
        field = Field(seen.size + (kernel - 1) * seen.jump, seen.jump * stride)
        notation = op.notation(attrs)
        node = Layer(
            name, op.name, Attrs.of(attrs), tuple(inputs), out, cost, field, notation, span
        )
        return node, Flow(out, field)


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
