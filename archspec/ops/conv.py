"""Weighted layers: convolution (with its optional BN and activation),
transposed convolution, LeNet-5's trainable subsampling, and the fully
connected layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import SpecValueError
from ..ir import Shape
from .activations import ActOption, act_params, act_part
from .base import IN, OUT, Geometry, Op, Part, ShapeRuleError, Style, default_of
from .geometry import (
    coverage_warnings,
    kernel_text,
    padding_of,
    pair,
    require_image,
    spatial,
    with_geometry,
    written_pad,
)
from .norm import bn_part
from .options import (
    BoolOption,
    Choice,
    FloatOption,
    IntOption,
    Ints,
    Option,
    Padding,
    Table,
)

NORM_OPTIONS = {
    "bn": BoolOption(False, doc="batch norm after the conv (before it with order=pre)"),
    "act": ActOption("none", doc="activation after the conv: relu, leaky_relu(0.1), …"),
    "order": Choice(
        "post", ("post", "pre"), "post: conv→BN→act; pre: BN→act→conv (pre-activation)"
    ),
    "eps": FloatOption(1e-5),
    "momentum": FloatOption(0.1),
}


class Conv(Op):
    name = "conv"
    spellings = ("conv", "convolution")
    takes_kernel = True
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "kernel": Ints(None),
        "stride": IntOption(1),
        "out": IntOption(None, doc="output channels (`conv3-64`)"),
        "pad": Padding(0, doc="same | valid | p | [ph, pw]"),
        "dilation": IntOption(1),
        "groups": IntOption(1),
        "bias": BoolOption(None, doc="default: on unless followed by BN"),
        "table": Table(None, doc="LeNet-5's C3: for each output map, its input maps"),
        **NORM_OPTIONS,
    }
    style = Style("convolution", "#a8d5ff")
    option_order = ("pad", "dilation", "groups", "output_padding", "table",
                    "bn", "bias", "act", "eps", "momentum", "order")  # fmt: skip
    symbolic = ("out", "stride")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
        if attrs["kernel"] is None:
            raise SpecValueError("a conv needs a kernel size: `conv3-64`, `conv1x7-192`")
        attrs["kernel"] = pair(attrs["kernel"])
        if attrs["out"] is None:
            raise SpecValueError(f"`{self.name}` needs its output channels: `conv3-64`")
        for key in ("out", "stride", "dilation", "groups"):
            if attrs[key] <= 0:
                raise SpecValueError(f"`{key}` must be positive, got {attrs[key]}")
        if min(attrs["kernel"]) <= 0:
            raise SpecValueError("kernel sizes must be positive")
        if attrs.get("table") is None and attrs["out"] % attrs["groups"]:
            raise SpecValueError(
                f"groups={attrs['groups']} must divide the output channels ({attrs['out']})"
            )
        attrs["padding"] = padding_of(attrs.pop("pad"), attrs["kernel"], attrs["dilation"])
        if attrs["bias"] is None:
            attrs["bias"] = not attrs["bn"]
        if attrs["act"] == "none":
            attrs["act"] = None
        return attrs

    def _check_groups(self, attrs: dict[str, Any], cin: int) -> None:
        table = attrs.get("table")
        if table is not None:
            if len(table) != attrs["out"]:
                raise ShapeRuleError(
                    f"the connection table has {len(table)} rows for {attrs['out']} output maps"
                )
            if any(not row or min(row) < 0 or max(row) >= cin for row in table):
                raise ShapeRuleError(f"connection table entries must be input maps 0…{cin - 1}")
            return
        groups = attrs["groups"]
        if cin % groups or attrs["out"] % groups:
            raise ShapeRuleError(
                f"groups={groups} must divide both input channels ({cin}) "
                f"and output channels ({attrs['out']})"
            )

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        self._check_groups(attrs, x.c)
        (kh, kw), (ph, pw) = attrs["kernel"], attrs["padding"]
        s, d = attrs["stride"], attrs["dilation"]
        assert x.h is not None and x.w is not None
        return Shape(
            attrs["out"], spatial(x.h, kh, s, ph, d, False), spatial(x.w, kw, s, pw, d, False)
        )

    def warnings(self, attrs: dict[str, Any], inputs: list[Shape]) -> list[str]:
        x = inputs[0]
        (kh, kw), (ph, pw) = attrs["kernel"], attrs["padding"]
        s, d = attrs["stride"], attrs["dilation"]
        return coverage_warnings(x, (kh, kw), s, (ph, pw), d)

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        weights = self._connections(attrs, inputs[0].c) * kh * kw
        bias = out.c if attrs["bias"] else 0
        cin = inputs[0].c
        normed = cin if attrs["order"] == "pre" else out.c
        norm = 2 * normed if attrs["bn"] else 0
        return weights + bias + norm + act_params(attrs["act"], normed)

    def _connections(self, attrs: dict[str, Any], cin: int) -> int:
        """Input-map to output-map connections (each is one kh×kw kernel)."""
        if attrs.get("table") is not None:
            return sum(len(row) for row in attrs["table"])
        return attrs["out"] * (cin // attrs["groups"])

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        assert out.h is not None and out.w is not None
        return out.h * out.w * self._connections(attrs, inputs[0].c) * kh * kw

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        norm_size = inputs[0].numel if attrs["order"] == "pre" else out.numel
        return (2 * norm_size if attrs["bn"] else 0) + (norm_size if attrs["act"] else 0)

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        k = max(attrs["kernel"])
        return (attrs["dilation"] * (k - 1) + 1, attrs["stride"])

    def notation(self, attrs: dict[str, Any]) -> str:
        text = f"conv{kernel_text(attrs['kernel'])}"
        if attrs["stride"] != 1:
            text += f"/{attrs['stride']}"
        text += f"-{attrs['out']}"
        extras = []
        if attrs["groups"] != 1:
            extras.append(f"g={attrs['groups']}")
        if attrs["dilation"] != 1:
            extras.append(f"d={attrs['dilation']}")
        if attrs.get("table") is not None:
            extras.append("partial")
        return text + (f" ({', '.join(extras)})" if extras else "")

    def label(self, attrs: dict[str, Any]) -> str:
        kh, kw = attrs["kernel"]
        text = f"{self.name} {kh}×{kw}"
        if attrs["stride"] != 1:
            text += f"/{attrs['stride']}"
        text += f", {attrs['out']}"
        if attrs["groups"] != 1:
            text += f", g{attrs['groups']}"
        if attrs["dilation"] != 1:
            text += f", d{attrs['dilation']}"
        return text

    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        defaults = dict(defaults or {})
        if not attrs["bn"]:  # the norm's settings configure nothing without it
            for key in ("eps", "momentum", "order"):
                defaults.pop(key, None)
        values = super().written({**attrs, "act": attrs["act"] or "none"}, defaults)
        bias = default_of(self, "bias", defaults)
        if attrs["bias"] == (not attrs["bn"] if bias is None else bias):
            values.pop("bias", None)  # unset, the default follows `bn`
        pad = written_pad(
            attrs["padding"], attrs["kernel"], attrs["dilation"],
            default_of(self, "pad", defaults), modes=True,
        )  # fmt: skip
        if pad is not None:
            values["pad"] = pad
        return values

    def core_part(self, attrs: dict[str, Any], cin: int) -> Part:
        kwargs: list[tuple[str, Any]] = []
        kernel = attrs["kernel"][0] if attrs["kernel"][0] == attrs["kernel"][1] else attrs["kernel"]
        padding = (
            attrs["padding"][0] if attrs["padding"][0] == attrs["padding"][1] else attrs["padding"]
        )
        if attrs["stride"] != 1:
            kwargs.append(("stride", attrs["stride"]))
        if padding != 0:
            kwargs.append(("padding", padding))
        if attrs["dilation"] != 1:
            kwargs.append(("dilation", attrs["dilation"]))
        if attrs["groups"] != 1:
            kwargs.append(("groups", attrs["groups"]))
        if not attrs["bias"]:
            kwargs.append(("bias", False))
        if attrs.get("table") is not None:
            table = tuple(tuple(row) for row in attrs["table"])
            return Part("conv", "TableConv2d", (table, kernel), tuple(kwargs), library="archspec")
        args = (cin, attrs["out"], kernel)
        return Part("conv", "Conv2d", args, tuple(kwargs), channels=((0, IN), (1, OUT)))

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        cin = inputs[0].c
        core = self.core_part(attrs, cin)
        normed = cin if attrs["order"] == "pre" else out.c
        role = IN if attrs["order"] == "pre" else OUT
        act = (act_part(attrs["act"], normed, role),) if attrs["act"] else ()
        if attrs["order"] == "pre":
            norm = (bn_part(cin, attrs, IN),) if attrs["bn"] else ()
            return (*norm, *act, core)
        norm = (bn_part(out.c, attrs, OUT),) if attrs["bn"] else ()
        return (core, *norm, *act)


class Deconv(Conv):
    """Transposed convolution (FCN's upsampling): out = (n−1)·s − 2p + d(k−1) + op + 1."""

    name = "deconv"
    spellings = ("deconv", "convtranspose", "upconv")
    options: ClassVar[dict[str, Option]] = {
        **{k: v for k, v in Conv.options.items() if k != "table"},
        "output_padding": IntOption(0),
    }
    style = Style("transposed convolution", "#7fb8ef")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        self._check_groups(attrs, x.c)
        (kh, kw), (ph, pw) = attrs["kernel"], attrs["padding"]
        s, d, extra = attrs["stride"], attrs["dilation"], attrs["output_padding"]
        if extra >= max(s, d):
            raise ShapeRuleError("output_padding must be smaller than the stride or dilation")
        assert x.h is not None and x.w is not None
        size = [
            (n - 1) * s - 2 * p + d * (k - 1) + extra + 1
            for n, k, p in ((x.h, kh, ph), (x.w, kw, pw))
        ]
        return Shape(attrs["out"], size[0], size[1])

    def warnings(self, attrs: dict[str, Any], inputs: list[Shape]) -> list[str]:
        return []

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        # every input pixel scatters one kh×kw kernel into each output map of its group
        kh, kw = attrs["kernel"]
        return inputs[0].numel * (attrs["out"] // attrs["groups"]) * kh * kw

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (1, 1)  # upsampling: the receptive field in input pixels does not grow

    def notation(self, attrs: dict[str, Any]) -> str:
        return "de" + super().notation(attrs)

    def core_part(self, attrs: dict[str, Any], cin: int) -> Part:
        part = super().core_part(attrs, cin)
        kwargs = part.kwargs
        if attrs["output_padding"]:
            kwargs += (("output_padding", attrs["output_padding"]),)
        return Part(part.name, "ConvTranspose2d", part.args, kwargs, channels=part.channels)


class Subsample(Op):
    """LeNet-5's S2/S4: the sum of each k×k window times a trainable coefficient,
    plus a trainable bias, per map (then the squashing activation)."""

    name = "subsample"
    spellings = ("subsample", "subsampling")
    takes_kernel = True
    options: ClassVar[dict[str, Option]] = {
        "kernel": Ints((2, 2)),
        "stride": IntOption(None),
        "act": ActOption("none", doc="activation: relu, hardswish, leaky_relu(0.1), …"),
    }
    style = Style("pooling", "#ffc680")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
        attrs["kernel"] = pair(attrs["kernel"])
        attrs["stride"] = attrs["stride"] or attrs["kernel"][0]
        attrs["act"] = None if attrs["act"] == "none" else attrs["act"]
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        (kh, kw), s = attrs["kernel"], attrs["stride"]
        assert x.h is not None and x.w is not None
        return Shape(x.c, spatial(x.h, kh, s, 0, 1, False), spatial(x.w, kw, s, 0, 1, False))

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * out.c + act_params(attrs["act"], out.c)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel  # one multiply by the coefficient per output

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        return out.numel * (kh * kw + (1 if attrs["act"] else 0))

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (max(attrs["kernel"]), attrs["stride"])

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"subsample{kernel_text(attrs['kernel'])}/{attrs['stride']}"

    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        values = super().written({**attrs, "act": attrs["act"] or "none"}, defaults)
        if attrs["stride"] == attrs["kernel"][0]:
            del values["stride"]  # the default follows the kernel
        return values

    def label(self, attrs: dict[str, Any]) -> str:
        kh, kw = attrs["kernel"]
        return f"subsample {kh}×{kw}/{attrs['stride']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kernel = attrs["kernel"][0] if attrs["kernel"][0] == attrs["kernel"][1] else attrs["kernel"]
        args = (out.c, kernel, attrs["stride"])
        core = Part("pool", "Subsample2d", args, library="archspec", channels=((0, OUT),))
        return (core, act_part(attrs["act"], out.c, OUT)) if attrs["act"] else (core,)


class Linear(Op):
    name = "fc"
    spellings = ("fc", "FC", "linear", "dense_layer")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "out": IntOption(None),
        "bias": BoolOption(True),
        "act": ActOption("none", doc="activation: relu, hardswish, leaky_relu(0.1), …"),
    }
    style = Style("fully connected", "#c9b3ff")
    written_name = "FC"
    option_order = ("act", "bias")
    symbolic = ("out",)

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
        if attrs["out"] is None or attrs["out"] <= 0:
            raise SpecValueError("a fully connected layer needs a positive size: `FC-4096`")
        if attrs["act"] == "none":
            attrs["act"] = None
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        if not inputs[0].is_vector:
            raise ShapeRuleError("internal: linear input must be flattened first")
        return Shape(attrs["out"])

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        bias = out.c if attrs["bias"] else 0
        return inputs[0].c * out.c + bias + act_params(attrs["act"], out.c)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return inputs[0].c * out.c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.c if attrs["act"] else 0

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"FC-{attrs['out']}"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"fc {attrs['out']}"

    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return super().written({**attrs, "act": attrs["act"] or "none"}, defaults)

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = () if attrs["bias"] else (("bias", False),)
        slots = ((0, IN), (1, OUT))
        core = Part("fc", "Linear", (inputs[0].c, attrs["out"]), kwargs, channels=slots)
        return (core, act_part(attrs["act"], out.c, OUT)) if attrs["act"] else (core,)
