"""archspec — write a CNN the way its paper prints it; check, draw and compile it.

    >>> import archspec
    >>> net = archspec.load("vgg_e")          # a bundled spec, or a path
    >>> net.params, net.macs, net.output
    >>> model = net.build()                   # torch.nn.Module (imports torch)

This package is torch-free: `summary`, `check` and `draw` never import torch.
"""

import os as _os

# The torch backend is the repository's top-level `compiler/` folder. Installed,
# it is `archspec/compiler` (a package-dir mapping in pyproject.toml), so no
# top-level package named `compiler` lands in site-packages. In a checkout it
# sits beside this package; appending the checkout to `__path__` lets
# `archspec.compiler` find it there, whichever checkout is imported.
_here = _os.path.dirname(_os.path.abspath(__file__))
_checkout = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "compiler")) and _os.path.isfile(
    _os.path.join(_checkout, "compiler", "__init__.py")
):
    __path__.append(_checkout)
del _here, _checkout

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
    "from_module",
    "load",
    "loads",
]
__version__ = "0.1.0"


def from_module(module, input_shape, name=None) -> str:  # type: ignore[no-untyped-def]
    """The spec text of a torch module for a C×H×W input (`archspec import`'s
    torch path; lives in the compiler package because it needs torch)."""
    from .compiler.importer import from_module as _from_module

    return _from_module(module, input_shape, name)
