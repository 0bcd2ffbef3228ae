"""Activations, in one place: each declares its torch class and its spec
arguments with the torch keyword each sets (`leaky_relu(0.1)` → LeakyReLU's
`negative_slope`, `prelu(shared)` → PReLU's `num_parameters=1`,
`hardtanh(-2, 2)` → Hardtanh's `min_val`, `max_val`). The `act=` option of
conv / fc / subsample and the activation layers (`hardswish`, `leaky_relu
0.1`) are both made from `ACTIVATIONS`, and `act_part` is the one function
that turns a canonical activation into its torch `Part`, for the summary, the
builder and the generated source alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import SpecValueError, did_you_mean
from ..ir import Shape
from .base import Op, Part, Style
from .options import BoolOption, FloatOption, Option


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric argument, written positionally (`leaky_relu(0.1)`); torch takes it
    as `keyword`, which is also its place among the class's positional parameters."""

    name: str
    default: float
    keyword: str
    doc: str = ""

    def text(self, act: str, given: Any) -> str:
        if isinstance(given, bool) or not isinstance(given, int | float):
            raise SpecValueError(f"`{act}`'s {self.name} must be a number, got `{given}`")
        return f"{float(given):g}"

    def torch_value(self, text: str | None, channels: int) -> Any:
        return float(text) if text is not None else float(self.default)

    def counts_channels(self, text: str | None) -> bool:
        return False

    def option(self) -> Option:
        return FloatOption(self.default, doc=self.doc)


@dataclass(frozen=True, slots=True)
class SharedFlag:
    """PReLU's `shared`: one learnt value for all channels, or one per channel
    (torch's `num_parameters` is then 1 or the channel count)."""

    name: str
    keyword: str
    doc: str = ""
    default: bool = False

    def text(self, act: str, given: Any) -> str:
        if given in ("shared", True, 1, "true"):
            return "shared"
        if given in ("channels", False, 0, "false"):
            return "channels"
        raise SpecValueError(f"`{act}` takes `shared` or `channels`, got `{given}`")

    def torch_value(self, text: str | None, channels: int) -> Any:
        return 1 if text == "shared" else channels

    def counts_channels(self, text: str | None) -> bool:
        return text != "shared"

    def option(self) -> Option:
        return BoolOption(self.default, doc=self.doc)


ActArg = Number | SharedFlag


@dataclass(frozen=True, slots=True)
class ActForm:
    """One activation: its torch class, its arguments (in torch's positional
    order), torch keywords it always gets, whether it is built in place
    (`inplace`), whether torch's class has an in-place mode at all
    (`can_inplace`: inference may switch it on), and whether it learns weights."""

    cls: str
    args: tuple[ActArg, ...] = ()
    inplace: bool = False
    can_inplace: bool = False
    kwargs: tuple[tuple[str, Any], ...] = ()
    learns: bool = False
    bounds: bool = False  # its two arguments are a lower and an upper bound


# The one list of activations.
ACTIVATIONS: dict[str, ActForm] = {
    "relu": ActForm("ReLU", inplace=True, can_inplace=True),
    "relu6": ActForm("ReLU6", inplace=True, can_inplace=True),
    "leaky_relu": ActForm(
        "LeakyReLU",
        (Number("slope", 0.01, "negative_slope", "negative slope"),),
        inplace=True,
        can_inplace=True,
    ),
    "prelu": ActForm(
        "PReLU", (SharedFlag("shared", "num_parameters", "learnt slope per channel"),), learns=True
    ),
    "hardtanh": ActForm(
        "Hardtanh",
        (
            Number("min", -1.0, "min_val", "lower bound"),
            Number("max", 1.0, "max_val", "upper bound"),
        ),
        inplace=True,
        can_inplace=True,
        bounds=True,
    ),
    "elu": ActForm("ELU", can_inplace=True),
    "gelu": ActForm("GELU"),
    "silu": ActForm("SiLU", can_inplace=True),
    "mish": ActForm("Mish", can_inplace=True),
    "hardswish": ActForm("Hardswish", inplace=True, can_inplace=True),
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
        raise SpecValueError(
            f"unknown activation `{name}`{did_you_mean(name, [*ACTIVATIONS, *ACT_ALIASES])}"
            f" (activations: {', '.join(ACTIVATIONS)}, none)"
        )
    name = name.lower()
    if len(args) > len(form.args):
        takes = ", ".join(a.name for a in form.args) or "no arguments"
        raise SpecValueError(f"activation `{name}` takes {takes}, got {len(args)} values")
    shown = [arg.text(name, given) for arg, given in zip(form.args, args, strict=False)]
    if form.bounds:
        low, high = [float(t) for t in shown] + [a.default for a in form.args[len(shown) :]]
        if low >= high:
            raise SpecValueError(f"`{name}` needs min < max, got {low:g} and {high:g}")
    return f"{name}({', '.join(shown)})" if shown else name


def _literal(text: str) -> Any:
    text = text.strip()
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


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


def act_part(act: str, channels: int, role: str) -> Part:
    """The torch module of a canonical activation: every declared argument in
    torch's positional order (unwritten ones at their defaults), a per-channel
    count marked as the `role` ("in" / "out") channels of the layer."""
    name, texts = act_parts_of(act)
    form = ACTIVATIONS[name]
    written = [*texts, *[None] * (len(form.args) - len(texts))]
    values = tuple(arg.torch_value(t, channels) for arg, t in zip(form.args, written, strict=True))
    slots = tuple(
        (i, role)
        for i, (arg, t) in enumerate(zip(form.args, written, strict=True))
        if arg.counts_channels(t)
    )
    kwargs = form.kwargs + ((("inplace", True),) if form.inplace else ())
    return Part(name, form.cls, values, kwargs, channels=slots)


def torch_settings(act: str, channels: int) -> dict[str, Any]:
    """The torch keyword → value of each declared argument of an activation."""
    part = act_part(act, channels, "out")
    return {arg.keyword: v for arg, v in zip(ACTIVATIONS[part.name].args, part.args, strict=True)}


class Activation(Op):
    """An activation as a layer of its own (`relu`, `leaky_relu 0.1`,
    `prelu (shared)`); one subclass per `ACTIVATIONS` entry."""

    style = Style("activation", "#fff3a8", "box")

    def act(self, attrs: dict[str, Any]) -> str:
        """The canonical activation (`leaky_relu(0.1)`) the layer's options make."""
        form = ACTIVATIONS[self.name]
        args = tuple(attrs.get(a.name, a.default) for a in form.args)
        changed = any(attrs.get(a.name, a.default) != a.default for a in form.args)
        return activation((self.name, args if changed else ()))

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return act_params(self.act(attrs), inputs[0].c)

    def notation(self, attrs: dict[str, Any]) -> str:
        return self.act(attrs).replace("(", " ").replace(")", "")

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (act_part(self.act(attrs), inputs[0].c, "in"),)


def _activation_op(act: str) -> type[Activation]:
    """The layer op of one activation; defining the subclass registers it."""
    form = ACTIVATIONS[act]
    attrs: dict[str, Any] = {
        "name": act,
        "spellings": (act, *(alias for alias, name in ACT_ALIASES.items() if name == act)),
        "options": {a.name: a.option() for a in form.args},
        "flags": {a.name: (a.name, True) for a in form.args if isinstance(a, SharedFlag)},
        "positional": tuple(a.name for a in form.args if isinstance(a, Number)),
    }
    return type(act.title().replace("_", ""), (Activation,), attrs)


ACTIVATION_OPS: dict[str, type[Activation]] = {act: _activation_op(act) for act in ACTIVATIONS}


# The `act=` option of conv / fc / subsample: it checks its value as an activation.
@dataclass(frozen=True, slots=True)
class ActOption(Option):
    """An activation, `relu` or `leaky_relu(0.1)`, in its canonical text."""

    default: Any = "none"

    kind: ClassVar[str] = "act"

    def checked(self, key: str, value: Any) -> Any:
        return activation(value)
