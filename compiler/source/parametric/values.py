"""What the parametric writer works with: candidate expressions and
their values in an occurrence's scope, the scope's own keys, constructor
parameters, and small helpers on IR nodes and names."""

from __future__ import annotations

import ast as pyast
import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

from archspec import ast
from archspec.expr import ShapeValue, evaluate
from archspec.ir import Block

from ...torch.plan import CompileError, LayerPlan, Plan
from ..pysource import walk

if TYPE_CHECKING:
    from .classes import ClassGen


class Unsupported(CompileError):
    """The parametric form cannot express this network (the unrolled one can)."""


class Mismatch(Exception):
    """These occurrences do not share one structure."""


# ---------------------------------------------------------------- values


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (True is not 1, 2.0 is not 2)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Cand:
    """A candidate expression: its value in an occurrence's scope, and its source."""

    value: Callable[[dict], Any]
    source: Callable[[ClassGen], str]


def expr_cand(expr: ast.Expr) -> Cand:
    return Cand(lambda scope: evaluate(expr, scope), lambda gen: gen.python(expr))


class Key(StrEnum):
    """An occurrence's scope entries beside the spec's names, which no spec
    name can be (`#` starts none): the instance's number, the channels of its
    inputs, and whether the occurrence is a copy in a loop."""

    INSTANCE = "#inst"
    INPUTS = "#inputs"
    LOOP = "#loop"


INST, INPUTS, LOOP = Key.INSTANCE, Key.INPUTS, Key.LOOP


def value_exprs(node: Any) -> list[tuple[ast.Expr, str]]:
    """Every expression a spec body holds where a value is written, in order,
    each with its role ("value", "count" or "test")."""
    out: list[tuple[ast.Expr, str]] = []

    def visit(item: Any, role: str = "value") -> None:
        if isinstance(
            item,
            ast.Num
            | ast.Str
            | ast.Var
            | ast.Attr
            | ast.Index
            | ast.Func
            | ast.ListLit
            | ast.BinOp
            | ast.UnaryOp
            | ast.IfExpr,
        ):
            out.append((item, role))
            return
        if isinstance(item, tuple):
            for sub in item:
                visit(sub, role)
            return
        if isinstance(item, ast.Repeat):
            visit(item.body)
            visit(item.count, "count")
            return
        if isinstance(item, ast.If):
            visit(item.test, "test")
            visit(item.then)
            visit(item.otherwise)
            return
        if isinstance(item, ast.Combine):
            visit(item.branches)
            for key, value, _span in item.options:
                visit(value, "count" if key == "times" else "value")
            return
        if isinstance(item, ast.Tap):
            visit(item.body)
            visit(item.when, "test")
            visit(item.drop_path)
            return
        if is_dataclass(item) and not isinstance(item, type):
            for f in fields(item):
                if f.name != "span":
                    visit(getattr(item, f.name), role)

    visit(node)
    return out


def entry(node: Any) -> tuple[str, int, int]:
    """The spec entry that made an IR node, by where it starts: the nodes
    one entry makes may span different lengths of it."""
    return (node.span.file, node.span.line, node.span.col)


NUMBERED = re.compile(r"^(.*?)(\d+)$")

# Names a generated constructor's parameters never take.
LOCAL_RESERVED = frozenset(
    {"self", "torch", "nn", "math", "x", "i", "super", "l", "O", "I", *dir(builtins)}
)


# ---------------------------------------------------------------- classes


class ParamKind(Enum):
    """Where a generated constructor's parameter comes from."""

    INPUT = "input"  # the channels of the block's `index`-th input (`in_c`)
    SPEC = "spec"  # a parameter of the spec block (`width`)
    CONSTANT = "constant"  # a file constant the block reads (`k`)
    DECISION = "decision"  # a value no expression gives: each caller passes its own


@dataclass
class ClassParam:
    kind: ParamKind
    spec: str  # the spec's name (SPEC, CONSTANT), else ""
    py: str
    default: str | None = None  # Python source of the default, None: required
    kwonly: bool = False
    index: int = 0  # which input (INPUT) or decision (DECISION)
    values: dict[int, Any] = field(default_factory=dict)  # instance → value (DECISION)


# (tag, expression): an expression the spec wrote at a layer's call (the
# layer's recorded provenance), tagged with what it gives: "out" (its width),
# "stride", an option's name ("kernel", "groups", a positional one's too),
# "any" (an argument the spec passes to this very parameter).
Own = tuple[str, ast.Expr]

# A torch argument an option of the spec fills under another name.
_TORCH_NAMES = {"kernel": "kernel_size"}


def fits(tag: str, role: str | None, slot: str) -> bool:
    """Whether an expression tagged `tag` was written for this argument."""
    if tag == "any":
        return True
    if tag == "out":
        return role == "out"
    return bool(tag) and _TORCH_NAMES.get(tag, tag) == slot


def reads_variant(expr: ast.Expr, keys: set[str]) -> bool:
    """Whether `expr` reads a value that differs between a family's variants."""
    return any(isinstance(e, ast.Var) and e.name in keys for e in walk(expr))


def anywhere(exprs: list[ast.Expr]) -> list[Own]:
    return [("any", e) for e in exprs]


def loop_stop(count: str) -> str:
    """`range(1, STOP)`'s stop for a loop of `count` copies: `count + 1`,
    folded where that is plain (`7` → `8`, `stages[1] - 1` → `stages[1]`)."""
    if count.isdigit():
        return str(int(count) + 1)
    tree = pyast.parse(count, mode="eval").body
    if (
        isinstance(tree, pyast.BinOp)
        and isinstance(tree.op, pyast.Sub)
        and isinstance(tree.right, pyast.Constant)
        and tree.right.value == 1
        and type(tree.right.value) is int
    ):
        return count[: tree.left.end_col_offset]
    loose = isinstance(tree, pyast.IfExp | pyast.BoolOp | pyast.Compare) or (
        isinstance(tree, pyast.UnaryOp) and isinstance(tree.op, pyast.Not)
    )
    return f"({count}) + 1" if loose else f"{count} + 1"


def copy_number(name: str) -> int:
    """The copy number a child's name ends in (0: none)."""
    match = NUMBERED.match(name)
    return int(match.group(2)) if match else 0


def members_name(items: list) -> str:
    return items[0][1][0].name


def fingerprint(plan: Plan) -> tuple:
    if isinstance(plan, LayerPlan):
        return ("layer", tuple((p.name, p.cls) for p in plan.parts))
    return (
        type(plan.node).__name__,
        plan.node.block,
        tuple((c.name, fingerprint(c)) for c in plan.children),
    )


def shape_value(shape: Any) -> ShapeValue:
    return ShapeValue(shape.c, shape.h, shape.w)


def instance_scope(node: Block, constants: dict) -> dict:
    """The scope a spec block instance's body saw, from the IR's provenance:
    the file constants, `in`, every parameter's value; and its inputs' channels."""
    if node.definition is None:
        raise Unsupported(f"block `{node.block}` has no recorded definition")
    inner = {**constants, "in": shape_value(node.inputs[0]), **dict(node.bound)}
    inner[INPUTS] = [shape.c for shape in node.inputs]
    return inner
