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
from collections.abc import Callable, Mapping
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
    # How `spell` writes the op: its name there where not `name` (`FC-1000`),
    # the options it writes first and in this order where not the table's, and
    # the numbers an importer may make block parameters (`{width}`).
    written_name: ClassVar[str] = ""
    option_order: ClassVar[tuple[str, ...]] = ()
    symbolic: ClassVar[tuple[str, ...]] = ()

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
    def written(
        self, attrs: dict[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The options a spec writes to get `attrs`: those that differ from the
        file's `defaults:` for this op (a mapping of option values), or else
        from the option's own default. Ops whose `configure` derives
        attributes turn them back here."""
        return {
            key: attrs[key]
            for key, option in self.options.items()
            if key in attrs and attrs[key] != default_of(self, key, defaults)
        }

    def spell(
        self,
        attrs: dict[str, Any],
        defaults: Mapping[str, Any] | None = None,
        num: Num | None = None,
    ) -> str:
        """The layer as spec text (`conv3/2-64 (pad=valid)`) that configures to
        `attrs` under the file's `defaults:` for this op. The numbers named in
        `symbolic` are written through `num` (value, option key → text), even
        at their defaults, so an importer can turn them into block parameters."""
        values = self.written(attrs, defaults)
        number = num or plain_number
        numbers = {key: number(attrs[key], key) for key in self.symbolic}  # widths lead
        head = self.written_name or self.name
        if self.takes_kernel and "kernel" in values:
            head += kernel_spelling(values.pop("kernel"))
        stride = _head_number("stride", attrs, values, numbers)
        if stride is not None:
            head += f"/{stride}"
        width = _head_number("out", attrs, values, numbers) if self.takes_width else None
        if width is not None:
            head += f"-{width}"
        head += self._positional(values)
        ordered = sorted(values.items(), key=lambda item: self._rank(item[0]))
        shown = [self._option_spelling(key, value) for key, value in ordered]
        return head + (f" ({', '.join(shown)})" if shown else "")

    def _option_spelling(self, key: str, value: Any) -> str:
        """`key=value`, or the flag that says it (`ceil` for `round=ceil`)."""
        for word, setting in self.flags.items():
            if setting == (key, value):
                return word
        return f"{key}={spec_literal(value)}"

    def _positional(self, values: dict[str, Any]) -> str:
        """The first positional option after the name (`dropout 0.5`), where the
        grammar reads it there: a number ≥ 0."""
        key = self.positional[0] if self.positional else None
        value = values.get(key) if key is not None else None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return ""
        del values[key]
        return f" {number_spelling(value)}"

    def _rank(self, key: str) -> int:
        """Where an option goes among the written ones: `option_order` first."""
        order = (*self.option_order, *self.options)
        return order.index(key) if key in order else len(order)

    # --- compilation
    def parts(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[Part, ...]:
        return ()


Num = Callable[[int, str], str]  # (value, option key: "out" | "stride") → its text


def plain_number(value: int, key: str) -> str:
    return str(value)


def default_of(op: Op, key: str, defaults: Mapping[str, Any] | None) -> Any:
    """What an option is when a layer does not write it: the file's default
    for the op (checked as a written value is) or else the option's own."""
    option = op.options[key]
    if defaults and key in defaults:
        return option.check(key, defaults[key])
    return option.default


def _head_number(
    key: str, attrs: dict[str, Any], values: dict[str, Any], numbers: dict[str, str]
) -> str | None:
    """A stride or width as written around the name; None where it is left out
    (a literal at its default; a symbolic one is kept, `tidy` drops `/1`)."""
    given = key in values
    value = values.pop(key, None)
    if key in numbers:
        shown = numbers[key]
        return shown if given or shown != str(attrs[key]) else None
    return None if not given else str(value)


def kernel_spelling(kernel: int | tuple[int, int]) -> str:
    """`3` or `1x7`, as written after an op name."""
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    return str(kh) if kh == kw else f"{kh}x{kw}"


def number_spelling(value: int | float) -> str:
    """A number as a positional argument writes it: `0.5`, `1e-05`, `8`; in
    `:g` form where that is exact, else in full."""
    if isinstance(value, float) and float(f"{value:g}") == value:
        return f"{value:g}"
    return repr(value) if isinstance(value, float) else str(value)


def spec_literal(value: Any) -> str:
    """A value as a spec's option writes it: true, 0.001, [1, 2], same, leaky_relu(0.1)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(spec_literal(v) for v in value) + "]"
    return str(value)
