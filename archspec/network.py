"""The public API: `load`, `loads` and the `Network` they return.

`Network` is a thin facade: it parses, elaborates and verifies a spec into an
`ir.Model`, and hands that model to the views and backends when asked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ast
from .blocks import SYNTAX
from .compiler.names import RESERVED
from .elaborate import chosen_variant, elaborate, network_name
from .errors import (
    ArchSpecError,
    Diagnostics,
    Span,
    SpecErrors,
    SpecNameError,
    SpecWarning,
    ToolError,
    did_you_mean,
)
from .expressions import parse_expression
from .ir import Block, Layer, Model, Node, Shape, verify, walk
from .limits import MAX_CHANNELS, MAX_SPATIAL
from .notebook import Summary, card_html
from .ops import JOIN_OPS
from .parser import read_spec
from .report import MAC_CONVENTION, Row, as_dict, rows
from .yamlspan import decode_spec

if TYPE_CHECKING:
    import torch

    from .compiler.io.weights import Catalogue, MappingReport

# The joins a graph entry may name, handed to the parser (which sits below the ops).
JOINS = tuple(sorted(JOIN_OPS))

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"

__all__ = [
    "MAC_CONVENTION",
    "Network",
    "Row",
    "Summary",
    "bundled_specs",
    "close_names",
    "find_spec",
    "load",
    "loads",
]


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

    @property
    def weights(self) -> tuple[str, ...]:
        """Library models whose checkpoints fit this spec (its `weights:`)."""
        return self.model.weights

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

    def summary(
        self, depth: int | None = None, shape_order: str = "chw", batch: int = 1
    ) -> Summary:
        """The summary table: a `str` (what `archspec summary` prints) that a
        notebook renders as an HTML table with collapsible blocks."""
        return Summary(self.model, depth, shape_order, batch)

    def to_dict(self, depth: int | None = None, batch: int = 1) -> dict[str, Any]:
        return as_dict(self.model, self.warnings, depth, batch)

    # --- views and backends (torch is imported only here, and only when asked)
    def build(
        self,
        device: Any = None,
        dtype: Any = None,
        weights: Any = None,
        strict: bool = True,
        *,
        inference: bool = False,
        compile: bool = False,
    ) -> torch.nn.Module:
        """A `torch.nn.Module` for this network, with torchvision-style init, or
        with `weights` (a checkpoint path or state_dict, torchvision/timm naming
        or archspec's) mapped onto it (see `archspec.compiler.io.weights`).
        `inference=True`: eval-only, BN folded, channels_last (see
        `archspec.compiler.torch.inference.fold`); `compile=True` adds `torch.compile`."""
        if weights is not None:
            module, _report = self.map_weights(weights, strict=strict)
        else:
            from .compiler.torch.builder import build_module

            module = build_module(self.model)
        if inference:
            from .compiler.torch.inference import fold

            module = fold(module)
        if device is not None or dtype is not None:
            module = module.to(device=device, dtype=dtype)
        if compile:
            import torch

            module = torch.compile(module)
        return module

    def map_weights(
        self, checkpoint: Any, *, from_: str | None = None, strict: bool = True
    ) -> tuple[torch.nn.Module, MappingReport]:
        """This network built with `checkpoint` (a path or state_dict) mapped onto
        it, and the mapping report; the checkpoint is identified against the
        bundled specs (see `archspec.compiler.io.weights`)."""
        from .compiler.io.weights import build_with_weights

        return build_with_weights(
            self.model, checkpoint, zoo_catalogue(), from_=from_, strict=strict
        )

    def export(
        self,
        output: str | Path,
        fmt: str | None = None,
        *,
        weights: Any = None,
        from_: str | None = None,
        strict: bool = True,
    ) -> MappingReport | None:
        """Write this network (with `weights` mapped onto it, when given) to
        `output` as ONNX, `.pt2`, safetensors or `.pt` (`fmt`, or the file's
        suffix); returns the weights' mapping report."""
        from .compiler.io.export import export

        return export(
            self.model, fmt, output, zoo_catalogue(), weights=weights, from_=from_, strict=strict
        )

    def source(self, unrolled: bool = False, family: bool = False) -> str:
        """Standalone PyTorch source for this network (depends only on torch):
        a class per spec block, or with `unrolled` every module spelled out
        with its spec line; with `family`, one module for every variant of the
        spec file, with a factory function per variant."""
        from .compiler.source.codegen import generate_family, generate_source

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

    def draw(self, depth: int | None = None, rankdir: str = "TB", shape_order: str = "chw") -> Any:
        """A `graphviz.Digraph` of this network."""
        from .diagram import diagram

        return diagram(self.model, depth=depth, rankdir=rankdir, shape_order=shape_order)

    def html(self) -> str:
        """The interactive diagram page `archspec draw --format html` writes."""
        from .html import page

        return page(self.model)

    def _repr_svg_(self) -> str | None:
        try:
            return self.draw().pipe(format="svg").decode("utf-8")
        except Exception:  # no `dot` on the PATH: Jupyter falls back to the repr
            return None

    def _repr_html_(self) -> str:
        """The notebook card: facts and the diagram inline (facts alone without Graphviz)."""
        return card_html(self.model, self._repr_svg_())

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
    *,
    input: str | Sequence[int] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Network:
    """Parse, expand and check a spec given as text. Raises `SpecErrors`
    listing every error found. `input` ("3x384x384" or (3, 384, 384)) replaces
    the spec's input size; `params` replace file-level parameters, over any
    variant's (`{"k": 48}`; a string is read as a spec expression or word)."""
    diag = Diagnostics()
    folder = Path(base_dir) if base_dir else None
    spec = read_spec(
        text, filename, diag, folder, combinators=SYNTAX, joins=JOINS, bundled=_spec_dirs()
    )
    spec = with_overrides(spec, input, params)
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
        weights=spec.weights,
        spec=spec,
    )
    return Network(model, diag.warnings)


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A path as given; a bare name is `./NAME.yaml` if that exists, else the
    bundled spec of that name (`vgg_e`, `resnet50.yaml`)."""
    return find_spec(name_or_path)[0]


def find_spec(name_or_path: str | Path) -> tuple[Path, Path | None]:
    """The spec file a name or path means, and the bundled spec it shadows
    (a local `./resnet50.yaml` wins over the bundled `resnet50`), if any.
    Raises `FileNotFoundError` naming what was asked for."""
    path = Path(name_or_path)
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    bare = path.parent == Path(".") and bool(stem)
    bundled = _bundled(stem) if bare else None
    if path.is_file():
        return path, bundled if bundled and bundled.resolve() != path.resolve() else None
    local = Path(f"{stem}.yaml")
    if bare and local.is_file():
        return local, bundled
    if bundled is not None:
        return bundled, None
    raise FileNotFoundError(name_or_path)


def _bundled(stem: str) -> Path | None:
    for folder in _spec_dirs():
        candidate = folder / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    return None


def close_names(name: str) -> list[str]:
    """Bundled spec names close to a mistyped one (`resnet5` → resnet50, …)."""
    stem = Path(name).name.removesuffix(".yaml")
    names = [path.stem for path in bundled_specs()]
    return difflib.get_close_matches(stem, names, n=4, cutoff=0.75)


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


def load(
    path: str | Path,
    variant: str | None = None,
    *,
    input: str | Sequence[int] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Network:
    """Load a spec file (or a bundled spec by name; `./NAME.yaml` first) into
    a checked `Network`; `input` and `params` override the spec's as in `loads`."""
    resolved = resolve_spec_path(path)
    text = decode_spec(resolved.read_bytes(), str(resolved))
    filename = str(path) if Path(path).is_file() else str(resolved)
    return loads(text, filename, variant, resolved.parent, input=input, params=params)


def with_overrides(
    spec: ast.Spec, input: str | Sequence[int] | None, params: Mapping[str, Any] | None
) -> ast.Spec:
    """The spec with its input size and file-level parameters replaced."""
    if input is not None:
        spec = replace(spec, input=_input_shape(input))
    if not params:
        return spec
    known = {name for name, _ in spec.constants if name != "variant"}
    known |= {name for _, values in spec.variants for name, _ in values}
    for name in params:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ToolError(
                f"the spec has no parameter `{name}`{did_you_mean(name, known)} "
                f"(parameters: {listed})"
            )
    given = tuple((name, _as_expr(value)) for name, value in params.items())
    constants = tuple((k, v) for k, v in spec.constants if k not in params) + given
    variants = tuple(
        (name, tuple((k, v) for k, v in values if k not in params))
        for name, values in spec.variants
    )
    return replace(spec, constants=constants, variants=variants)


def _input_shape(value: str | Sequence[int]) -> tuple[int, ...]:
    text = value if isinstance(value, str) else "x".join(str(v) for v in value)
    match = re.fullmatch(r"\s*(\d{1,9})\s*[x×]\s*(\d{1,9})\s*[x×]\s*(\d{1,9})\s*", text)
    if not match or min(int(g) for g in match.groups()) <= 0:
        raise ToolError(f"an input size reads CxHxW with positive sizes (3x224x224), not `{text}`")
    c, h, w = (int(g) for g in match.groups())
    if c > MAX_CHANNELS or max(h, w) > MAX_SPATIAL:
        limits = f"{MAX_CHANNELS:,} channels and {MAX_SPATIAL:,} pixels a side"
        raise ToolError(f"input sizes are limited to {limits}")
    return c, h, w


def _as_expr(value: Any) -> ast.Expr:
    """A parameter value as the spec would have written it."""
    span = Span("<params>", 1, 1)
    if isinstance(value, bool | int | float):
        return ast.Num(int(value) if isinstance(value, bool) else value, span=span)
    if isinstance(value, list | tuple):
        return ast.ListLit(tuple(_as_expr(v) for v in value), span=span)
    text = str(value).strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text not in ("true", "false"):
        return ast.Str(text, span=span)
    try:
        return parse_expression(text, span, start="expr")
    except ArchSpecError as exc:
        raise ToolError(f"cannot read the parameter value `{text}`: {exc.message}") from None


def parse_settings(settings: Sequence[str]) -> dict[str, str]:
    """`["k=48", "unit=basic"]` (the command line's `--set`) as a mapping."""
    out = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or not name.strip():
            raise ToolError(f"`--set` takes NAME=VALUE, not `{setting}`")
        out[name.strip()] = value.strip()
    return out


@cache
def zoo_catalogue() -> Catalogue:
    """The bundled specs, as the catalogue a checkpoint is identified against
    (each spec read on first use, then kept for the process)."""
    from .compiler.io.weights import Catalogue

    return Catalogue(lambda: (load(path).model for path in bundled_specs()))
