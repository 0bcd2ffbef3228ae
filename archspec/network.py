"""The public API: `load`, `loads` and the `Network` they return.

`Network` is a thin facade: it parses, elaborates and verifies a spec into an
`ir.Model`, and hands that model to the views and backends when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .blocks import SYNTAX
from .compiler.names import RESERVED
from .elaborate import chosen_variant, elaborate, network_name
from .errors import Diagnostics, Span, SpecErrors, SpecNameError, SpecWarning, ToolError
from .ir import Block, Layer, Model, Node, Shape, verify, walk
from .parser import read_spec
from .report import MAC_CONVENTION, Row, as_dict, rows, summary_table

if TYPE_CHECKING:
    import torch

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"

__all__ = ["MAC_CONVENTION", "Network", "Row", "bundled_specs", "load", "loads"]


class Network:
    """A parsed, expanded and checked network with its inferred shapes and costs."""

    def __init__(self, model: Model, warnings: list[SpecWarning]) -> None:
        self.model = model
        self.warnings = warnings

    # --- what the spec says
    @property
    def root(self) -> Block:
        return self.model.root

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def input(self) -> Shape:
        return self.model.input

    @property
    def path(self) -> str:
        return self.model.source

    @property
    def variant(self) -> str | None:
        return self.model.variant

    # --- totals
    @property
    def outputs(self) -> tuple[Shape, ...]:
        return self.model.outputs

    @property
    def output(self) -> Shape:
        return self.model.outputs[0]

    @property
    def params(self) -> int:
        return self.model.params

    @property
    def macs(self) -> int:
        return self.model.macs

    @property
    def flops(self) -> int:
        return self.model.flops

    @property
    def other_ops(self) -> int:
        return self.model.other_ops

    @property
    def activation_elements(self) -> int:
        """Activation elements written by all layers at batch 1 (fp32: ×4 bytes)."""
        return self.model.activation_elements

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    def layers(self) -> list[Layer]:
        return [node for node, _d, _p in walk(self.root) if isinstance(node, Layer)]

    def find(self, dotted: str) -> Node:
        node: Node = self.root
        for part in dotted.split("."):
            if not isinstance(node, Block):
                raise KeyError(dotted)
            node = node.child(part)
        return node

    # --- reports
    def rows(self, depth: int | None = None) -> list[Row]:
        """Summary rows, parents first; `depth` hides rows nested deeper than it
        (a block at the cut-off carries its children's totals)."""
        return rows(self.model, depth)

    def summary(self, depth: int | None = None) -> str:
        return summary_table(self.model, depth)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        return as_dict(self.model, self.warnings, depth)

    # --- views and backends (torch is imported only here, and only when asked)
    def build(self, device: Any = None, dtype: Any = None) -> torch.nn.Module:
        """A `torch.nn.Module` for this network, with torchvision-style init."""
        from .compiler.builder import build_module

        return build_module(self.model, device=device, dtype=dtype)

    def source(self, unrolled: bool = False, family: bool = False) -> str:
        """Standalone PyTorch source for this network (depends only on torch):
        a class per spec block, or with `unrolled` every module spelled out
        with its spec line; with `family`, one module for every variant of the
        spec file, with a factory function per variant."""
        from .compiler.codegen import generate_family, generate_source

        if family:
            return generate_family([self._variant(name).model for name in self.family()])
        return generate_source(self.model, unrolled=unrolled)

    def family(self) -> list[str]:
        """The variants of this network's spec file (`resnet18`, …); a
        `ToolError` for a file without `variants:`."""
        spec = self.model.spec
        if spec is None or not spec.variants:
            raise ToolError(f"{self.path} has no `variants:`; --family needs a family file")
        return [name for name, _overrides in spec.variants]

    def _variant(self, name: str) -> Network:
        if name == self.variant and self.model.spec is not None:
            return self
        path = Path(self.path)
        if path.is_file():
            return loads(path.read_text(encoding="utf-8"), self.path, name, path.parent)
        raise ToolError(f"cannot reread {self.path} for variant `{name}`")

    def draw(self, depth: int | None = None, rankdir: str = "TB") -> Any:
        """A `graphviz.Digraph` of this network."""
        from .diagram import diagram

        return diagram(self.model, depth=depth, rankdir=rankdir)

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


def loads(
    text: str,
    filename: str = "<string>",
    variant: str | None = None,
    base_dir: str | Path | None = None,
) -> Network:
    """Parse, expand and check a spec given as text. Raises `SpecErrors`
    listing every error found."""
    diag = Diagnostics()
    spec = read_spec(text, filename, diag, Path(base_dir) if base_dir else None, combinators=SYNTAX)
    root = elaborate(spec, variant, diag, reserved=RESERVED)
    diag.raise_if_any()
    if root is None:  # pragma: no cover - an error is always recorded first
        raise SpecErrors([SpecNameError("the spec produced no network", Span(filename, 1, 1))])
    verify(root)
    model = Model(
        root,
        name=network_name(spec, variant),
        title=spec.title,
        input=Shape(*spec.input),
        source=filename,
        variant=chosen_variant(spec, variant),
        spec=spec,
    )
    return Network(model, diag.warnings)


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
