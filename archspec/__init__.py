"""archspec — write a CNN the way its paper prints it; check, draw and compile it.

    >>> import archspec
    >>> net = archspec.load("vgg_e")          # a bundled spec, or a path
    >>> net.params, net.macs, net.output
    >>> model = net.build()                   # torch.nn.Module (imports torch)

This package is torch-free: `summary`, `check` and `draw` never import torch.
The API names below are imported on first use, so that importing one stage
(`archspec.ir`, `archspec.parser`, …) pulls in only what that stage needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ArchSpecError, ShapeError, SpecErrors, SpecSyntaxError, SpecWarning

# The torch backend is the repository's top-level `compiler/` folder;
# `archspec/compiler` is a link to it, so `archspec.compiler` is an ordinary
# subpackage that static tools (mypy, editors) resolve like any other.

# name → the module that defines it; `from_module` (a torch module → spec
# text) lives in the torch backend.
_API = {
    "Network": "network",
    "bundled_specs": "network",
    "load": "network",
    "loads": "network",
    "from_module": "compiler.io.module_import",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")


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
