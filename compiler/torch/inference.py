"""The inference build: an eval-only module that computes what the plain build
computes in eval mode, faster.

    model = archspec.load("resnet50").build(inference=True)   # build + fold
    model = fold(trained)                                     # after load_state_dict

`fold` rewrites a module in place (and returns it) with passes that work on the
module tree alone, so they apply to `net.build()`, to a class from
`archspec compile`, and to any module of the same shape:

1. **Dropout and drop-path go** (replaced by `nn.Identity`): they are the identity
   in eval mode anyway, and the call costs time.
2. **BatchNorm folds into the convolution (or linear layer) before it.** Inside a
   `Sequential` each child feeds only the next, so a `Conv2d` followed by a
   `BatchNorm2d` (the `conv`, `bn` parts of a `conv … (bn=true)` layer, or two
   adjacent layers) is one affine map of the conv's output: the BN is folded into
   the conv's weight and bias and dropped. A BN *before* a conv (`order=pre`: BN →
   ReLU → conv) has a non-linearity between it and the conv, and even without one
   the conv's zero padding is not BN-transformed, so pre-order BN stays as it is.
3. **Convolution + activation fuse** (ReLU, ReLU6, LeakyReLU, SiLU) into one oneDNN
   call (`mkldnn._convolution_pointwise`) where torch has that kernel (CPU, float32,
   4-D input); elsewhere the fused module runs the conv, then the activation. On
   CPU eager this saves one pass over each activation: a few per cent (measured by
   `benchmarks/bench_inference.py --no-fuse-act`).
4. **Activations run in place** where their input is a fresh tensor no one else
   reads: the output of the conv, linear, BN or pool just before them in the same
   `Sequential`.
5. **channels_last**: 4-D weights are stored NHWC and a pre-hook converts 4-D
   inputs, so oneDNN convolutions run without layout reorders.

Parameters stop requiring gradients: the result is for inference only.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from archspec.ops import ACTIVATIONS

if TYPE_CHECKING:
    from archspec.ir import Model

__all__ = ["ConvAct2d", "build_inference", "fold", "inference_source"]


def build_inference(net: Model, *, compile: bool = False, **options: Any) -> nn.Module:
    """`net.build()`, then `fold`; with `compile=True`, wrapped in `torch.compile`."""
    from .builder import build_module

    module = fold(build_module(net), **options)
    return torch.compile(module) if compile else module


def inference_source(net: Model) -> str:
    """`net.source()` plus this file's self-contained section (`fold` and what
    it needs) and `inference_model(state_dict=None)`, which builds the network
    class, loads the weights given and folds it (`archspec compile --inference`).
    The codegen is not touched: the section is appended text."""
    from ..source.codegen import generate_source
    from ..source.emit import network_class

    cls = network_class(net)
    return (
        generate_source(net).rstrip("\n")
        + "\n\n\n# ---- inference build (archspec compile --inference) ----\n"
        + SECTION_IMPORTS
        + _inplace_acts_source()
        + _self_contained_section()
        + INFERENCE_MODEL.format(cls=cls)
    )


SECTION_IMPORTS = """from itertools import pairwise
from typing import Any

from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

"""

INFERENCE_MODEL = '''

def inference_model(state_dict: dict | None = None) -> nn.Module:
    """An eval-only {cls}: trained weights loaded (when given), BatchNorm folded
    into the convs, dropout removed, channels_last."""
    model = {cls}()
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return fold(model)
'''


# Activations with an `inplace` flag that compute element by element, from the
# registry (archspec/ops/activations.py); the inference section uses them, and
# `inference_source` writes them out for it as this same tuple.
_INPLACE_ACTS: tuple[type[nn.Module], ...] = tuple(
    getattr(nn, form.cls) for form in ACTIVATIONS.values() if form.can_inplace
)


def _inplace_acts_source() -> str:
    names = ", ".join(f"nn.{cls.__name__}" for cls in _INPLACE_ACTS)
    return f"_INPLACE_ACTS: tuple[type[nn.Module], ...] = ({names},)\n\n"


def _self_contained_section() -> str:
    text = Path(__file__).read_text(encoding="utf-8")
    match = re.search(r"# >>> self-contained\n(.*?)# <<< self-contained\n", text, re.S)
    assert match is not None, "compiler/torch/inference.py lost its section markers"
    return match.group(1).rstrip("\n") + "\n"


# Everything between the markers is copied into `archspec compile --inference`
# output, so it may use only `torch`, `nn` and the names of SECTION_IMPORTS.
# >>> self-contained

# Modules that are the identity in eval mode and can simply go (DropPath by
# name: the generated file defines its own class).
_EVAL_IDENTITIES: tuple[type[nn.Module], ...] = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
)  # fmt: skip
_EVAL_IDENTITY_NAMES = frozenset({"DropPath"})

# Modules whose output is a new tensor that only the next module in a
# `Sequential` reads, so an activation after them may overwrite it.
_FRESH_OUTPUT: tuple[type[nn.Module], ...] = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d,
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LocalResponseNorm,
)  # fmt: skip


def fold(
    module: nn.Module,
    *,
    fuse_act: bool = True,
    channels_last: bool = True,
    inplace: bool = True,
) -> nn.Module:
    """Rewrite `module` in place for inference (archspec.compiler.torch.inference) and
    return it. Call it after loading trained weights: folding bakes BatchNorm's
    running statistics into the conv weights."""
    module.eval()
    module.requires_grad_(False)
    _remove_eval_identities(module)
    for seq in _sequentials(module):
        _fold_batchnorm(seq)
    if fuse_act:
        for seq in _sequentials(module):
            _fuse_conv_act(seq)
    if inplace:
        for seq in _sequentials(module):
            _activations_in_place(seq)
    if channels_last:
        module.to(memory_format=torch.channels_last)
        module.register_forward_pre_hook(_inputs_channels_last)
    return module


# ------------------------------------------------------------------ passes


def _sequentials(module: nn.Module) -> list[nn.Sequential]:
    # A list, not a generator: the passes replace children while we iterate.
    return [m for m in module.modules() if isinstance(m, nn.Sequential)]


def _remove_eval_identities(module: nn.Module) -> None:
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _EVAL_IDENTITIES) or type(child).__name__ in _EVAL_IDENTITY_NAMES:
                setattr(parent, name, nn.Identity())


def _foldable_bn(bn: nn.Module, channels: int) -> bool:
    """A BN that is a fixed affine map in eval mode (running statistics kept)."""
    return (
        isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d)
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.num_features == channels
    )


def _fold_batchnorm(seq: nn.Sequential) -> None:
    """Conv2d → BatchNorm2d and Linear → BatchNorm1d pairs become one module
    under the conv's name; the BN leaves the `Sequential`."""
    names = list(seq._modules)
    for first, second in pairwise(names):
        producer, bn = seq._modules.get(first), seq._modules.get(second)
        if producer is None or bn is None:
            continue  # `first` was a BN folded away just now
        if type(producer) is nn.Conv2d and _foldable_bn(bn, producer.out_channels):
            seq._modules[first] = fuse_conv_bn_eval(producer, bn)
        elif type(producer) is nn.Linear and _foldable_bn(bn, producer.out_features):
            if not isinstance(bn, nn.BatchNorm1d):
                continue
            seq._modules[first] = fuse_linear_bn_eval(producer, bn)
        else:
            continue
        del seq._modules[second]


def _fuse_conv_act(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for first, second in pairwise(names):
        conv, act = seq._modules.get(first), seq._modules.get(second)
        if (
            type(conv) is nn.Conv2d
            and conv.padding_mode == "zeros"
            and act is not None
            and _onednn_attr(act) is not None
        ):
            seq._modules[first] = ConvAct2d(conv, act)
            del seq._modules[second]


def _activations_in_place(seq: nn.Sequential) -> None:
    children = list(seq._modules.values())
    for before, act in pairwise(children):
        if isinstance(act, _INPLACE_ACTS) and isinstance(before, (*_FRESH_OUTPUT, ConvAct2d)):
            act.inplace = True


def _inputs_channels_last(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        a.contiguous(memory_format=torch.channels_last)
        if isinstance(a, torch.Tensor) and a.dim() == 4
        else a
        for a in args
    )


# ------------------------------------------------------------------ fused module


def _onednn_attr(act: nn.Module) -> tuple[str, list[float]] | None:
    """oneDNN's name and scalars for an activation it can fuse into a conv."""
    if type(act) is nn.ReLU:
        return "relu", []
    if type(act) is nn.ReLU6:
        return "hardtanh", [0.0, 6.0]
    if type(act) is nn.Hardtanh:
        return "hardtanh", [float(act.min_val), float(act.max_val)]
    if type(act) is nn.LeakyReLU:
        return "leaky_relu", [float(act.negative_slope)]
    if type(act) is nn.SiLU:
        return "swish", []
    return None


class ConvAct2d(nn.Module):
    """act(conv2d(x)) in one oneDNN call where torch has one; elsewhere (GPU,
    other dtypes, autograd) the conv, then the activation module, in place."""

    def __init__(self, conv: nn.Conv2d, act: nn.Module) -> None:
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias
        self.stride, self.padding = list(conv.stride), conv.padding
        self.dilation, self.groups = list(conv.dilation), conv.groups
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.act = act
        if hasattr(act, "inplace"):
            act.inplace = True  # it only ever sees the conv's fresh output
        attr = _onednn_attr(act)
        self.attr, self.scalars = attr if attr is not None else ("", [])
        # String padding ("same") has no oneDNN spelling here; fall back.
        self._onednn = attr is not None and isinstance(conv.padding, tuple) and _onednn_available()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self._onednn
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
        ):
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, list(self.padding), self.stride, self.dilation,
                self.groups, self.attr, self.scalars, "",
            )  # fmt: skip
        out = nn.functional.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )
        return self.act(out)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={tuple(self.weight.shape[2:])}, "
            f"stride={tuple(self.stride)}, padding={self.padding}, groups={self.groups}"
        )


def _onednn_available() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(
            torch.ops.mkldnn, "_convolution_pointwise"
        )
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


# <<< self-contained
