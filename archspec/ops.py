"""The op registry: the one place that knows each op.

An op states how it is written (spellings, kernel in the name, positional
arguments and flags), its options with types and defaults, its shape rule,
its parameter / MAC / other-op counts, its receptive-field window, its paper
notation and diagram label and style, and what it compiles to in PyTorch (as
plain data, `Part`s naming `torch.nn` classes or archspec's own layers, so this
module stays torch-free; `compiler/` turns the parts into modules or source).

MAC convention (DESIGN §4): one multiply-accumulate = 1 MAC, batch 1; conv
MACs = Hout·Wout·Cout·(Cin/groups)·kh·kw, linear = in·out. Everything else is
counted in `other_ops` (one per elementwise operation or window element).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ArchSpecError, SpecValueError
from .ir import Attrs, Shape

ACTIVATIONS = (
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "identity",
    "none",
)


class ShapeRuleError(ArchSpecError):
    """Raised by a shape rule, which knows no span; the elaborator re-raises it
    as a `ShapeError` at the spec text. Reads as its bare message."""

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Part:
    """One torch module an op compiles to: `library` is "nn" (torch.nn) or
    "archspec" (compiler/layers.py); args and kwargs are plain literals."""

    name: str
    cls: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    library: str = "nn"


@dataclass(frozen=True, slots=True)
class Option:
    kind: str  # int | float | bool | choice | pad | ints
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Style:
    """How the diagram draws an op: a family name (for the legend) and colour."""

    family: str
    fill: str
    shape: str = "box"


@dataclass(frozen=True, slots=True)
class Geometry:
    """What was written around the op name: `conv1x7/2-192`."""

    kernel: tuple[int, int] | None = None
    stride: int | None = None
    width: int | None = None


class Op:
    """Base of all ops. Subclasses set the class attributes and override rules."""

    name: ClassVar[str]
    spellings: ClassVar[tuple[str, ...]] = ()
    takes_kernel: ClassVar[bool] = False
    takes_width: ClassVar[bool] = False
    positional: ClassVar[tuple[str, ...]] = ()
    flags: ClassVar[dict[str, tuple[str, Any]]] = {}
    options: ClassVar[dict[str, Option]] = {}
    style: ClassVar[Style] = Style("other", "#eeeeee")
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int] = 1

    # --- configuration
    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        """Validated attributes from the geometry and the (already merged) options."""
        attrs: dict[str, Any] = {}
        for key, option in self.options.items():
            value = values.get(key, option.default)
            attrs[key] = _check_option(key, option, value)
        return attrs

    # --- rules (inputs are validated shapes; raise ShapeRuleError on misfit)
    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        """(effective kernel, stride) for the receptive-field computation."""
        return (1, 1)

    def warnings(self, attrs: dict[str, Any], inputs: list[Shape]) -> list[str]:
        return []

    # --- presentation
    def notation(self, attrs: dict[str, Any]) -> str:
        return self.name

    def label(self, attrs: dict[str, Any]) -> str:
        return self.notation(attrs)

    # --- compilation
    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return ()


def _check_option(key: str, option: Option, value: Any) -> Any:
    kind = option.kind
    if value is None:
        return None
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpecValueError(f"`{key}` must be an integer, got `{value}`")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecValueError(f"`{key}` must be a number, got `{value}`")
        return float(value)
    if kind == "bool":
        if value in (True, False, 0, 1, "true", "false", "yes", "no"):
            return value in (True, 1, "true", "yes")
        raise SpecValueError(f"`{key}` must be true or false, got `{value}`")
    if kind == "choice":
        if value not in option.choices:
            raise SpecValueError(
                f"`{key}` must be one of {', '.join(option.choices)}, got `{value}`"
            )
        return value
    if kind == "ints":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(isinstance(v, int) for v in value)
        ):
            return tuple(value)
        raise SpecValueError(f"`{key}` is a size or [h, w], got `{value}`")
    if kind == "table":
        if (
            isinstance(value, list)
            and value
            and all(
                isinstance(row, list)
                and all(isinstance(i, int) and not isinstance(i, bool) for i in row)
                for row in value
            )
        ):
            return tuple(tuple(row) for row in value)
        raise SpecValueError(f"`{key}` is a list of lists of input map numbers")
    if kind == "sides":
        if (
            isinstance(value, list)
            and len(value) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return tuple(value)
        raise SpecValueError(f"`{key}` is [left, right, top, bottom], got `{value}`")
    if kind == "pad":
        if value in ("same", "valid"):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and v >= 0 for v in value)
        ):
            return tuple(value)
        raise SpecValueError(f"`{key}` is same, valid, a size ≥ 0 or [h, w], got `{value}`")
    return value


# ---------------------------------------------------------------- helpers


def _with_geometry(values: dict[str, Any], geometry: Geometry) -> dict[str, Any]:
    """The options with what was written around the name (`conv3/2-64`) filled in;
    the elaborator has already refused a kernel or width the op does not take."""
    merged = dict(values)
    for key, value in (
        ("kernel", geometry.kernel),
        ("stride", geometry.stride),
        ("out", geometry.width),
    ):
        if value is not None:
            merged[key] = value
    return merged


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


def _kernel_text(kernel: tuple[int, int]) -> str:
    kh, kw = kernel
    return str(kh) if kh == kw else f"{kh}x{kw}"


def _padding(pad: Any, kernel: tuple[int, int], dilation: int) -> tuple[int, int]:
    """`same` pads (k−1)·d/2 on each side: odd kernels keep the size at stride 1
    and give ceil(n/s) at stride s (Caffe's and torchvision's half padding)."""
    if pad == "valid":
        return (0, 0)
    if pad == "same":
        out = []
        for k in kernel:
            total = dilation * (k - 1)
            if total % 2:
                raise SpecValueError(
                    f"`pad=same` needs an odd kernel (got {k}); give the padding explicitly"
                )
            out.append(total // 2)
        return (out[0], out[1])
    return _pair(pad)


def spatial(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """Output size along one axis, exactly as torch computes it."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out <= 0:
        raise ShapeRuleError(
            f"kernel {k} (dilation {d}) is larger than the padded input {n + 2 * p}"
        )
    return out


def _dropped(n: int, k: int, s: int, p: int, d: int) -> int:
    """Input rows the windows never reach with floor rounding (beyond padding)."""
    return (n + 2 * p - d * (k - 1) - 1) % s - p


def _act_part(act: str) -> Part:
    if act == "relu":
        return Part("relu", "ReLU", kwargs=(("inplace", True),))
    if act == "relu6":
        return Part("relu6", "ReLU6", kwargs=(("inplace", True),))
    if act == "leaky_relu":
        return Part("leaky_relu", "LeakyReLU", args=(0.01,), kwargs=(("inplace", True),))
    if act == "softmax":
        return Part("softmax", "Softmax", kwargs=(("dim", 1),))
    names = {
        "sigmoid": "Sigmoid",
        "tanh": "Tanh",
        "elu": "ELU",
        "gelu": "GELU",
        "silu": "SiLU",
        "identity": "Identity",
    }
    return Part(act, names[act])


def _bn_part(channels: int, attrs: dict[str, Any], vector: bool = False) -> Part:
    kwargs: tuple[tuple[str, Any], ...] = ()
    if attrs.get("eps", 1e-5) != 1e-5:
        kwargs += (("eps", attrs["eps"]),)
    if attrs.get("momentum", 0.1) != 0.1:
        kwargs += (("momentum", attrs["momentum"]),)
    return Part("bn", "BatchNorm1d" if vector else "BatchNorm2d", (channels,), kwargs)


def _require_image(inputs: list[Shape], what: str) -> Shape:
    x = inputs[0]
    if x.is_vector:
        raise ShapeRuleError(f"{what} needs a C×H×W input, got a vector of {x.c}")
    return x


# ---------------------------------------------------------------- convolution


_NORM_OPTIONS = {
    "bn": Option("bool", False, doc="batch norm after the conv (before it with order=pre)"),
    "act": Option("choice", "none", ACTIVATIONS, "activation after the conv"),
    "order": Option(
        "choice", "post", ("post", "pre"), "post: conv→BN→act; pre: BN→act→conv (pre-activation)"
    ),
    "eps": Option("float", 1e-5),
    "momentum": Option("float", 0.1),
}


class Conv(Op):
    name = "conv"
    spellings = ("conv", "convolution")
    takes_kernel = True
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "kernel": Option("ints", None),
        "stride": Option("int", 1),
        "out": Option("int", None, doc="output channels (`conv3-64`)"),
        "pad": Option("pad", 0, doc="same | valid | p | [ph, pw]"),
        "dilation": Option("int", 1),
        "groups": Option("int", 1),
        "bias": Option("bool", None, doc="default: on unless followed by BN"),
        "table": Option("table", None, doc="LeNet-5's C3: for each output map, its input maps"),
        **_NORM_OPTIONS,
    }
    style = Style("convolution", "#a8d5ff")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
        if attrs["kernel"] is None:
            raise SpecValueError("a conv needs a kernel size: `conv3-64`, `conv1x7-192`")
        attrs["kernel"] = _pair(attrs["kernel"])
        if attrs["out"] is None:
            raise SpecValueError(f"`{self.name}` needs its output channels: `conv3-64`")
        for key in ("out", "stride", "dilation", "groups"):
            if attrs[key] <= 0:
                raise SpecValueError(f"`{key}` must be positive, got {attrs[key]}")
        if min(attrs["kernel"]) <= 0:
            raise SpecValueError("kernel sizes must be positive")
        attrs["padding"] = _padding(attrs.pop("pad"), attrs["kernel"], attrs["dilation"])
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
        x = _require_image(inputs, self.name)
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
        return _coverage_warnings(x, (kh, kw), s, (ph, pw), d)

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        weights = self._connections(attrs, inputs[0].c) * kh * kw
        bias = out.c if attrs["bias"] else 0
        cin = inputs[0].c
        norm = 2 * (cin if attrs["order"] == "pre" else out.c) if attrs["bn"] else 0
        return weights + bias + norm

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
        text = f"conv{_kernel_text(attrs['kernel'])}"
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
        return Part("conv", "Conv2d", (cin, attrs["out"], kernel), tuple(kwargs))

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        cin = inputs[0].c
        core = self.core_part(attrs, cin)
        act = (_act_part(attrs["act"]),) if attrs["act"] else ()
        if attrs["order"] == "pre":
            norm = (_bn_part(cin, attrs),) if attrs["bn"] else ()
            return (*norm, *act, core)
        norm = (_bn_part(out.c, attrs),) if attrs["bn"] else ()
        return (core, *norm, *act)


def _coverage_warnings(
    x: Shape, kernel: tuple[int, int], s: int, padding: tuple[int, int], d: int
) -> list[str]:
    out = []
    for axis, n, k, p in (
        ("rows", x.h, kernel[0], padding[0]),
        ("columns", x.w, kernel[1], padding[1]),
    ):
        assert n is not None
        lost = _dropped(n, k, s, p, d)
        # With a window narrower than the stride (1×1/2) pixels are skipped all
        # along by design; only overlapping or tiling windows can lose an edge.
        if lost > 0 and d * (k - 1) + 1 >= s:
            out.append(
                f"input size {n} does not divide evenly: the last {lost} {axis} of the input "
                f"are never seen by this {k}×{k}/{s} window (floor rounding)"
            )
    return out


# ---------------------------------------------------------------- pooling


class Pool(Op):
    kind: ClassVar[str] = "max"
    takes_kernel = True
    flags: ClassVar[dict[str, tuple[str, Any]]] = {
        "ceil": ("round", "ceil"),
        "floor": ("round", "floor"),
    }
    options: ClassVar[dict[str, Option]] = {
        "kernel": Option("ints", (2, 2)),
        "stride": Option("int", None, doc="default: the kernel size"),
        "pad": Option("pad", 0),
        "round": Option(
            "choice",
            "floor",
            ("floor", "ceil"),
            "ceil rounds the output size up, as Caffe did (GoogLeNet)",
        ),
        "count_pad": Option("bool", True, doc="avg pool: padded zeros count in the mean"),
    }
    style = Style("pooling", "#ffd59e")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
        attrs["kernel"] = _pair(attrs["kernel"])
        if attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"][0]
        if attrs["stride"] <= 0 or min(attrs["kernel"]) <= 0:
            raise SpecValueError("pool kernel and stride must be positive")
        attrs["padding"] = _padding(attrs.pop("pad"), attrs["kernel"], 1)
        if max(attrs["padding"]) * 2 > max(attrs["kernel"]):
            raise SpecValueError("pool padding must be at most half the kernel size")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        (kh, kw), (ph, pw), s = attrs["kernel"], attrs["padding"], attrs["stride"]
        ceil = attrs["round"] == "ceil"
        assert x.h is not None and x.w is not None
        return Shape(x.c, spatial(x.h, kh, s, ph, 1, ceil), spatial(x.w, kw, s, pw, 1, ceil))

    def warnings(self, attrs: dict[str, Any], inputs: list[Shape]) -> list[str]:
        if attrs["round"] == "ceil":
            return []
        return _coverage_warnings(inputs[0], attrs["kernel"], attrs["stride"], attrs["padding"], 1)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        return out.numel * kh * kw

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (max(attrs["kernel"]), attrs["stride"])

    def notation(self, attrs: dict[str, Any]) -> str:
        text = f"{self.name}{_kernel_text(attrs['kernel'])}/{attrs['stride']}"
        return text + (" (ceil)" if attrs["round"] == "ceil" else "")

    def label(self, attrs: dict[str, Any]) -> str:
        kh, kw = attrs["kernel"]
        return f"{self.name} {kh}×{kw}/{attrs['stride']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kernel = attrs["kernel"][0] if attrs["kernel"][0] == attrs["kernel"][1] else attrs["kernel"]
        padding = (
            attrs["padding"][0] if attrs["padding"][0] == attrs["padding"][1] else attrs["padding"]
        )
        kwargs: list[tuple[str, Any]] = [("stride", attrs["stride"])]
        if padding != 0:
            kwargs.append(("padding", padding))
        if attrs["round"] == "ceil":
            kwargs.append(("ceil_mode", True))
        if self.kind == "avg" and not attrs["count_pad"]:
            kwargs.append(("count_include_pad", False))
        cls = "MaxPool2d" if self.kind == "max" else "AvgPool2d"
        return (Part("pool", cls, (kernel,), tuple(kwargs)),)


class MaxPool(Pool):
    name = "maxpool"
    spellings = ("maxpool", "max_pool", "pool")
    kind = "max"


class AvgPool(Pool):
    name = "avgpool"
    spellings = ("avgpool", "avg_pool")
    kind = "avg"
    style = Style("pooling", "#ffe7c2")


class GlobalPool(Op):
    name = "gap"
    spellings = ("gap", "global_avgpool", "global_pool")
    style = Style("pooling", "#ffe7c2")
    options: ClassVar[dict[str, Option]] = {"kind": Option("choice", "avg", ("avg", "max"))}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, "global pooling")
        return Shape(x.c, 1, 1)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return inputs[0].numel

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        x = inputs[0]
        return (max(x.h or 1, x.w or 1), 1)

    def notation(self, attrs: dict[str, Any]) -> str:
        return "global avgpool" if attrs["kind"] == "avg" else "global maxpool"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        cls = "AdaptiveAvgPool2d" if attrs["kind"] == "avg" else "AdaptiveMaxPool2d"
        return (Part("pool", cls, (1,)),)


class GlobalMaxPool(GlobalPool):
    name = "gmp"
    spellings = ("gmp", "global_maxpool")
    options: ClassVar[dict[str, Option]] = {"kind": Option("choice", "max", ("avg", "max"))}


# ---------------------------------------------------------------- dense layers


class Linear(Op):
    name = "fc"
    spellings = ("fc", "FC", "linear", "dense_layer")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "out": Option("int", None),
        "bias": Option("bool", True),
        "act": Option("choice", "none", ACTIVATIONS),
    }
    style = Style("fully connected", "#c9b3ff")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
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
        return inputs[0].c * out.c + (out.c if attrs["bias"] else 0)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return inputs[0].c * out.c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.c if attrs["act"] else 0

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"FC-{attrs['out']}"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"fc {attrs['out']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = () if attrs["bias"] else (("bias", False),)
        core = Part("fc", "Linear", (inputs[0].c, attrs["out"]), kwargs)
        return (core, _act_part(attrs["act"])) if attrs["act"] else (core,)


class Flatten(Op):
    name = "flatten"
    spellings = ("flatten",)
    style = Style("reshape", "#f0f0f0")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return Shape(inputs[0].numel)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0  # a view: no arithmetic

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        x = inputs[0]
        return (max(x.h or 1, x.w or 1), 1)

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("flatten", "Flatten", (1,)),)


# ---------------------------------------------------------------- regularisation, norm


class Dropout(Op):
    name = "dropout"
    spellings = ("dropout",)
    positional = ("p",)
    options: ClassVar[dict[str, Option]] = {"p": Option("float", 0.5, doc="drop probability")}
    style = Style("regularisation", "#e0e0e0", "box")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if not 0.0 <= attrs["p"] < 1.0:
            raise SpecValueError(f"dropout probability must be in [0, 1), got {attrs['p']}")
        return attrs

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0  # identity at inference

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"dropout {attrs['p']:g}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("dropout", "Dropout", kwargs=(("p", attrs["p"]),)),)


class BatchNorm(Op):
    name = "bn"
    spellings = ("bn", "batchnorm", "BN")
    options: ClassVar[dict[str, Option]] = {
        "eps": Option("float", 1e-5),
        "momentum": Option("float", 0.1),
    }
    style = Style("normalisation", "#c8f0c8")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * inputs[0].c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * out.numel

    def notation(self, attrs: dict[str, Any]) -> str:
        return "BN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (_bn_part(inputs[0].c, attrs, inputs[0].is_vector),)


class LocalResponseNorm(Op):
    name = "lrn"
    spellings = ("lrn", "LRN")
    options: ClassVar[dict[str, Option]] = {
        "size": Option("int", 5),
        "alpha": Option("float", 1e-4),
        "beta": Option("float", 0.75),
        "k": Option("float", 2.0),
    }
    style = Style("normalisation", "#dff5df")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return _require_image(inputs, "LRN")

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (attrs["size"] + 3)

    def notation(self, attrs: dict[str, Any]) -> str:
        return "LRN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = (("alpha", attrs["alpha"]), ("beta", attrs["beta"]), ("k", attrs["k"]))
        return (Part("lrn", "LocalResponseNorm", (attrs["size"],), kwargs),)


# ---------------------------------------------------------------- activations


class Activation(Op):
    style = Style("activation", "#fff3a8", "box")

    def notation(self, attrs: dict[str, Any]) -> str:
        return self.name

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (_act_part(self.name),)


def _activation(act: str, *spellings: str) -> type[Op]:
    return type(
        act.title().replace("_", ""), (Activation,), {"name": act, "spellings": (act, *spellings)}
    )


# ---------------------------------------------------------------- transposed convolution


class Deconv(Conv):
    """Transposed convolution (FCN's upsampling): out = (n−1)·s − 2p + d(k−1) + op + 1."""

    name = "deconv"
    spellings = ("deconv", "convtranspose", "upconv")
    options: ClassVar[dict[str, Option]] = {
        **{k: v for k, v in Conv.options.items() if k != "table"},
        "output_padding": Option("int", 0),
    }
    style = Style("transposed convolution", "#7fb8ef")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
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
        return Part(part.name, "ConvTranspose2d", part.args, kwargs)


# ---------------------------------------------------------------- LeNet-5's subsampling


class Subsample(Op):
    """LeNet-5's S2/S4: the sum of each k×k window times a trainable coefficient,
    plus a trainable bias, per map (then the squashing activation)."""

    name = "subsample"
    spellings = ("subsample", "subsampling")
    takes_kernel = True
    options: ClassVar[dict[str, Option]] = {
        "kernel": Option("ints", (2, 2)),
        "stride": Option("int", None),
        "act": Option("choice", "none", ACTIVATIONS),
    }
    style = Style("pooling", "#ffc680")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
        attrs["kernel"] = _pair(attrs["kernel"])
        attrs["stride"] = attrs["stride"] or attrs["kernel"][0]
        attrs["act"] = None if attrs["act"] == "none" else attrs["act"]
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        (kh, kw), s = attrs["kernel"], attrs["stride"]
        assert x.h is not None and x.w is not None
        return Shape(x.c, spatial(x.h, kh, s, 0, 1, False), spatial(x.w, kw, s, 0, 1, False))

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * out.c

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel  # one multiply by the coefficient per output

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        return out.numel * (kh * kw + (1 if attrs["act"] else 0))

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (max(attrs["kernel"]), attrs["stride"])

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"subsample{_kernel_text(attrs['kernel'])}/{attrs['stride']}"

    def label(self, attrs: dict[str, Any]) -> str:
        kh, kw = attrs["kernel"]
        return f"subsample {kh}×{kw}/{attrs['stride']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kernel = attrs["kernel"][0] if attrs["kernel"][0] == attrs["kernel"][1] else attrs["kernel"]
        core = Part("pool", "Subsample2d", (out.c, kernel, attrs["stride"]), library="archspec")
        return (core, _act_part(attrs["act"])) if attrs["act"] else (core,)


# ---------------------------------------------------------------- shape plumbing


class PadChannels(Op):
    """Zero channels added around the input's (the CIFAR ResNets' parameter-free
    "option A" shortcut): `pad_channels-32`."""

    name = "pad_channels"
    spellings = ("pad_channels", "zeropad_channels")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {"out": Option("int", None)}
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
        if not attrs["out"] or attrs["out"] <= 0:
            raise SpecValueError("`pad_channels` needs the channel count: `pad_channels-32`")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = inputs[0]
        if attrs["out"] < x.c:
            raise ShapeRuleError(f"cannot pad {x.c} channels down to {attrs['out']}")
        return Shape(attrs["out"], x.h, x.w)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"pad_channels-{attrs['out']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        extra = attrs["out"] - inputs[0].c
        return (Part("pad", "PadChannels", (extra // 2, extra - extra // 2), library="archspec"),)


class Pad(Op):
    """Spatial zero padding, negative to crop: `pad([-1, 1, -1, 1])` shifts the
    image by one pixel (NASNet's factorized reduction)."""

    name = "pad"
    spellings = ("pad", "zeropad")
    positional = ("sides",)
    options: ClassVar[dict[str, Option]] = {"sides": Option("sides", (0, 0, 0, 0))}
    style = Style("reshape", "#f0f0f0")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        left, right, top, bottom = attrs["sides"]
        assert x.h is not None and x.w is not None
        return Shape(x.c, x.h + top + bottom, x.w + left + right)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"pad{list(attrs['sides'])}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("pad", "ZeroPad2d", (tuple(attrs["sides"]),)),)


class DropPath(Op):
    """Drops the whole branch for a random subset of samples while training
    (stochastic depth, FractalNet); identity at evaluation."""

    name = "drop_path"
    spellings = ("drop_path", "droppath", "stochastic_depth")
    positional = ("p",)
    options: ClassVar[dict[str, Option]] = {"p": Option("float", 0.0, doc="drop probability")}
    style = Style("regularisation", "#e0e0e0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if not 0.0 <= attrs["p"] < 1.0:
            raise SpecValueError(f"drop-path probability must be in [0, 1), got {attrs['p']}")
        return attrs

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"drop_path {attrs['p']:.3g}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("drop", "DropPath", (attrs["p"],), library="archspec"),)


# ---------------------------------------------------------------- joins (graph form)


class Join(Op):
    """Element-wise or channel joins of several named tensors in a graph."""

    min_inputs = 2
    max_inputs = 64
    style = Style("join", "#ffffff", "circle")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise ShapeRuleError(f"`{self.name}` of different shapes: {first} and {other}")
        return first

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (len(inputs) - 1)

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (1, 1)


class Add(Join):
    name = "add"
    spellings = ("add",)

    def notation(self, attrs: dict[str, Any]) -> str:
        return "+"


class Mul(Join):
    name = "mul"
    spellings = ("mul",)

    def notation(self, attrs: dict[str, Any]) -> str:
        return "×"


class Mean(Join):
    """Element-wise mean (FractalNet's join); with `drop_path` each input is
    dropped with that probability while training, keeping at least one."""

    name = "mean"
    spellings = ("mean",)
    options: ClassVar[dict[str, Option]] = {"drop_path": Option("float", 0.0)}

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if not 0.0 <= attrs["drop_path"] < 1.0:
            raise SpecValueError(
                f"drop-path probability must be in [0, 1), got {attrs['drop_path']}"
            )
        return attrs

    def notation(self, attrs: dict[str, Any]) -> str:
        return "mean" + (f" (drop-path {attrs['drop_path']:g})" if attrs["drop_path"] else "")

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        # With drop-path the join depends on training mode: a module, not an expression.
        if attrs["drop_path"]:
            return (Part("join", "MeanJoin", (attrs["drop_path"],), library="archspec"),)
        return ()


class ConcatJoin(Join):
    name = "concat"
    spellings = ("concat",)

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return concat_shape(inputs)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0


def concat_shape(shapes: list[Shape]) -> Shape:
    first = shapes[0]
    for other in shapes[1:]:
        if (other.h, other.w) != (first.h, first.w):
            where = (
                "vectors and images"
                if other.is_vector != first.is_vector
                else (f"{first.h}×{first.w} and {other.h}×{other.w}")
            )
            raise ShapeRuleError(f"concat of different spatial sizes: {where}")
    return Shape(sum(s.c for s in shapes), first.h, first.w)


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Registry:
    ops: dict[str, Op] = field(default_factory=dict)
    by_spelling: dict[str, Op] = field(default_factory=dict)

    def add(self, op: Op) -> None:
        self.ops[op.name] = op
        for spelling in (op.name, *op.spellings):
            self.by_spelling[spelling] = op
            self.by_spelling[spelling.lower()] = op

    def lookup(self, written: str) -> tuple[Op, tuple[int, int] | None] | None:
        """The op a name denotes, splitting a kernel size off: conv3, conv1x7."""
        op = self.by_spelling.get(written) or self.by_spelling.get(written.lower())
        if op is not None:
            return op, None
        match = re.fullmatch(r"([A-Za-z_]+?)(\d+)(?:x(\d+))?", written)
        if not match:
            return None
        prefix, kh, kw = match.groups()
        op = self.by_spelling.get(prefix) or self.by_spelling.get(prefix.lower())
        if op is None or not op.takes_kernel:
            return None
        return op, (int(kh), int(kw or kh))

    def spellings(self) -> list[str]:
        return sorted(self.by_spelling)


REGISTRY = Registry()
for _op in (
    Conv(),
    MaxPool(),
    AvgPool(),
    GlobalPool(),
    GlobalMaxPool(),
    Linear(),
    Flatten(),
    Dropout(),
    BatchNorm(),
    LocalResponseNorm(),
    Deconv(),
    Subsample(),
    PadChannels(),
    Pad(),
    DropPath(),
    _activation("relu")(),
    _activation("relu6")(),
    _activation("sigmoid")(),
    _activation("tanh")(),
    _activation("softmax")(),
    _activation("leaky_relu")(),
    _activation("elu")(),
    _activation("gelu")(),
    _activation("silu", "swish")(),
    _activation("identity")(),
    Add(),
    Mul(),
    Mean(),
    ConcatJoin(),
):
    REGISTRY.add(_op)

JOIN_OPS = {
    "add": REGISTRY.ops["add"],
    "mul": REGISTRY.ops["mul"],
    "mean": REGISTRY.ops["mean"],
    "concat": REGISTRY.ops["concat"],
}


__all__ = ["JOIN_OPS", "REGISTRY", "Attrs", "Geometry", "Op", "Part", "ShapeRuleError", "Style"]
