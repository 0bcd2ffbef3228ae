"""The op base: what every op states (spellings, options, shape rule, counts,
presentation, torch parts), the plain data it speaks in (`Part`, `Style`,
`Geometry`), and the registry every op class with a `name` joins by being
defined (`Op.__init_subclass__`), so no list of ops is kept by hand.

MAC convention (DESIGN §4): one multiply-accumulate = 1 MAC, batch 1; conv
MACs = Hout·Wout·Cout·(Cin/groups)·kh·kw, linear = in·out. Everything else is
counted in `other_ops` (one per elementwise operation or window element).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ArchSpecError
from ..ir import Shape
from .options import Option

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


# The channel roles a `Part` slot can play.
IN, OUT = "in", "out"


@dataclass(frozen=True, slots=True)
class Part:
    """One torch module an op compiles to: `library` is "nn" (torch.nn) or
    "archspec" (compiler/torch/layers.py); args and kwargs are plain literals.
    `channels` names the slots (a positional index into `args` or a keyword)
    that ARE the layer's input (`"in"`) or output (`"out"`) channel count, so
    a code generator can make them one parameter without guessing from equal
    numbers."""

    name: str
    cls: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    library: str = "nn"
    channels: tuple[tuple[int | str, str], ...] = ()


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


class Op:
    """Base of all ops. Subclasses set the class attributes and override rules;
    a subclass that sets `name` is an op and joins `REGISTRY` when defined."""

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            REGISTRY.add(cls())

    # --- configuration
    def configure(self, geometry: Geometry, values: dict[str, Any]) -> dict[str, Any]:
        """Validated attributes from the geometry and the (already merged) options."""
        return {
            key: option.check(key, values.get(key, option.default))
            for key, option in self.options.items()
        }

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

    # --- spec text: the inverse of `configure`
    def written(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The options a spec writes to get `attrs` (defaults left out); ops
        whose `configure` derives attributes turn them back here."""
        return {
            key: attrs[key]
            for key, option in self.options.items()
            if key in attrs and attrs[key] != option.default
        }

    def spell(self, attrs: dict[str, Any]) -> str:
        """The layer as spec text (`conv3/2-64 (pad=[1, 1])`) that configures to `attrs`."""
        values = self.written(attrs)
        head = self.name
        if self.takes_kernel and "kernel" in values:
            head += kernel_spelling(values.pop("kernel"))
        if self.takes_kernel and "stride" in values:
            head += f"/{values.pop('stride')}"
        if self.takes_width and "out" in values:
            head += f"-{values.pop('out')}"
        shown = ", ".join(f"{key}={spec_literal(value)}" for key, value in values.items())
        return head + (f" ({shown})" if shown else "")

    # --- compilation
    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return ()


def kernel_spelling(kernel: int | tuple[int, int]) -> str:
    """`3` or `1x7`, as written after an op name."""
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    return str(kh) if kh == kw else f"{kh}x{kw}"


def spec_literal(value: Any) -> str:
    """A value as a spec's option writes it: true, 0.001, [1, 2], same, leaky_relu(0.1)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(spec_literal(v) for v in value) + "]"
    return str(value)
