"""The ops: the one place that knows each op.

An op states how it is written (spellings, kernel in the name, positional
arguments and flags), its options as typed objects that check their values,
its shape rule, its parameter / MAC / other-op counts, its receptive-field
window, its paper notation and diagram label and style, how it is spelt back
as spec text, and what it compiles to in PyTorch (as plain data, `Part`s
naming `torch.nn` classes or archspec's own layers, so this package stays
torch-free; `compiler/` turns the parts into modules or source).

One module per family; importing this package imports them all, and each op
class joins `REGISTRY` as it is defined, so the registry is complete here.
"""

from __future__ import annotations

from ..ir import Attrs
from .activations import (
    ACT_ALIASES,
    ACTIVATIONS,
    ActForm,
    Activation,
    ActOption,
    act_params,
    act_part,
    act_parts_of,
    activation,
    torch_settings,
)
from .base import (
    IN,
    OP_HINTS,
    OPTION_HINTS,
    OUT,
    REGISTRY,
    Geometry,
    Num,
    Op,
    Part,
    Registry,
    ShapeRuleError,
    Style,
    kernel_spelling,
    plain_number,
    spec_literal,
)
from .conv import Conv, Deconv, Linear, Subsample
from .geometry import pad_mode, spatial
from .joins import JOIN_OPS, Join, concat_shape
from .norm import BatchNorm, GroupNorm, LayerNorm, LayerScale, LocalResponseNorm
from .options import (
    BoolOption,
    Choice,
    FloatOption,
    IntOption,
    Ints,
    Option,
    Padding,
    Sides,
    Table,
)
from .pool import AvgPool, GlobalMaxPool, GlobalPool, MaxPool, Pool
from .shape import (
    ChannelShuffle,
    ChannelSlice,
    Dropout,
    DropPath,
    Flatten,
    Pad,
    PadChannels,
    Upsample,
)

__all__ = [
    "ACTIVATIONS",
    "ACT_ALIASES",
    "IN",
    "JOIN_OPS",
    "OPTION_HINTS",
    "OP_HINTS",
    "OUT",
    "REGISTRY",
    "ActForm",
    "ActOption",
    "Activation",
    "Attrs",
    "AvgPool",
    "BatchNorm",
    "BoolOption",
    "ChannelShuffle",
    "ChannelSlice",
    "Choice",
    "Conv",
    "Deconv",
    "DropPath",
    "Dropout",
    "Flatten",
    "FloatOption",
    "Geometry",
    "GlobalMaxPool",
    "GlobalPool",
    "GroupNorm",
    "IntOption",
    "Ints",
    "Join",
    "LayerNorm",
    "LayerScale",
    "Linear",
    "LocalResponseNorm",
    "MaxPool",
    "Num",
    "Op",
    "Option",
    "Pad",
    "PadChannels",
    "Padding",
    "Part",
    "Pool",
    "Registry",
    "ShapeRuleError",
    "Sides",
    "Style",
    "Subsample",
    "Table",
    "Upsample",
    "act_params",
    "act_part",
    "act_parts_of",
    "activation",
    "concat_shape",
    "kernel_spelling",
    "pad_mode",
    "plain_number",
    "spatial",
    "spec_literal",
    "torch_settings",
]
