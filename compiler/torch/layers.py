"""The combinators: small `nn.Module`s that wire an IR block's children.

Each class takes its children as keyword arguments and registers them under the
IR child names, so state_dict keys read like the spec (`inception_3a.branch2.
conv1.conv.weight`). Their `forward` is plain tensor code with no per-call
interpretation. This file is the single definition of these classes: the
module builder imports them and the code generator copies their source (via
`inspect.getsource`) into every generated file, so both backends run the very
same code. Keep it self-contained: it may use only `torch`, `nn` and
`OrderedDict`, the names every generated file imports.
"""

from collections import OrderedDict

import torch
from torch import nn


class Sequential(nn.Sequential):
    """`nn.Sequential` with named children given as keyword arguments."""

    def __init__(self, **modules: nn.Module) -> None:
        super().__init__(OrderedDict(modules))


class Concat(nn.Module):
    """Branches side by side on the same input, outputs concatenated on channels."""

    def __init__(self, **branches: nn.Module) -> None:
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = []
        for branch in self.children():
            outs.append(branch(x))
        return torch.cat(outs, 1)


def mean_of(outs: list[torch.Tensor], drop_path: float, training: bool) -> torch.Tensor:
    """The mean of `outs`. While training with drop_path > 0, each input is
    dropped per sample with that probability, keeping at least one, and the
    mean is over the inputs kept (FractalNet's local drop-path)."""
    if not training or drop_path == 0.0:
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total / len(outs)
    n, device = outs[0].shape[0], outs[0].device
    keep = torch.rand([len(outs), n], device=device) >= drop_path
    rescue = torch.randint(len(outs), [n], device=device)  # for samples that lost all
    samples = torch.arange(n, device=device)
    keep[rescue, samples] = keep[rescue, samples] | ~keep.any(0)
    weight = keep.to(outs[0].dtype)
    weight = weight / weight.sum(0, keepdim=True)
    shape = [-1] + [1] * (outs[0].dim() - 1)
    total = outs[0] * weight[0].view(shape)
    for k in range(1, len(outs)):
        total = total + outs[k] * weight[k].view(shape)
    return total


class Mean(nn.Module):
    """Branches side by side, outputs averaged (FractalNet's join), with
    optional drop-path while training."""

    def __init__(self, *, drop_path_: float = 0.0, **branches: nn.Module) -> None:
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)
        self._drop_path = float(drop_path_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = []
        for branch in self.children():
            outs.append(branch(x))
        return mean_of(outs, self._drop_path, self.training)


class Residual(nn.Module):
    """out = post(scale · residual(x) + shortcut(x)); the shortcut is the identity
    when there is no `shortcut` child. `post` names the child applied after the
    sum (ResNet's final ReLU), registered under its own IR name. Children may
    also be assigned after `__init__` (a generated subclass does), in the order
    residual, shortcut, post."""

    def __init__(self, *, scale_: float = 1.0, post_: str | None = None,
                 **children: nn.Module) -> None:  # fmt: skip
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)
        self._scale = float(scale_)
        self._post = post_ or ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, shortcut, done = x, x, False
        for name, child in self.named_children():  # unrolled by TorchScript
            if name == "residual":
                out = child(x)
                if self._scale != 1.0:
                    out = out * self._scale
            elif name == "shortcut":
                shortcut = child(x)
            elif name == self._post:
                out = child(out + shortcut)
                done = True
        return out if done else out + shortcut


class Dense(nn.Module):
    """DenseNet's block: x ← concat(x, layer(x)) for each layer in turn."""

    def __init__(self, **layers: nn.Module) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], 1)
        return x


class Scale(nn.Module):
    """x · gate(x) (squeeze-and-excitation); a gate of C values scales channels."""

    def __init__(self, **gate: nn.Module) -> None:
        super().__init__()
        for name, module in gate.items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for gate in self.children():
            g = gate(x)
            if g.dim() == 2 and x.dim() == 4:
                g = g[:, :, None, None]
            x = x * g
        return x


class Graph(nn.Module):
    """Children wired by name; a generated subclass writes the `forward`."""

    def __init__(self, **children: nn.Module) -> None:
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


class TableConv2d(nn.Module):
    """A convolution where output map i reads only the input maps table[i]
    (LeNet-5's C3). One kh×kw kernel per connection; the dense weight is
    assembled on each call, so only real connections are parameters."""

    def __init__(self, table: tuple[tuple[int, ...], ...], kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0, dilation: int = 1,
                 groups: int = 1, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if groups != 1:
            raise ValueError("a connection table replaces groups")
        self.out_channels = len(table)
        self.kernel_size = (kh, kw)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        rows = [i for i, row in enumerate(table) for _ in row]
        cols = [j for row in table for j in row]
        self.register_buffer("rows", torch.tensor(rows), persistent=False)
        self.register_buffer("cols", torch.tensor(cols), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(cols), kh, kw))
        self.bias = nn.Parameter(torch.empty(len(table))) if bias else None
        # Kaiming normal with torchvision's fan-out, as for a full convolution.
        nn.init.normal_(self.weight, 0.0, (2.0 / (len(table) * kh * kw)) ** 0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dense = self.weight.new_zeros(self.out_channels, x.shape[1], *self.kernel_size)
        dense = dense.index_put((self.rows, self.cols), self.weight)
        return nn.functional.conv2d(x, dense, self.bias, self.stride, self.padding,
                                    self.dilation)  # fmt: skip


class Subsample2d(nn.Module):
    """LeNet-5's subsampling: each k×k window summed, times a trainable
    coefficient, plus a trainable bias, per channel."""

    def __init__(self, channels: int, kernel_size: int | tuple[int, int], stride: int) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.kernel_size, self.stride = (kh, kw), stride
        # Starts as an average pool: coefficient 1/(k·k), bias 0.
        self.weight = nn.Parameter(torch.full((channels,), 1.0 / (kh * kw)))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = nn.functional.avg_pool2d(x, self.kernel_size, self.stride, divisor_override=1)
        return total * self.weight[:, None, None] + self.bias[:, None, None]


class PadChannels(nn.Module):
    """Zero channels before and after the input's (ResNet's option-A shortcut)."""

    def __init__(self, before: int, after: int) -> None:
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sides = (0, 0) * (x.dim() - 2) + (self.before, self.after)
        return nn.functional.pad(x, sides)


class ChannelSlice(nn.Module):
    """Channels start … stop − 1 of the input (a view)."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.stop]


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of each position of an N×C×H×W tensor
    (ConvNeXt's LayerNorm2d): a learnt weight and bias per channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learnt scale per channel, starting at `init` (ConvNeXt's γ)."""

    def __init__(self, channels: int, init: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels, 1, 1), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight if x.dim() == 4 else self.weight[:, 0, 0]
        return x * weight


class Resize(nn.Module):
    """Resamples x to the spatial size of a second tensor."""

    def __init__(self, mode: str = "nearest", align_corners: bool | None = None) -> None:
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        # called with [x, ref], as every layer joining several tensors is
        x, ref = xs[0], xs[1]
        return nn.functional.interpolate(x, size=ref.shape[-2:], mode=self.mode,
                                         align_corners=self.align_corners)  # fmt: skip


class DropPath(nn.Module):
    """Drops the whole input for a random subset of samples while training,
    scaling the kept ones by 1/(1 − p); the identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class MeanJoin(nn.Module):
    """A graph's `mean` join with drop-path (a module: it depends on training),
    called with the list of tensors it joins."""

    def __init__(self, drop_path: float = 0.0) -> None:
        super().__init__()
        self.drop_path = drop_path

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return mean_of(xs, self.drop_path, self.training)


def init_weights(model: nn.Module) -> None:
    """torchvision's initialisation: Kaiming-normal convs (fan-out, ReLU), unit
    BN, N(0, 0.01) linear layers, zero biases. Visits modules in registration
    order, so one seed gives the same weights every time."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


# The torch forms block kinds name (`Kind.TORCH` in archspec/blocks/).
COMBINATORS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (Sequential, Concat, Mean, Residual, Dense, Scale, Graph)
}

# Classes an op's `Part(library="archspec")` may name. They initialise
# themselves in their constructors; `init_weights` leaves them alone.
PART_CLASSES: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (TableConv2d, Subsample2d, PadChannels, DropPath, MeanJoin, ChannelSlice,
                LayerNorm2d, LayerScale, Resize)
}  # fmt: skip

# Attribute names the combinators use themselves; a child may not take them.
INTERNAL_NAMES = frozenset({"_scale", "_post", "_has_shortcut", "_drop_path", "scale_", "post_",
                            "drop_path_"})  # fmt: skip

# Functions the classes above call; the generated source carries them too.
HELPERS = {Mean: (mean_of,), MeanJoin: (mean_of,)}
