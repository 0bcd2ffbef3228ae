"""Foreign checkpoints (torchvision, timm, …) → a built archspec module.

Nothing here is written per network. A checkpoint is a flat `name → tensor`
mapping; its tensors are matched to the module's by *structure*:

1. **Which architecture?** A spec says which library models it is exact for
   (`weights: torchvision.resnet50`). The checkpoint is identified before any
   tensor is copied: by `from_` (the library model the user names), by its keys
   when it is archspec's own (the keys of exactly one bundled spec), or by its
   tensor sequence (the shapes, in order) against every spec of the catalogue
   the caller hands in (the API hands in the bundled zoo) with the same
   parameter count. A spec that does not declare the architecture the
   checkpoint has is refused, with the spec to use instead: a torchvision
   ResNet-50 (v1.5, stride on the 3×3) has exactly the shapes of the paper's
   v1 `resnet50`, which declares no library weights, so it is sent to
   `tv_resnet50`.
2. **Which tensor goes where?** Both sides in registration order (the order
   `state_dict()` gives and `torch.save` keeps), BN counters set aside; the
   two sequences of (tensor role, shape) are aligned, and every pair must agree
   in role (`weight`, `bias`, `running_mean`, …) and shape (a linear layer's
   [o, i] and a 1×1 conv's [o, i, 1, 1] are the same tensor). Whatever does not
   line up is reported: missing, surplus, shape mismatch.
3. **The only table:** `IGNORED`, the training-only heads a library saves that
   a spec leaves out (structure cannot say a surplus tensor is harmless).

`.safetensors` files keep no tensor order: archspec's own carry it in their
metadata; a foreign one takes its library's registration order, read from the
library (torchvision / timm) when it imports, and is refused otherwise.
"""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archspec.errors import ToolError
from archspec.ir import Model

from ..torch.builder import build_module

COUNTER = "num_batches_tracked"
BUFFERS = ("running_mean", "running_var", COUNTER)
WRAPPERS = ("state_dict", "model", "module", "net")
PREFIXES = ("module.", "_orig_mod.")
ORDER_KEY = "archspec_order"  # safetensors metadata: the tensors' registration order
SPEC_KEY = "archspec_spec"  # metadata / .pt wrapper: the spec the tensors belong to

# Heads a library keeps in its checkpoints for training only; a spec without
# them takes the checkpoint without them (listed as ignored in the report).
IGNORED: dict[str, tuple[str, ...]] = {
    "torchvision.googlenet": ("aux1.", "aux2."),
    "torchvision.inception_v3": ("AuxLogits.",),
}


class WeightsError(ToolError):
    """A checkpoint that cannot be loaded: one line (the report, when there is
    one, is `.report`)."""

    def __init__(self, message: str, report: MappingReport | None = None) -> None:
        super().__init__(message)
        self.report = report


# ------------------------------------------------------------------ reading


@dataclass
class Checkpoint:
    """A flat state_dict with what the file says about itself."""

    tensors: dict[str, torch.Tensor]
    origin: str
    ordered: bool = True  # False: a foreign .safetensors file, order unknown
    spec: str | None = None  # the archspec spec that wrote it, if it says


def read_checkpoint(source: str | Path | Mapping[str, Any]) -> Checkpoint:
    """A checkpoint from a `.pth`/`.pt`/`.bin` file (read with
    `weights_only=True`: a checkpoint is untrusted), a `.safetensors` file, or
    a state_dict; wrappers (`{"state_dict": …}`, `{"model": …}`) and
    `module.` prefixes (DataParallel, torch.compile) are removed."""
    if isinstance(source, Mapping):
        return _flatten(source, "<state_dict>", ordered=True)
    path = Path(source)
    if not path.is_file():
        raise WeightsError(f"no such checkpoint file: {path}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "weights_only" in str(exc):
            raise WeightsError(
                f"{path}: refused: it pickles Python objects, not only tensors (read with "
                "weights_only=True, as an untrusted file)"
            ) from None
        raise WeightsError(f"{path}: not a PyTorch checkpoint or .safetensors file") from None
    if not isinstance(data, Mapping):
        raise WeightsError(f"{path}: holds a {type(data).__name__}, not a state_dict")
    return _flatten(data, str(path), ordered=True)


def _read_safetensors(path: Path) -> Checkpoint:
    try:
        from safetensors import safe_open
    except ImportError:  # pragma: no cover - safetensors ships with the dev extras
        raise WeightsError("reading .safetensors needs `pip install safetensors`") from None
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:
        raise WeightsError(f"{path}: not a safetensors file ({type(exc).__name__})") from None
    order = json.loads(meta[ORDER_KEY]) if ORDER_KEY in meta else None
    if order is not None and sorted(order) == sorted(tensors):
        tensors = {key: tensors[key] for key in order}
    checkpoint = _flatten(tensors, str(path), ordered=order is not None)
    checkpoint.spec = meta.get(SPEC_KEY)
    return checkpoint


def _flatten(data: Mapping[str, Any], origin: str, *, ordered: bool) -> Checkpoint:
    spec = data.get(SPEC_KEY) if isinstance(data.get(SPEC_KEY), str) else None
    while not _all_tensors(data):
        inner = next((data[k] for k in WRAPPERS if isinstance(data.get(k), Mapping)), None)
        if inner is None:
            raise WeightsError(f"{origin}: no state_dict in it (not a tensor mapping)")
        data = inner
    tensors = dict(data)
    if not tensors:
        raise WeightsError(f"{origin}: the checkpoint holds no tensors")
    for prefix in PREFIXES:
        if all(key.startswith(prefix) for key in tensors):
            tensors = {key[len(prefix) :]: value for key, value in tensors.items()}
    return Checkpoint(tensors, origin, ordered, spec)


def _all_tensors(data: Mapping[str, Any]) -> bool:
    return bool(data) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    )


# ------------------------------------------------------------------ the specs


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One spec a checkpoint may belong to: its name, the library models it
    declares (`weights:`), its parameter count, and its IR."""

    name: str
    weights: tuple[str, ...]
    params: int
    model: Model


class Catalogue:
    """The specs a checkpoint is identified against, handed in by the caller
    (the API hands in the bundled zoo), so that this module loads no spec of
    its own. Read on first use; each spec's expected tensors built once."""

    def __init__(self, models: Callable[[], Iterable[Model]]) -> None:
        self._models = models
        self._entries: tuple[CatalogueEntry, ...] | None = None
        self._expected: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {}

    @property
    def entries(self) -> tuple[CatalogueEntry, ...]:
        if self._entries is None:
            self._entries = tuple(
                CatalogueEntry(m.name, tuple(m.weights), m.params, m) for m in self._models()
            )
        return self._entries

    def specs_for(self, library_model: str) -> list[str]:
        """The specs that declare `library_model` (`torchvision.resnet50`)."""
        return [entry.name for entry in self.entries if library_model in entry.weights]

    def expected(self, entry: CatalogueEntry) -> tuple[tuple[str, tuple[int, ...]], ...]:
        if entry.name not in self._expected:
            self._expected[entry.name] = expected_tensors(entry.model)
        return self._expected[entry.name]


def expected_tensors(model: Model) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """A spec's state_dict as (key, shape), built on the meta device."""
    with torch.device("meta"):
        module = build_module(model)
    return tuple((key, tuple(value.shape)) for key, value in module.state_dict().items())


# ------------------------------------------------------------------ matching


def role(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def core_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A 1×1 conv's [o, i, 1, 1] is a linear layer's [o, i]."""
    return shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape


def _signature(items: list[tuple[str, tuple[int, ...]]]) -> list[tuple[str, tuple[int, ...]]]:
    return [(role(key), core_shape(shape)) for key, shape in items]


def _real(items: list[tuple[str, tuple[int, ...]]]) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, shape) for key, shape in items if role(key) != COUNTER]


def _params_of(tensors: Mapping[str, torch.Tensor]) -> int:
    return sum(t.numel() for key, t in tensors.items() if role(key) not in BUFFERS)


@dataclass
class MappingReport:
    """What went where: every target tensor mapped, or why not."""

    spec: str
    origin: str
    library: str | None
    order: str
    mapped: list[tuple[str, str]] = field(default_factory=list)  # (source, target)
    missing: list[str] = field(default_factory=list)  # target keys with no source
    surplus: list[str] = field(default_factory=list)  # source keys with no target
    mismatched: list[tuple[str, tuple[int, ...], str, tuple[int, ...]]] = field(
        default_factory=list
    )
    ignored: list[str] = field(default_factory=list)
    reshaped: int = 0  # linear ↔ 1×1 conv
    counters_zeroed: int = 0  # BN counters the checkpoint lacks (old torchvision files)
    total: int = 0  # target tensors, BN counters aside

    @property
    def ok(self) -> bool:
        return not (self.missing or self.surplus or self.mismatched)

    def format(self) -> str:
        what = f" ({self.library})" if self.library else ""
        lines = [
            f"{self.origin} → {self.spec}{what}: tensors mapped {len(self.mapped)}/{self.total}"
            f" [order: {self.order}]"
        ]
        for key in self.missing:
            lines.append(f"  missing: {key} (nothing in the checkpoint for it)")
        for key in self.surplus:
            lines.append(f"  surplus: {key} (nothing in {self.spec} takes it)")
        for src, src_shape, dst, dst_shape in self.mismatched:
            lines.append(f"  shape mismatch: {src} {list(src_shape)} → {dst} {list(dst_shape)}")
        if self.ignored:
            heads = ", ".join(sorted({key.split(".")[0] for key in self.ignored}))
            lines.append(f"  ignored: {len(self.ignored)} training-only tensors ({heads})")
        if self.reshaped:
            lines.append(f"  reshaped: {self.reshaped} linear ↔ 1×1 conv weights")
        if self.counters_zeroed:
            lines.append(f"  BN counters absent, set to 0: {self.counters_zeroed}")
        return "\n".join(lines)


def align(
    source: list[tuple[str, tuple[int, ...]]],
    target: list[tuple[str, tuple[int, ...]]],
    report: MappingReport,
) -> None:
    """Align two registration-ordered tensor lists (BN counters aside) by role
    and shape, filling the report's mapped / missing / surplus / mismatched."""
    matcher = difflib.SequenceMatcher(None, _signature(source), _signature(target), False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs = zip(source[i1:i2], target[j1:j2], strict=True)
            report.mapped += [(src, dst) for (src, _), (dst, _) in pairs]
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            (src, src_shape), (dst, dst_shape) = source[i1 + k], target[j1 + k]
            if role(src) == role(dst):
                report.mismatched.append((src, src_shape, dst, dst_shape))
            else:
                report.surplus.append(src)
                report.missing.append(dst)
        report.surplus += [key for key, _ in source[i1 + pairs : i2]]
        report.missing += [key for key, _ in target[j1 + pairs : j2]]


def _drop_ignored(
    source: list[tuple[str, tuple[int, ...]]], libraries: tuple[str, ...], wanted: int
) -> tuple[list[tuple[str, tuple[int, ...]]], list[str]]:
    """Leave out the training-only heads of IGNORED, when that leaves exactly
    as many tensors as the spec wants."""
    prefixes = tuple(p for lib in libraries for p in IGNORED.get(lib, ()))
    if not prefixes:
        return source, []
    kept = [(k, s) for k, s in source if not k.startswith(prefixes)]
    if len(_real(kept)) != wanted:
        return source, []
    return kept, [k for k, _ in source if k.startswith(prefixes)]


# ------------------------------------------------------------------ identifying


def check_architecture(
    net: Model, checkpoint: Checkpoint, from_: str | None, catalogue: Catalogue
) -> str | None:
    """Refuse a checkpoint whose architecture `net` does not declare. Returns
    the library model it loads as (None for archspec's own checkpoints)."""
    declared = tuple(net.weights)
    if from_ is not None:
        if from_ not in declared:
            raise WeightsError(_not_compatible(net, from_, catalogue.specs_for(from_)))
        return from_
    if checkpoint.spec is not None and checkpoint.spec != net.name:
        raise WeightsError(
            f"{checkpoint.origin} was written for archspec spec `{checkpoint.spec}`, "
            f"not `{net.name}`: load it with `{checkpoint.spec}`"
        )
    keys = list(checkpoint.tensors)
    own = [key for key, _ in expected_tensors(net)]
    if _same_keys(keys, own):
        return None
    candidates = [
        entry
        for entry in catalogue.entries
        if entry.params == _params_of(checkpoint.tensors) and entry.name != net.name
    ]
    for entry in candidates:
        if _same_keys(keys, [key for key, _ in catalogue.expected(entry)]):
            raise WeightsError(
                f"{checkpoint.origin} is a checkpoint of archspec spec `{entry.name}`, a "
                f"different architecture from `{net.name}`: load it with `{entry.name}`"
            )
    shapes = _shape_sequence(checkpoint)
    fits = [
        (entry.name, entry.weights)
        for entry in candidates
        if entry.weights and _fits(shapes, _real(list(catalogue.expected(entry))), entry.weights)
    ]
    if not declared:
        hint = _suggest(fits)
        raise WeightsError(
            f"`{net.name}` declares no library weights (`weights:` in its spec), so it takes "
            f"only archspec's own checkpoints{hint}"
        )
    if fits and not _fits(shapes, _real(list(expected_tensors(net))), declared):
        raise WeightsError(
            f"{checkpoint.origin} does not fit `{net.name}` ({', '.join(declared)}){_suggest(fits)}"
        )
    return declared[0]


def _same_keys(keys: list[str], own: list[str]) -> bool:
    real = [k for k in keys if role(k) != COUNTER]
    return set(real) == {k for k in own if role(k) != COUNTER} and set(keys) <= set(own)


def _shape_sequence(checkpoint: Checkpoint) -> list[tuple[str, tuple[int, ...]]] | None:
    if not checkpoint.ordered:
        return None
    return _real([(k, tuple(v.shape)) for k, v in checkpoint.tensors.items()])


def _fits(
    shapes: list[tuple[str, tuple[int, ...]]] | None,
    wanted: list[tuple[str, tuple[int, ...]]],
    libraries: tuple[str, ...],
) -> bool:
    if shapes is None:
        return False
    shapes, _ = _drop_ignored(shapes, libraries, len(wanted))
    return _signature(shapes) == _signature(wanted)


def _suggest(fits: list[tuple[str, tuple[str, ...]]]) -> str:
    if not fits:
        return ""
    names = ", ".join(f"`{name}` ({', '.join(libs)})" for name, libs in fits)
    return f"; its tensors are those of {names}: use that spec"


def _not_compatible(net: Model, library_model: str, specs: list[str]) -> str:
    has = f"declares {', '.join(net.weights)}" if net.weights else "declares no library weights"
    use = f": use {', '.join(f'`{s}`' for s in specs)}" if specs else " (no bundled spec does)"
    return f"`{net.name}` is not weight-compatible with {library_model} (it {has}){use}"


# ------------------------------------------------------------------ loading


def library_order(library_model: str) -> list[str] | None:
    """The registration order of a library model's state_dict, built on the
    meta device, or None when the library does not import."""
    library, _, name = library_model.partition(".")
    try:
        with torch.device("meta"):
            if library == "torchvision":
                models = importlib.import_module("torchvision.models")
                model = models.get_model(name, weights=None)
            elif library == "timm":
                model = importlib.import_module("timm").create_model(name, pretrained=False)
            else:
                return None
    except Exception:
        return None
    return list(model.state_dict())


def _ordered(checkpoint: Checkpoint, library: str | None) -> tuple[Checkpoint, str]:
    if checkpoint.ordered:
        return checkpoint, "registration order of the file"
    order = library_order(library) if library else None
    tensors = checkpoint.tensors
    if order is None:
        raise WeightsError(
            f"{checkpoint.origin}: a .safetensors file keeps no tensor order and "
            f"{library or 'its library'} does not import here to give it; save it with "
            "torch.save (.pth) or install the library"
        )
    rank = {key: i for i, key in enumerate(order)}
    if any(key not in rank for key in tensors):
        raise WeightsError(f"{checkpoint.origin}: keys unknown to {library}'s model")
    sorted_tensors = dict(sorted(tensors.items(), key=lambda item: rank[item[0]]))
    return Checkpoint(sorted_tensors, checkpoint.origin, True, checkpoint.spec), (
        f"{library}'s registration order"
    )


def map_checkpoint(
    net: Model,
    target: Mapping[str, torch.Tensor],
    checkpoint: Checkpoint,
    catalogue: Catalogue,
    from_: str | None = None,
) -> tuple[dict[str, torch.Tensor], MappingReport]:
    """The checkpoint's tensors under `target`'s keys (a module's state_dict),
    and the report of the mapping. Raises WeightsError for the wrong
    architecture; mismatches are in the report."""
    library = check_architecture(net, checkpoint, from_, catalogue)
    target_items = [(key, tuple(value.shape)) for key, value in target.items()]
    if library is None:  # archspec's own: same keys, order irrelevant
        checkpoint = Checkpoint(
            {k: checkpoint.tensors[k] for k in target if k in checkpoint.tensors}
            | {k: v for k, v in checkpoint.tensors.items() if k not in target},
            checkpoint.origin,
        )
        order = "archspec keys"
    else:
        checkpoint, order = _ordered(checkpoint, library)
    report = MappingReport(net.name, checkpoint.origin, library, order)
    wanted = _real(target_items)
    report.total = len(wanted)
    source = [(k, tuple(v.shape)) for k, v in checkpoint.tensors.items()]
    source, report.ignored = _drop_ignored(source, tuple(net.weights), len(wanted))
    align(_real(source), wanted, report)
    return _gather(checkpoint, target, report), report


def _gather(
    checkpoint: Checkpoint, target: Mapping[str, torch.Tensor], report: MappingReport
) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for src, dst in report.mapped:
        tensor = checkpoint.tensors[src]
        if tensor.shape != target[dst].shape:
            tensor = tensor.reshape(target[dst].shape)
            report.reshaped += 1
        out[dst] = tensor
        if role(dst) == "running_mean":
            _counter(checkpoint, target, src, dst, out, report)
    return out


def _counter(
    checkpoint: Checkpoint,
    target: Mapping[str, torch.Tensor],
    src: str,
    dst: str,
    out: dict[str, torch.Tensor],
    report: MappingReport,
) -> None:
    dst_counter = dst[: -len("running_mean")] + COUNTER
    if dst_counter not in target:
        return
    src_counter = src[: -len("running_mean")] + COUNTER
    if src_counter in checkpoint.tensors:
        out[dst_counter] = checkpoint.tensors[src_counter]
    else:
        out[dst_counter] = torch.zeros((), dtype=torch.long)
        report.counters_zeroed += 1


def load_weights(
    net: Model,
    module: nn.Module,
    source: str | Path | Mapping[str, Any],
    catalogue: Catalogue,
    *,
    strict: bool = True,
    from_: str | None = None,
) -> MappingReport:
    """Copy a checkpoint into `module` (built from `net`). With `strict` (the
    default) any missing, surplus or mismatched tensor refuses the whole load
    and nothing is copied; without it, what mapped is copied and the rest is
    in the report."""
    checkpoint = read_checkpoint(source)
    target = module.state_dict()
    mapped, report = map_checkpoint(net, target, checkpoint, catalogue, from_)
    if strict and not report.ok:
        raise WeightsError(_refusal(report), report)
    with torch.no_grad():
        for key, tensor in mapped.items():
            target[key].copy_(tensor)
    return report


def _refusal(report: MappingReport) -> str:
    parts = []
    if report.missing:
        parts.append(f"{len(report.missing)} missing (first: {report.missing[0]})")
    if report.surplus:
        parts.append(f"{len(report.surplus)} surplus (first: {report.surplus[0]})")
    if report.mismatched:
        src, src_shape, dst, dst_shape = report.mismatched[0]
        first = f"{src} {list(src_shape)} → {dst} {list(dst_shape)}"
        parts.append(f"{len(report.mismatched)} shape mismatches (first: {first})")
    return (
        f"{report.origin} does not fit `{report.spec}`: mapped {len(report.mapped)}/"
        f"{report.total}; {'; '.join(parts)}"
    )


def build_with_weights(
    net: Model,
    source: str | Path | Mapping[str, Any],
    catalogue: Catalogue,
    *,
    strict: bool = True,
    from_: str | None = None,
    device: Any = None,
    dtype: Any = None,
) -> tuple[nn.Module, MappingReport]:
    """`net` built with a checkpoint loaded into it, and the mapping report;
    `catalogue` holds the specs the checkpoint is identified against."""
    module = build_module(net)
    report = load_weights(net, module, source, catalogue, strict=strict, from_=from_)
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module, report
