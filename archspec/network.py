"""The public API: `load`, `loads` and the `Network` they return."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .elaborate import elaborate
from .errors import Diagnostics, Span, SpecErrors, SpecNameError, SpecWarning
from .ir import Block, Layer, Node, Shape, walk
from .parser import read_spec

if TYPE_CHECKING:
    import torch

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a summary: a block or a layer."""

    path: tuple[str, ...]
    depth: int
    op: str
    kind: str
    outputs: tuple[Shape, ...]
    params: int
    macs: int
    receptive_field: int
    line: int
    is_block: bool

    @property
    def name(self) -> str:
        return ".".join(self.path) if self.path else "(network)"

    def as_dict(self) -> dict[str, Any]:
        out = [s.as_list() for s in self.outputs]
        return {
            "name": self.name,
            "op": self.op,
            "kind": self.kind,
            "depth": self.depth,
            "output": out[0] if len(out) == 1 else out,
            "params": self.params,
            "macs": self.macs,
            "receptive_field": self.receptive_field,
            "line": self.line,
        }


class Network:
    """A parsed, expanded and checked network with its inferred shapes and costs."""

    def __init__(
        self,
        root: Block,
        *,
        name: str,
        title: str,
        input_shape: Shape,
        warnings: list[SpecWarning],
        path: str,
        variant: str | None,
        weights: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.name = name
        self.title = title
        self.input = input_shape
        self.warnings = warnings
        self.path = path
        self.variant = variant
        self.weights = weights  # library models whose checkpoints fit (`weights:`)

    # --- totals
    @property
    def outputs(self) -> tuple[Shape, ...]:
        return self.root.outputs

    @property
    def output(self) -> Shape:
        return self.root.outputs[0]

    @property
    def params(self) -> int:
        return self.root.cost.params

    @property
    def macs(self) -> int:
        return self.root.cost.macs

    @property
    def flops(self) -> int:
        return 2 * self.root.cost.macs

    @property
    def other_ops(self) -> int:
        return self.root.cost.other_ops

    @property
    def activation_elements(self) -> int:
        """Activation elements written by all layers at batch 1 (fp32: ×4 bytes)."""
        return sum(layer.cost.memory for layer in self.layers())

    @property
    def receptive_field(self) -> int:
        return self.root.field.size

    def layers(self) -> list[Layer]:
        return [node for node, _d, _p in walk(self.root) if isinstance(node, Layer)]

    def find(self, dotted: str) -> Node:
        node: Node = self.root
        for part in dotted.split("."):
            if not isinstance(node, Block):
                raise KeyError(dotted)
            node = node.child(part)
        return node

    @cached_property
    def _rows(self) -> list[Row]:
        rows = []
        for node, depth, path in walk(self.root):
            kind = node.op if isinstance(node, Layer) else node.block or node.kind
            rows.append(
                Row(
                    path[1:],
                    depth,
                    node.notation or node.name,
                    kind,
                    node.outputs,
                    node.cost.params,
                    node.cost.macs,
                    node.field.size,
                    node.span.line,
                    isinstance(node, Block),
                )
            )
        return rows

    def rows(self, depth: int | None = None) -> list[Row]:
        """Summary rows, parents first; `depth` hides rows nested deeper than it
        (a block at the cut-off carries its children's totals)."""
        rows = self._rows[1:]
        return [r for r in rows if depth is None or r.depth <= depth]

    # --- reports
    def summary(self, depth: int | None = None) -> str:
        from .report import summary_table

        return summary_table(self, depth)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        outputs = [s.as_list() for s in self.outputs]
        return {
            "name": self.name,
            "title": self.title,
            "variant": self.variant,
            "input": self.input.as_list(),
            "output": outputs[0] if len(outputs) == 1 else outputs,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "other_ops": self.other_ops,
            "activation_elements": self.activation_elements,
            "receptive_field": self.receptive_field,
            "mac_convention": MAC_CONVENTION,
            "layers": [row.as_dict() for row in self.rows(depth)],
            "warnings": [str(w) for w in self.warnings],
        }

    # --- backends (torch is imported only here, and only when asked)
    def build(
        self, device: Any = None, dtype: Any = None, weights: Any = None, strict: bool = True
    ) -> torch.nn.Module:
        """A `torch.nn.Module` for this network, with torchvision-style init, or
        with `weights` (a checkpoint path or state_dict, torchvision/timm naming
        or archspec's) mapped onto it: see `archspec.compiler.weights`."""
        from archspec.compiler.builder import build_module

        if weights is None:
            return build_module(self, device=device, dtype=dtype)
        from archspec.compiler.weights import build_with_weights

        module, _report = build_with_weights(
            self, weights, strict=strict, device=device, dtype=dtype
        )
        return module

    def source(self) -> str:
        """Standalone PyTorch source for this network (depends only on torch)."""
        from archspec.compiler.codegen import generate_source

        return generate_source(self)

    def draw(self, depth: int | None = None, rankdir: str = "TB") -> Any:
        """A `graphviz.Digraph` of this network."""
        from .diagram import diagram

        return diagram(self, depth=depth, rankdir=rankdir)

    def _repr_svg_(self) -> str | None:
        try:
            return self.draw().pipe(format="svg").decode("utf-8")
        except Exception:  # no `dot` on the PATH: Jupyter falls back to the repr
            return None

    def __repr__(self) -> str:
        outs = ", ".join(str(s) for s in self.outputs)
        return (
            f"<Network {self.name}: {self.input} → {outs}, {self.params:,} params, "
            f"{self.macs / 1e9:.2f} GMACs>"
        )


MAC_CONVENTION = (
    "1 MAC = one multiply-accumulate at batch 1; conv = Hout·Wout·Cout·(Cin/groups)·kh·kw, "
    "linear = in·out; FLOPs = 2 × MACs; pooling, norm, activation and join work is counted "
    "separately as other ops"
)


def loads(
    text: str,
    filename: str = "<string>",
    variant: str | None = None,
    base_dir: str | Path | None = None,
) -> Network:
    """Parse, expand and check a spec given as text. Raises `SpecErrors`
    listing every error found."""
    diag = Diagnostics()
    spec = read_spec(text, filename, diag, Path(base_dir) if base_dir else None)
    root = elaborate(spec, variant, diag)
    diag.raise_if_any()
    if root is None:  # pragma: no cover - an error is always recorded first
        raise SpecErrors([SpecNameError("the spec produced no network", Span(filename, 1, 1))])
    chosen = variant or _chosen_variant(spec)
    name = chosen if chosen and spec.variants else spec.name
    return Network(
        root,
        name=name,
        title=spec.title,
        input_shape=Shape(*spec.input),
        warnings=diag.warnings,
        path=filename,
        variant=chosen,
        weights=spec.weights,
    )


def _chosen_variant(spec) -> str | None:
    constants = dict(spec.constants)
    if "variant" in constants:
        return constants["variant"].value
    return spec.variants[0][0] if spec.variants else None


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A path as given, or the name of a bundled spec (`vgg_e`, `resnet50.yaml`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    if path.parent == Path(".") and stem:
        for folder in _spec_dirs():
            candidate = folder / f"{stem}.yaml"
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(name_or_path)


def _spec_dirs() -> list[Path]:
    """The zoo: `specs/` beside the package in a checkout (and an editable
    install), `archspec/specs/` inside an installed wheel."""
    here = Path(__file__).resolve().parent
    return [d for d in (SPECS_DIR, here / "specs") if d.is_dir()]


def bundled_specs() -> list[Path]:
    """Every network in the zoo (family base files start with `_`)."""
    seen: dict[str, Path] = {}
    for folder in _spec_dirs():
        for path in sorted(folder.glob("*.yaml")):
            if not path.name.startswith("_"):
                seen.setdefault(path.name, path)
    return list(seen.values())


def load(path: str | Path, variant: str | None = None) -> Network:
    """Load a spec file (or a bundled spec by name) into a checked `Network`."""
    resolved = resolve_spec_path(path)
    text = resolved.read_text(encoding="utf-8")
    return loads(
        text, str(path) if Path(path).is_file() else str(resolved), variant, resolved.parent
    )
