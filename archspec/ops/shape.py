"""Shape plumbing and regularisation: flatten, dropout, drop-path, zero
channels, spatial padding, channel slices and shuffles, resampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import SpecValueError
from ..ir import Shape
from .base import OUT, Geometry, Op, Part, ShapeRuleError, Style
from .geometry import pair, require_image, with_geometry
from .options import BoolOption, Choice, FloatOption, IntOption, Ints, Option, Sides


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


class Dropout(Op):
    name = "dropout"
    spellings = ("dropout",)
    positional = ("p",)
    options: ClassVar[dict[str, Option]] = {"p": FloatOption(0.5, doc="drop probability")}
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

    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"p": attrs["p"]}  # a dropout states its rate: `dropout 0.5`

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("dropout", "Dropout", kwargs=(("p", attrs["p"]),)),)


class PadChannels(Op):
    """Zero channels added around the input's (the CIFAR ResNets' parameter-free
    "option A" shortcut): `pad_channels-32`."""

    name = "pad_channels"
    spellings = ("pad_channels", "zeropad_channels")
    takes_width = True
    options: ClassVar[dict[str, Option]] = {
        "out": IntOption(None),
        "at": Choice(
            "both",
            ("both", "end"),
            "both: half the zeros before, half after (ResNet option A); end: all after, "
            "so a residual adds onto the first channels (PyramidNet, ReXNet)",
        ),
    }
    flags: ClassVar[dict[str, tuple[str, Any]]] = {"end": ("at", "end"), "both": ("at", "both")}
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
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
    options: ClassVar[dict[str, Option]] = {"sides": Sides((0, 0, 0, 0))}
    style = Style("reshape", "#f0f0f0")

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
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
        "out": IntOption(None, doc="channels kept (`slice-58`)"),
        "start": IntOption(0, doc="first channel kept"),
    }
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
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
        # a slice from channel 0 stops at its output channel count
        slots = ((1, OUT),) if attrs["start"] == 0 else ()
        args = (attrs["start"], stop)
        return (Part("slice", "ChannelSlice", args, library="archspec", channels=slots),)


class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: C = g·n channels read as g×n, transposed."""

    name = "shuffle"
    spellings = ("shuffle", "channel_shuffle")
    positional = ("groups",)
    options: ClassVar[dict[str, Option]] = {"groups": IntOption(2, doc="groups g")}
    style = Style("reshape", "#f0f0f0")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, values)
        if attrs["groups"] <= 0:
            raise SpecValueError(f"`groups` must be positive, got {attrs['groups']}")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        if x.c % attrs["groups"]:
            raise ShapeRuleError(f"{attrs['groups']} groups do not divide {x.c} channels")
        return x

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0  # a permutation

    def notation(self, attrs: dict[str, Any]) -> str:
        return f"shuffle {attrs['groups']}"

    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return (Part("shuffle", "ChannelShuffle", (attrs["groups"],)),)


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
        "factor": IntOption(None, doc="scale factor"),
        "size": Ints(None, doc="output size h or [h, w]"),
        "mode": Choice("nearest", ("nearest", "bilinear")),
        "align_corners": BoolOption(None, doc="bilinear only; required there"),
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
            attrs["size"] = pair(attrs["size"])
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        assert x.h is not None and x.w is not None
        if len(inputs) == 2:
            ref = require_image(inputs[1:], "the size reference of upsample")
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
    options: ClassVar[dict[str, Option]] = {"p": FloatOption(0.0, doc="drop probability")}
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
