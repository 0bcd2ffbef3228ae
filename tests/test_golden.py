"""Golden files per stage, for a handful of representative specs: the AST, the
IR, the summary, the DOT and the generated source. A change in any stage's
output shows up here as a readable diff.

    ARCHSPEC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py   # regenerate
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import archspec
from archspec.blocks import SYNTAX
from archspec.errors import Diagnostics, Span
from archspec.ir import Block, Layer, Node
from archspec.network import JOINS, resolve_spec_path
from archspec.parser import read_spec

GOLDEN = Path(__file__).resolve().parent / "golden" / "stages"
SPECS = ["lenet5", "resnet18", "googlenet_aux", "densenet_bc_100_k12", "fractalnet"]
UPDATE = bool(os.environ.get("ARCHSPEC_UPDATE_GOLDEN"))


def pretty(value: object, indent: int = 0) -> str:
    """A dataclass tree, one field per line (spans and other repr=False fields left out)."""
    pad = "  " * indent
    if isinstance(value, Span):  # the file's name only: the dump is the same in every checkout
        return f"Span({Path(value.file).name}:{value.line}:{value.col})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        shown = [f for f in dataclasses.fields(value) if f.repr]
        inner = [f"{pad}  {f.name}={pretty(getattr(value, f.name), indent + 1)}" for f in shown]
        return f"{type(value).__name__}(\n" + ",\n".join(inner) + f"\n{pad})"
    if isinstance(value, tuple) and value:
        inner = [f"{pad}  {pretty(item, indent + 1)}" for item in value]
        return "(\n" + ",\n".join(inner) + f"\n{pad})"
    return repr(value)


def ast_dump(name: str) -> str:
    path = resolve_spec_path(name)
    text = path.read_text("utf-8")
    spec = read_spec(text, path.name, Diagnostics(), path.parent, combinators=SYNTAX, joins=JOINS)
    return pretty(dataclasses.replace(spec, path="")) + "\n"


def ir_dump(name: str) -> str:
    lines: list[str] = []

    def visit(node: Node, depth: int) -> None:
        pad = "  " * depth
        shapes = f"{', '.join(map(str, node.inputs))} → {', '.join(map(str, node.outputs))}"
        cost = f"params={node.cost.params} macs={node.cost.macs} rf={node.field.size}"
        if isinstance(node, Layer):
            attrs = ", ".join(f"{k}={v!r}" for k, v in node.attrs.items)
            lines.append(f"{pad}{node.name}: {node.op}({attrs}) {shapes} {cost}")
            return
        assert isinstance(node, Block)
        own = [f for f in dataclasses.fields(node) if f.name not in _BLOCK_FIELDS]
        extra = ", ".join(f"{f.name}={getattr(node, f.name)!r}" for f in own)
        lines.append(f"{pad}{node.name}: {type(node).__name__}({extra}) {shapes} {cost}")
        for child in node.children:
            visit(child, depth + 1)

    visit(archspec.load(name).root, 0)
    return "\n".join(lines) + "\n"


_BLOCK_FIELDS = {f.name for f in dataclasses.fields(Block)}

STAGES: dict[str, tuple[str, Callable[[str], str]]] = {
    "ast": ("ast.txt", ast_dump),
    "ir": ("ir.txt", ir_dump),
    "summary": ("summary.txt", lambda name: archspec.load(name).summary() + "\n"),
    "dot": ("diagram.dot", lambda name: archspec.load(name).draw().source),
    "source": ("source.py", lambda name: archspec.load(name).source()),
}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", SPECS)
def test_stage_output_matches_golden(name: str, stage: str) -> None:
    filename, produce = STAGES[stage]
    if stage == "source":
        pytest.importorskip("torch")
    path = GOLDEN / name / filename
    text = produce(name)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with ARCHSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")
