"""The spec's abstract syntax: what the author wrote, before any expansion.

Nodes are frozen dataclasses; each keeps the `Span` it came from (left out of
equality, so two identical expressions compare equal wherever they appear).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UNKNOWN_SPAN, Span


def _span() -> Span:
    return field(default=UNKNOWN_SPAN, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attr:
    value: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Index:
    value: Expr
    index: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Func:
    name: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class UnaryOp:
    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IfExpr:
    test: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


Expr = Num | Str | Var | Attr | Index | Func | ListLit | BinOp | UnaryOp | IfExpr


# ---------------------------------------------------------------- layers


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument in `(…)`: `name=value`, or a bare value when `name` is None."""

    name: str | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """One layer or block: `conv3/2-64 (act=none)`, `inception 3a: […]`, `bn`.

    `head` is the name as written (`conv3`, `inception`) or a braced
    expression naming a block (`{unit}(64)`). `label` is the explicit name the
    spec gives the result (`inception 3a`, `conv1: …`).
    """

    head: str | Expr
    stride: Expr | None = None
    width: Expr | None = None
    args: tuple[Arg, ...] = ()
    label: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Repeat:
    body: Node
    count: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]
    label: str | None = None
    span: Span = _span()


# A name as the spec language writes one (a layer label, a parameter, a tensor).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Names every expression sees with a fixed meaning: no parameter, constant or
# variant value may take them (`in` is the block's input shape, `i` a repeat's
# copy index).
BUILTIN_NAMES = frozenset({"true", "false", "none", "in", "i"})


@dataclass(frozen=True, slots=True)
class Syntax:
    """How a combinator is written: `key: body` plus its other keys. Each block
    kind declares its own (archspec/blocks/); the parser is handed them.

    `branches` is "list" (concat, mean: a list of branches) or "one" (a body);
    `options` maps each other key to how its value is read: "expr", "body", or
    "mode-or-body" (`shortcut: identity` or a body); `required` keys must be
    given."""

    key: str
    branches: str = "one"
    options: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Combine:
    """A combinator: concat / residual / dense / scale / mean.

    `branches` are the parallel paths (concat, mean) or the single body
    (residual, dense, scale). `options` are the combinator's other keys
    (`shortcut`, `scale`, `then`, `times`), each an expression or a node.
    """

    kind: str
    branches: tuple[Node, ...]
    options: tuple[tuple[str, Expr | Node, Span], ...] = ()
    label: str | None = None
    span: Span = _span()

    def option(self, name: str) -> Expr | Node | None:
        return next((value for key, value, _ in self.options if key == name), None)


@dataclass(frozen=True, slots=True)
class If:
    test: Expr
    then: Node
    otherwise: Node | None
    label: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Tap:
    """A graph entry: `name: {from: a, layers: …}`, a join `{add: [a, b]}`, or a
    side `head:` whose result is an extra network output."""

    name: str | None
    sources: tuple[str, ...]
    body: Node | None
    join: str | None = None
    is_head: bool = False
    when: Expr | None = None
    drop_path: Expr | None = None
    split: tuple[tuple[str, Expr], ...] = ()  # `split: {a: 24, b: 24}`: named channel groups
    span: Span = _span()


Node = Call | Repeat | Seq | Combine | If | Tap


# ---------------------------------------------------------------- file level


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    inputs: tuple[str, ...]
    body: Node
    columns: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    title: str
    input: tuple[int, ...]
    defaults: tuple[tuple[str, tuple[Arg, ...]], ...]
    blocks: tuple[BlockDef, ...]
    body: Seq
    constants: tuple[tuple[str, Expr], ...]
    variants: tuple[tuple[str, tuple[tuple[str, Expr], ...]], ...]
    path: str
    span: Span = _span()
    weights: tuple[str, ...] = ()  # library models whose checkpoints fit (`weights:`)
