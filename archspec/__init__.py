"""archspec — write a CNN the way its paper prints it; check, draw and compile it.

    >>> import archspec
    >>> net = archspec.load("vgg_e")          # a bundled spec, or a path
    >>> net.params, net.macs, net.output
    >>> model = net.build()                   # torch.nn.Module (imports torch)

This package is torch-free: `summary`, `check` and `draw` never import torch.
"""

from .errors import ArchSpecError, ShapeError, SpecErrors, SpecSyntaxError, SpecWarning
from .network import Network, bundled_specs, load, loads

__all__ = [
    "ArchSpecError",
    "Network",
    "ShapeError",
    "SpecErrors",
    "SpecSyntaxError",
    "SpecWarning",
    "bundled_specs",
    "load",
    "loads",
]
__version__ = "0.1.0"
