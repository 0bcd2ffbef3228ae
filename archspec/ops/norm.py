"""Normalisation ops: batch norm (also the `bn=true` of a conv), local
response norm, layer norm, group norm and layer scale."""

from __future__ import annotations

from typing import Any, ClassVar

from ..ir import Shape
from .base import IN, Op, Part, ShapeRuleError, Style
from .geometry import require_image
from .options import FloatOption, IntOption, Option


def bn_part(channels: int, attrs: dict[str, Any], role: str, vector: bool = False) -> Part:
    """Batch norm over `channels`, the layer's `role` ("in" / "out") channels."""
    kwargs: tuple[tuple[str, Any], ...] = ()
    if attrs.get("eps", 1e-5) != 1e-5:
        kwargs += (("eps", attrs["eps"]),)
    if attrs.get("momentum", 0.1) != 0.1:
        kwargs += (("momentum", attrs["momentum"]),)
    cls = "BatchNorm1d" if vector else "BatchNorm2d"
    return Part("bn", cls, (channels,), kwargs, channels=((0, role),))


class BatchNorm(Op):
    name = "bn"
    spellings = ("bn", "batchnorm", "BN")
    options: ClassVar[dict[str, Option]] = {
        "eps": FloatOption(1e-5),
        "momentum": FloatOption(0.1),
    }
    style = Style("normalisation", "#c8f0c8")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * inputs[0].c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * out.numel

    def notation(self, attrs: dict[str, Any]) -> str:
        return "BN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (bn_part(inputs[0].c, attrs, IN, inputs[0].is_vector),)


class LocalResponseNorm(Op):
    name = "lrn"
    spellings = ("lrn", "LRN")
    written_name = "LRN"  # as AlexNet's paper writes it
    options: ClassVar[dict[str, Option]] = {
        "size": IntOption(5),
        "alpha": FloatOption(1e-4),
        "beta": FloatOption(0.75),
        "k": FloatOption(2.0),
    }
    style = Style("normalisation", "#dff5df")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return require_image(inputs, "LRN")

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return out.numel * (attrs["size"] + 3)

    def notation(self, attrs: dict[str, Any]) -> str:
        return "LRN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = (("alpha", attrs["alpha"]), ("beta", attrs["beta"]), ("k", attrs["k"]))
        return (Part("lrn", "LocalResponseNorm", (attrs["size"],), kwargs),)


class LayerNorm(Op):
    """Layer norm over the channels of each position (ConvNeXt's LayerNorm2d on
    a C×H×W tensor; the usual LayerNorm on a vector); a learnt scale and shift
    per channel."""

    name = "layernorm"
    spellings = ("layernorm", "layer_norm", "layernorm2d")
    options: ClassVar[dict[str, Option]] = {"eps": FloatOption(1e-5)}
    style = Style("normalisation", "#c8f0c8")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 2 * inputs[0].c

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 4 * out.numel

    def notation(self, attrs: dict[str, Any]) -> str:
        return "LN"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        slots = ((0, IN),)
        if inputs[0].is_vector:
            return (Part("ln", "LayerNorm", (inputs[0].c,), kwargs, channels=slots),)
        part = Part("ln", "LayerNorm2d", (inputs[0].c,), kwargs, library="archspec", channels=slots)
        return (part,)


class GroupNorm(Op):
    """Group norm (Wu & He 2018): `groupnorm 32`, a learnt scale and shift per channel."""

    name = "groupnorm"
    spellings = ("groupnorm", "group_norm", "GN")
    positional = ("groups",)
    options: ClassVar[dict[str, Option]] = {
        "groups": IntOption(32, doc="groups of channels"),
        "eps": FloatOption(1e-5),
    }
    style = Style("normalisation", "#c8f0c8")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
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
        return (
            Part("gn", "GroupNorm", (attrs["groups"], inputs[0].c), kwargs, channels=((1, IN),)),
        )


class LayerScale(Op):
    """A learnt scale per channel, starting at `init` (ConvNeXt's γ): `layer_scale 1e-6`."""

    name = "layer_scale"
    spellings = ("layer_scale", "layerscale")
    positional = ("init",)
    options: ClassVar[dict[str, Option]] = {"init": FloatOption(1e-6, doc="initial value")}
    style = Style("normalisation", "#dff5df")

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return inputs[0].c

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"layer_scale {attrs['init']:g}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        channels = inputs[0].c
        args = (channels, attrs["init"])
        return (Part("scale", "LayerScale", args, library="archspec", channels=((0, IN),)),)
