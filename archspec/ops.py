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


@dataclass(frozen=True, slots=True)
class ActForm:
    """One activation: its torch class, its arguments (name, default; written
    positionally, `leaky_relu(0.1)`), whether torch may run it in place, and
    whether it learns one weight per channel (PReLU)."""

    cls: str
    args: tuple[tuple[str, Any], ...] = ()
    inplace: bool = False
    kwargs: tuple[tuple[str, Any], ...] = ()
    learns: bool = False
    doc: str = ""


# The one list of activations: the `act=` option of conv / fc / subsample and
# the activation layers (`hardswish`, `leaky_relu 0.1`) are both made from it.
ACTIVATIONS: dict[str, ActForm] = {
    "relu": ActForm("ReLU", inplace=True),
    "relu6": ActForm("ReLU6", inplace=True),
    "leaky_relu": ActForm("LeakyReLU", (("slope", 0.01),), inplace=True, doc="negative slope"),
    "prelu": ActForm("PReLU", (("shared", False),), learns=True, doc="learnt slope per channel"),
    "elu": ActForm("ELU"),
    "gelu": ActForm("GELU"),
    "silu": ActForm("SiLU"),
    "mish": ActForm("Mish"),
    "hardswish": ActForm("Hardswish", inplace=True),
    "hardsigmoid": ActForm("Hardsigmoid"),
    "sigmoid": ActForm("Sigmoid"),
    "tanh": ActForm("Tanh"),
    "softmax": ActForm("Softmax", kwargs=(("dim", 1),)),
    "identity": ActForm("Identity"),
}
ACT_ALIASES = {
    "swish": "silu",
    "hard_swish": "hardswish",
    "h_swish": "hardswish",
    "hswish": "hardswish",
    "hard_sigmoid": "hardsigmoid",
    "h_sigmoid": "hardsigmoid",
    "hsigmoid": "hardsigmoid",
    "leakyrelu": "leaky_relu",
}


# Names from other notations and frameworks, and what to write instead; said
# in place of a did-you-mean, which would mislead (`LN` is not `LRN`).
OP_HINTS = {
    "ln": "write `layernorm` (layer norm over channels)",
    "dwconv": "a depthwise conv is `conv3-C (groups=C)` with C its input channels",
    "depthwise": "a depthwise conv is `conv3-C (groups=C)` with C its input channels",
    "sepconv": "write the depthwise and pointwise convs: `conv3-C (groups=C), conv1-N`",
    "batchnorm2d": "write `bn`",
    "linear_layer": "write `fc-N`",
    "upsampling": "write `upsample 2`",
    "dense": "a fully connected layer is `fc-N`; DenseNet's block is the `dense:` combinator",
    "swish_": "write `silu` (or `swish`)",
}
OPTION_HINTS = {
    "activation": "act",
    "padding": "pad",
    "kernel_size": "kernel",
    "strides": "stride",
    "dilation_rate": "dilation",
    "use_bias": "bias",
    "batchnorm": "bn",
    "batch_norm": "bn",
    "norm": "bn",
}


class ShapeRuleError(ArchSpecError):
    """Raised by a shape rule, which knows no span; the elaborator re-raises it
    as a `ShapeError` at the spec text. Reads as its bare message."""

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Part:
    """One torch module an op compiles to: `library` is "nn" (torch.nn) or
    "archspec" (compiler/torch/layers.py); args and kwargs are plain literals."""

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
    if kind == "act":
        return activation(value)
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


def activation(value: Any) -> str:
    """An activation as written (`relu`, `swish`, `leaky_relu(0.1)`, or the
    pair ("leaky_relu", (0.1,)) the elaborator makes of a call) in its
    canonical text: `relu`, `silu`, `leaky_relu(0.1)`, `prelu(shared)`."""
    if value in (None, "none"):
        return "none"
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", value)
        if not match:
            raise SpecValueError(
                f"`act` is an activation (relu, leaky_relu(0.1), …), not `{value}`"
            )
        name, inner = match.groups()
        args: tuple[Any, ...] = tuple(_literal(a) for a in inner.split(",")) if inner else ()
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, args = value[0], tuple(value[1])
    else:
        raise SpecValueError(f"`act` is an activation (relu, leaky_relu(0.1), …), not `{value}`")
    name = ACT_ALIASES.get(name, ACT_ALIASES.get(name.lower(), name))
    form = ACTIVATIONS.get(name) or ACTIVATIONS.get(name.lower())
    if form is None:
        from .errors import did_you_mean

        raise SpecValueError(
            f"unknown activation `{name}`{did_you_mean(name, [*ACTIVATIONS, *ACT_ALIASES])}"
            f" (activations: {', '.join(ACTIVATIONS)}, none)"
        )
    name = name.lower()
    if len(args) > len(form.args):
        takes = ", ".join(a for a, _ in form.args) or "no arguments"
        raise SpecValueError(f"activation `{name}` takes {takes}, got {len(args)} values")
    shown = [
        _act_arg(name, key, default, given)
        for (key, default), given in zip(form.args, args, strict=False)
    ]
    return f"{name}({', '.join(shown)})" if shown else name


def _literal(text: str) -> Any:
    text = text.strip()
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def _act_arg(name: str, key: str, default: Any, given: Any) -> str:
    """One argument of a parameterised activation, checked and written back."""
    if isinstance(default, bool):
        if given in ("shared", True, 1, "true"):
            return "shared"
        if given in ("channels", False, 0, "false"):
            return "channels"
        raise SpecValueError(f"`{name}` takes `shared` or `channels`, got `{given}`")
    if isinstance(given, bool) or not isinstance(given, int | float):
        raise SpecValueError(f"`{name}`'s {key} must be a number, got `{given}`")
    return f"{float(given):g}"


def act_parts_of(act: str) -> tuple[str, list[str]]:
    """The name and argument texts of a canonical activation."""
    name, _, inner = act.partition("(")
    return name, [a.strip() for a in inner.rstrip(")").split(",")] if inner else []


def act_params(act: str | None, channels: int) -> int:
    """Learnt parameters of an activation: PReLU's slopes (one, or one per channel)."""
    if not act:
        return 0
    name, args = act_parts_of(act)
    if not ACTIVATIONS[name].learns:
        return 0
    return 1 if args and args[0] == "shared" else channels


def _act_part(act: str, channels: int = 1) -> Part:
    name, args = act_parts_of(act)
    form = ACTIVATIONS[name]
    kwargs = form.kwargs + ((("inplace", True),) if form.inplace else ())
    positional: tuple[Any, ...] = ()
    if name == "leaky_relu":
        positional = (float(args[0]) if args else 0.01,)
    elif name == "prelu":
        positional = (1 if args and args[0] == "shared" else channels,)
    return Part(name, form.cls, positional, kwargs)


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
    "act": Option("act", "none", doc="activation after the conv: relu, leaky_relu(0.1), …"),
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
        if attrs.get("table") is None and attrs["out"] % attrs["groups"]:
            raise SpecValueError(
                f"groups={attrs['groups']} must divide the output channels ({attrs['out']})"
            )
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
        normed = cin if attrs["order"] == "pre" else out.c
        act = (_act_part(attrs["act"], normed),) if attrs["act"] else ()
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
        "act": Option("act", "none", doc="activation: relu, hardswish, leaky_relu(0.1), …"),
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

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = () if attrs["bias"] else (("bias", False),)
        core = Part("fc", "Linear", (inputs[0].c, attrs["out"]), kwargs)
        return (core, _act_part(attrs["act"], out.c)) if attrs["act"] else (core,)


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
    """An activation as a layer of its own (`relu`, `leaky_relu 0.1`,
    `prelu (shared)`); made from its `ACTIVATIONS` entry."""

    style = Style("activation", "#fff3a8", "box")

    def act(self, attrs: dict[str, Any]) -> str:
        """The canonical activation (`leaky_relu(0.1)`) the layer's options make."""
        form = ACTIVATIONS[self.name]
        args = tuple(attrs.get(key, default) for key, default in form.args)
        changed = any(attrs.get(k, d) != d for k, d in form.args)
        return activation((self.name, args if changed else ()))

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return act_params(self.act(attrs), inputs[0].c)

    def notation(self, attrs: dict[str, Any]) -> str:
        return self.act(attrs).replace("(", " ").replace(")", "")

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (_act_part(self.act(attrs), inputs[0].c),)


def _activation(act: str) -> type[Op]:
    form = ACTIVATIONS[act]
    spellings = (act, *(alias for alias, name in ACT_ALIASES.items() if name == act))
    options = {
        key: Option("bool" if isinstance(d, bool) else "float", d, doc=form.doc)
        for key, d in form.args
    }
    flags = {key: (key, True) for key, d in form.args if isinstance(d, bool)}
    positional = tuple(key for key, d in form.args if not isinstance(d, bool))
    attrs = {
        "name": act,
        "spellings": spellings,
        "options": options,
        "flags": flags,
        "positional": positional,
    }
    return type(act.title().replace("_", ""), (Activation,), attrs)


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
        "act": Option("act", "none", doc="activation: relu, hardswish, leaky_relu(0.1), …"),
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
        return 2 * out.c + act_params(attrs["act"], out.c)

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
        return (core, _act_part(attrs["act"], out.c)) if attrs["act"] else (core,)


# ---------------------------------------------------------------- shape plumbing


class PadChannels(Op):
    """Zero channels added around the input's (the CIFAR ResNets' parameter-free
    "option A" shortcut): `pad_channels-32`."""

    name = "pad_channels"
    spellings = ("pad_channels", "zeropad_channels")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "out": Option("int", None),
        "at": Option(
            "choice",
            "both",
            ("both", "end"),
            "both: half the zeros before, half after (ResNet option A); end: all after, "
            "so a residual adds onto the first channels (PyramidNet, ReXNet)",
        ),
    }
    flags: ClassVar[dict[str, tuple[str, Any]]] = {"end": ("at", "end"), "both": ("at", "both")}
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
        return f"pad_channels-{attrs['out']}" + (" (end)" if attrs["at"] == "end" else "")

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        extra = attrs["out"] - inputs[0].c
        before = 0 if attrs["at"] == "end" else extra // 2
        return (Part("pad", "PadChannels", (before, extra - before), library="archspec"),)


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


class ChannelSlice(Op):
    """Channels `start` … `start + C − 1` of the input: `slice-58` keeps the first
    58 (GhostNet), `slice-58 (start=58)` the next 58 (ShuffleNet v2's split)."""

    name = "slice"
    spellings = ("slice", "channels")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "out": Option("int", None, doc="channels kept (`slice-58`)"),
        "start": Option("int", 0, doc="first channel kept"),
    }
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, _with_geometry(values, geometry))
        if not attrs["out"] or attrs["out"] <= 0:
            raise SpecValueError("`slice` needs the channels it keeps: `slice-32`")
        if attrs["start"] < 0:
            raise SpecValueError(f"`start` must be ≥ 0, got {attrs['start']}")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = inputs[0]
        stop = attrs["start"] + attrs["out"]
        if stop > x.c:
            raise ShapeRuleError(f"channels {attrs['start']}…{stop - 1} of an input of {x.c}")
        return Shape(attrs["out"], x.h, x.w)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0  # a view

    def notation(self, attrs: dict[str, Any]) -> str:
        start = f" (start={attrs['start']})" if attrs["start"] else ""
        return f"slice-{attrs['out']}{start}"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"channels {attrs['start']}…{attrs['start'] + attrs['out'] - 1}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        stop = attrs["start"] + attrs["out"]
        return (Part("slice", "ChannelSlice", (attrs["start"], stop), library="archspec"),)


class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: C = g·n channels read as g×n, transposed."""

    name = "shuffle"
    spellings = ("shuffle", "channel_shuffle")
    positional = ("groups",)
    options: ClassVar[dict[str, Option]] = {"groups": Option("int", 2, doc="groups g")}
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if attrs["groups"] <= 0:
            raise SpecValueError(f"`groups` must be positive, got {attrs['groups']}")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        if x.c % attrs["groups"]:
            raise ShapeRuleError(f"{attrs['groups']} groups do not divide {x.c} channels")
        return x

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0  # a permutation

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"shuffle {attrs['groups']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("shuffle", "ChannelShuffle", (attrs["groups"],)),)


class LayerNorm(Op):
    """Layer norm over the channels of each position (ConvNeXt's LayerNorm2d on
    a C×H×W tensor; the usual LayerNorm on a vector); a learnt scale and shift
    per channel."""

    name = "layernorm"
    spellings = ("layernorm", "layer_norm", "layernorm2d")
    options: ClassVar[dict[str, Option]] = {"eps": Option("float", 1e-5)}
    style = Style("normalisation", "#c8f0c8")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * inputs[0].c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 4 * out.numel

    def notation(self, attrs: dict[str, Any]) -> str:
        return "LN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        if inputs[0].is_vector:
            return (Part("ln", "LayerNorm", (inputs[0].c,), kwargs),)
        return (Part("ln", "LayerNorm2d", (inputs[0].c,), kwargs, library="archspec"),)


class GroupNorm(Op):
    """Group norm (Wu & He 2018): `groupnorm 32`, a learnt scale and shift per channel."""

    name = "groupnorm"
    spellings = ("groupnorm", "group_norm", "GN")
    positional = ("groups",)
    options: ClassVar[dict[str, Option]] = {
        "groups": Option("int", 32, doc="groups of channels"),
        "eps": Option("float", 1e-5),
    }
    style = Style("normalisation", "#c8f0c8")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        if attrs["groups"] <= 0 or x.c % attrs["groups"]:
            raise ShapeRuleError(f"{attrs['groups']} groups do not divide {x.c} channels")
        return x

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * inputs[0].c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 4 * out.numel

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"GN {attrs['groups']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        return (Part("gn", "GroupNorm", (attrs["groups"], inputs[0].c), kwargs),)


class LayerScale(Op):
    """A learnt scale per channel, starting at `init` (ConvNeXt's γ): `layer_scale 1e-6`."""

    name = "layer_scale"
    spellings = ("layer_scale", "layerscale")
    positional = ("init",)
    options: ClassVar[dict[str, Option]] = {"init": Option("float", 1e-6, doc="initial value")}
    style = Style("normalisation", "#dff5df")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return inputs[0].c

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"layer_scale {attrs['init']:g}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        channels = inputs[0].c
        return (Part("scale", "LayerScale", (channels, attrs["init"]), library="archspec"),)


class Upsample(Op):
    """Resampling: `upsample 2` by a factor, `upsample (size=[h, w])` to a size, or
    from two tensors `from: [y, ref]` to the spatial size of the second (a
    segmentation head back to its input; a 1×1 global feature over H×W).
    `align_corners` must be stated for bilinear resampling."""

    name = "upsample"
    spellings = ("upsample", "resize", "interpolate")
    positional = ("factor",)
    flags: ClassVar[dict[str, tuple[str, Any]]] = {
        "nearest": ("mode", "nearest"),
        "bilinear": ("mode", "bilinear"),
    }
    options: ClassVar[dict[str, Option]] = {
        "factor": Option("int", None, doc="scale factor"),
        "size": Option("ints", None, doc="output size h or [h, w]"),
        "mode": Option("choice", "nearest", ("nearest", "bilinear")),
        "align_corners": Option("bool", None, doc="bilinear only; required there"),
    }
    style = Style("resampling", "#b9e6e0")
    max_inputs = 2

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if attrs["factor"] is not None and attrs["size"] is not None:
            raise SpecValueError("`upsample` takes a factor or a size, not both")
        if attrs["factor"] is not None and attrs["factor"] <= 0:
            raise SpecValueError(f"the upsampling factor must be positive, got {attrs['factor']}")
        if attrs["mode"] == "bilinear" and attrs["align_corners"] is None:
            raise SpecValueError(
                "bilinear upsampling needs `align_corners=true` or `align_corners=false`"
            )
        if attrs["mode"] == "nearest" and attrs["align_corners"] is not None:
            raise SpecValueError("`align_corners` applies to bilinear upsampling only")
        if attrs["size"] is not None:
            attrs["size"] = _pair(attrs["size"])
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = _require_image(inputs, self.name)
        assert x.h is not None and x.w is not None
        if len(inputs) == 2:
            ref = _require_image(inputs[1:], "the size reference of upsample")
            if attrs["factor"] is not None or attrs["size"] is not None:
                raise ShapeRuleError("with a size reference, give no factor or size")
            return Shape(x.c, ref.h, ref.w)
        if attrs["size"] is not None:
            return Shape(x.c, *attrs["size"])
        if attrs["factor"] is None:
            raise ShapeRuleError(
                "give a factor (`upsample 2`), a size, or a tensor to match (`from: [y, ref]`)"
            )
        return Shape(x.c, x.h * attrs["factor"], x.w * attrs["factor"])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (4 if attrs["mode"] == "bilinear" else 1)

    def notation(self, attrs: dict[str, Any]) -> str:
        how = f" {attrs['factor']}" if attrs["factor"] else ""
        return f"upsample{how} ({attrs['mode']})"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs: tuple[tuple[str, Any], ...] = (("mode", attrs["mode"]),)
        if attrs["align_corners"] is not None:
            kwargs += (("align_corners", attrs["align_corners"]),)
        if len(inputs) == 2:
            return (Part("resize", "Resize", kwargs=kwargs, library="archspec"),)
        if attrs["factor"] is not None:
            return (Part("up", "Upsample", kwargs=(("scale_factor", attrs["factor"]), *kwargs)),)
        return (Part("up", "Upsample", kwargs=(("size", attrs["size"]), *kwargs)),)


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

    broadcasts: ClassVar[bool] = False  # a C×1×1 input is spread over H×W

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        first = inputs[0]
        if self.broadcasts:
            first = max(inputs, key=lambda s: s.numel)
        for other in inputs:
            if other != first and not (self.broadcasts and _spreads(other, first)):
                shown = " and ".join(dict.fromkeys(str(s) for s in inputs))
                raise ShapeRuleError(f"`{self.name}` of different shapes: {shown}")
        return first

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (len(inputs) - 1)

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (1, 1)


def _spreads(small: Shape, big: Shape) -> bool:
    """A C×1×1 tensor broadcasts over a C×H×W one (a global feature, an SE gate)."""
    return small.c == big.c and (small.h, small.w) == (1, 1) and not big.is_vector


class Add(Join):
    name = "add"
    spellings = ("add",)
    broadcasts = True

    def notation(self, attrs: dict[str, Any]) -> str:
        return "+"


class Mul(Join):
    name = "mul"
    spellings = ("mul",)
    broadcasts = True

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
    ChannelSlice(),
    ChannelShuffle(),
    LayerNorm(),
    GroupNorm(),
    LayerScale(),
    Upsample(),
    DropPath(),
    *(_activation(act)() for act in ACTIVATIONS),
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
