"""Python source for values and spec expressions, for the code generator.

Nothing here reads spec *text*: an expression is written from the evaluator's
AST (`archspec.ast` Expr nodes), one node at a time, with the same meaning the
evaluator (`archspec/expr.py`) gives it, and names come from the caller's
resolver (which mangles them through `archspec.naming.Namespace`). Values are
written with `repr` of plain types only (None, bool, int, finite float, str,
tuples and lists of them), so no spec string can end a literal early.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from archspec import ast


class NotExpressible(Exception):
    """This expression (or value) has no Python form here."""


def py_str(text: str) -> str:
    """A string literal, double-quoted where that needs no escape (as ruff
    formats it); otherwise `repr`'s own choice."""
    written = repr(text)
    if written[0] == "'" and '"' not in text:
        return '"' + written[1:-1] + '"'
    return written


def literal(value: Any) -> str:
    """A plain value as Python source; anything else is `NotExpressible`."""
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, str):
        return py_str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotExpressible(f"cannot write the number {value} as a literal")
        return repr(value)
    if isinstance(value, tuple):
        items = ", ".join(literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v) for v in value)}]"
    raise NotExpressible(f"cannot write {type(value).__name__} value as a literal")


# Binding strength, loosest first, as Python parses them.
_PREC = {"if": 0, "or": 1, "and": 2, "not": 3, "cmp": 4, "+": 6, "-": 6, "*": 7, "/": 7,
         "//": 7, "%": 7, "neg": 8, "atom": 10}  # fmt: skip
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
# The evaluator's functions and their Python spelling (`math` is imported when used).
FUNCTIONS = {"floor": "math.floor", "ceil": "math.ceil", "round": "round", "int": "int",
             "abs": "abs", "min": "min", "max": "max", "len": "len"}  # fmt: skip

# `resolve(name)`: the Python source for a spec name in scope, None for a
# name not in scope (a bare word is then a string, as the evaluator reads it);
# raises NotExpressible for a name in scope that this code cannot see.
Resolver = Callable[[str], str | None]


def to_python(expr: ast.Expr, resolve: Resolver) -> str:
    return _emit(expr, resolve)[0]


def negated(expr: ast.Expr) -> ast.Expr:
    """`not expr`, a comparison flipped (`a != b` rather than `not a == b`)."""
    flip = {"==": "!=", "!=": "=="}
    if isinstance(expr, ast.BinOp) and expr.op in flip:
        return ast.BinOp(flip[expr.op], expr.left, expr.right, expr.span)
    return ast.UnaryOp("not", expr, expr.span)


def walk(expr: ast.Expr) -> list[ast.Expr]:
    out = [expr]
    match expr:
        case ast.Attr(value=v) | ast.UnaryOp(operand=v):
            out += walk(v)
        case ast.Index(value=v, index=k):
            out += walk(v) + walk(k)
        case ast.Func(args=items) | ast.ListLit(items=items):
            for item in items:
                out += walk(item)
        case ast.BinOp(left=a, right=b):
            out += walk(a) + walk(b)
        case ast.IfExpr(test=t, then=a, otherwise=b):
            out += walk(t) + walk(a) + walk(b)
    return out


def _wrap(part: tuple[str, int], above: int) -> str:
    text, prec = part
    return f"({text})" if prec <= above else text


def _emit(expr: ast.Expr, resolve: Resolver) -> tuple[str, int]:
    atom = _PREC["atom"]
    match expr:
        case ast.Num(value=value):
            text = literal(value)
            return text, (_PREC["neg"] if text.startswith("-") else atom)
        case ast.Str(value=value):
            found = resolve(value) if value.isidentifier() else None
            return (found, atom) if found is not None else (py_str(value), atom)
        case ast.Var(name=name):
            found = resolve(name)
            if found is None:
                raise NotExpressible(f"unknown name `{name}`")
            return found, atom
        case ast.Attr(value=ast.Var(name="in"), name=name) if name in ("c", "h", "w"):
            found = resolve(f"in.{name}")
            if found is None:
                raise NotExpressible(f"`in.{name}` is not known here")
            return found, atom
        case ast.Index(value=value, index=index):
            return f"{_wrap(_emit(value, resolve), atom - 1)}[{to_python(index, resolve)}]", atom
        case ast.Func(name=name, args=args) if name in FUNCTIONS:
            return f"{FUNCTIONS[name]}({', '.join(to_python(a, resolve) for a in args)})", atom
        case ast.ListLit(items=items):
            return f"[{', '.join(to_python(item, resolve) for item in items)}]", atom
        case ast.UnaryOp(op="-", operand=operand):
            return "-" + _wrap(_emit(operand, resolve), _PREC["neg"] - 1), _PREC["neg"]
        case ast.UnaryOp(op="not", operand=operand):
            return "not " + _wrap(_emit(operand, resolve), _PREC["not"] - 1), _PREC["not"]
        case ast.BinOp(op=op, left=left, right=right) if op in _COMPARE:
            prec = _PREC["cmp"]
            a, b = _wrap(_emit(left, resolve), prec), _wrap(_emit(right, resolve), prec)
            return f"{a} {op} {b}", prec
        case ast.BinOp(op=op, left=left, right=right) if op in _PREC:
            prec = _PREC[op]
            # left-associative: the right operand binds tighter
            a, b = _wrap(_emit(left, resolve), prec - 1), _wrap(_emit(right, resolve), prec)
            return f"{a} {op} {b}", prec
        case ast.IfExpr(test=test, then=then, otherwise=otherwise):
            prec = _PREC["if"]
            a = _wrap(_emit(then, resolve), prec)
            t = _wrap(_emit(test, resolve), prec)
            b = _wrap(_emit(otherwise, resolve), prec - 1)
            return f"{a} if {t} else {b}", prec
    raise NotExpressible("unsupported expression")
