"""Export a built network: ONNX, `torch.export` (.pt2) and safetensors.

    from archspec.compiler.io.export import export
    export(archspec.load("tv_resnet50"), "onnx", "r50.onnx", weights="resnet50.pth")

Every format is produced in memory and written atomically, so a failure
never leaves a file (or half of one) behind. The example input is one
sample of the spec's input shape; graphs are traced in eval mode.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archspec.errors import ToolError
from archspec.files import write_atomically
from archspec.ir import Model

from ..torch.builder import build_module
from .weights import ORDER_KEY, SPEC_KEY, Catalogue, MappingReport, build_with_weights

FORMATS = ("onnx", "pt2", "safetensors", "pt")
SUFFIXES = {".onnx": "onnx", ".pt2": "pt2", ".safetensors": "safetensors", ".pt": "pt",
            ".pth": "pt"}  # fmt: skip


class ExportError(ToolError):
    """An export that cannot be done (missing package, untraceable module): one line."""


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The format asked for, or the one the file's suffix names."""
    chosen = fmt or SUFFIXES.get(Path(path).suffix.lower())
    if chosen not in FORMATS:
        raise ExportError(
            f"cannot tell the format of {path}: pass --format onnx|pt2|safetensors "
            "(or name the file .onnx, .pt2, .safetensors, .pt)"
        )
    return chosen


def example_input(net: Model) -> torch.Tensor:
    return torch.randn(1, *net.input.as_list())


def state_bytes(net: Model, module: nn.Module, fmt: str) -> bytes:
    """The module's state_dict as a `.safetensors` file (with the spec's name
    and the tensors' order in its metadata) or a `.pt` file (a
    `{"state_dict", "archspec_spec"}` wrapper, which `torch.load` and the
    loader both read)."""
    state = {key: value.detach().contiguous() for key, value in module.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save

        meta = {SPEC_KEY: net.name, ORDER_KEY: json.dumps(list(state))}
        return save(state, metadata=meta)
    buffer = io.BytesIO()
    torch.save({"state_dict": state, SPEC_KEY: net.name}, buffer)
    return buffer.getvalue()


def pt2_bytes(module: nn.Module, x: torch.Tensor) -> bytes:
    """`torch.export.export` of the module, saved as a .pt2 archive."""
    try:
        program = torch.export.export(module.eval(), (x,))
    except Exception as exc:
        raise ExportError(f"torch.export failed: {_first_line(exc)}") from None
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def onnx_bytes(module: nn.Module, x: torch.Tensor) -> bytes:
    """`torch.onnx.export` (the dynamo exporter) of the module, as an .onnx file."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError("ONNX export needs `pip install onnx onnxscript`") from None
    try:
        program = torch.onnx.export(module.eval(), (x,), dynamo=True, verbose=False)
    except Exception as exc:
        raise ExportError(f"ONNX export failed: {_first_line(exc)}") from None
    return program.model_proto.SerializeToString()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:160]}" if text else type(exc).__name__


def export(
    net: Model,
    fmt: str | None,
    output: str | Path,
    catalogue: Catalogue,
    *,
    weights: str | Path | Mapping[str, Any] | None = None,
    from_: str | None = None,
    strict: bool = True,
) -> MappingReport | None:
    """Build `net` (with `weights` mapped onto it, when given; `catalogue`
    holds the specs a checkpoint is identified against) and write it to
    `output` as `fmt` (or the format of its suffix). Returns the weights'
    mapping report. Raises ExportError / WeightsError; writes nothing then."""
    fmt = format_for(output, fmt)
    report = None
    if weights is None:
        module = build_module(net)
    else:
        module, report = build_with_weights(net, weights, catalogue, from_=from_, strict=strict)
    module.eval()
    if fmt in ("safetensors", "pt"):
        data = state_bytes(net, module, fmt)
    elif fmt == "pt2":
        data = pt2_bytes(module, example_input(net))
    else:
        data = onnx_bytes(module, example_input(net))
    try:
        write_atomically(Path(output), data)
    except OSError as exc:
        raise ExportError(f"cannot write {output}: {exc.strerror}") from None
    return report
