"""Pooling: windowed max / average pooling and global pooling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import SpecValueError
from ..ir import Shape
from .base import Geometry, Op, Part, Style, default_of
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
from .options import BoolOption, Choice, IntOption, Ints, Option, Padding


class Pool(Op):
    kind: ClassVar[str] = "max"
    takes_kernel = True
    flags: ClassVar[dict[str, tuple[str, Any]]] = {
        "ceil": ("round", "ceil"),
        "floor": ("round", "floor"),
    }
    options: ClassVar[dict[str, Option]] = {
        "kernel": Ints((2, 2)),
        "stride": IntOption(None, doc="default: the kernel size"),
        "pad": Padding(0),
        "round": Choice(
            "floor",
            ("floor", "ceil"),
            "ceil rounds the output size up, as Caffe did (GoogLeNet)",
        ),
        "count_pad": BoolOption(True, doc="avg pool: padded zeros count in the mean"),
    }
    style = Style("pooling", "#ffd59e")

    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        attrs = super().configure(geometry, with_geometry(values, geometry))
        attrs["kernel"] = pair(attrs["kernel"])
        if attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"][0]
        if attrs["stride"] <= 0 or min(attrs["kernel"]) <= 0:
            raise SpecValueError("pool kernel and stride must be positive")
        attrs["padding"] = padding_of(attrs.pop("pad"), attrs["kernel"], 1)
        if max(attrs["padding"]) * 2 > max(attrs["kernel"]):
            raise SpecValueError("pool padding must be at most half the kernel size")
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, self.name)
        (kh, kw), (ph, pw), s = attrs["kernel"], attrs["padding"], attrs["stride"]
        ceil = attrs["round"] == "ceil"
        assert x.h is not None and x.w is not None
        return Shape(x.c, spatial(x.h, kh, s, ph, 1, ceil), spatial(x.w, kw, s, pw, 1, ceil))

    def warnings(self, attrs: dict[str, Any], inputs: list[Shape]) -> list[str]:
        if attrs["round"] == "ceil":
            return []
        return coverage_warnings(inputs[0], attrs["kernel"], attrs["stride"], attrs["padding"], 1)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        kh, kw = attrs["kernel"]
        return out.numel * kh * kw

    def window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[int, int]:
        return (max(attrs["kernel"]), attrs["stride"])

    def notation(self, attrs: dict[str, Any]) -> str:
        text = f"{self.name}{kernel_text(attrs['kernel'])}/{attrs['stride']}"
        return text + (" (ceil)" if attrs["round"] == "ceil" else "")

    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        values = super().written(attrs, defaults)
        # the window is always written, `maxpool2/2`, as the papers write it
        values.update(kernel=attrs["kernel"], stride=attrs["stride"])
        pad = written_pad(
            attrs["padding"], attrs["kernel"], 1, default_of(self, "pad", defaults), modes=False
        )
        if pad is not None:
            values["pad"] = pad
        return values

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
    options: ClassVar[dict[str, Option]] = {"kind": Choice("avg", ("avg", "max"))}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        x = require_image(inputs, "global pooling")
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
    options: ClassVar[dict[str, Option]] = {"kind": Choice("max", ("avg", "max"))}
