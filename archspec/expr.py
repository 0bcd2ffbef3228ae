"""A small, safe evaluator for the expressions in `{…}`.

It walks the `ast` expression nodes itself: no Python `eval`, no attribute
access except the input shape's `in.c`, `in.h`, `in.w`, and only the
functions listed in `FUNCTIONS`. Values are ints, floats, bools, strings and
lists; integer arithmetic stays integral (`4*width`), `/` gives a float, so
`floor(theta*in.c)` reads as the paper writes it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ast
from .errors import SpecNameError, SpecValueError, did_you_mean
from .limits import MAX_MAGNITUDE as LIMIT

Value = int | float | bool | str | list


@dataclass(frozen=True, slots=True)
class ShapeValue:
    """What `in` evaluates to: the input tensor's shape."""

    c: int
    h: int | None
    w: int | None


def _to_int(name: str) -> Callable[..., int]:
    def convert(x: Any) -> int:
        return int(getattr(math, name)(x)) if name != "int" else int(x)

    return convert


def _round(x: Any, ndigits: Any = None) -> Any:
    # round(1, -10**11) takes seconds: digits beyond any float's are refused
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 30):
        raise ValueError(f"round() takes at most 30 digits, got {ndigits}")
    return round(x) if ndigits is None else round(x, ndigits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "floor": _to_int("floor"),
    "ceil": _to_int("ceil"),
    "round": _round,
    "int": _to_int("int"),
    "abs": abs,
    "min": min,
    "max": max,
    "len": len,
}

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# Keeps a hostile `{10**10**10}`-style spec from hanging the evaluator.
MAX_MAGNITUDE = LIMIT


def evaluate(expr: ast.Expr, scope: Mapping[str, Any]) -> Any:
    """The value of `expr` with names looked up in `scope`."""
    match expr:
        case ast.Num(value=value):
            return _bounded(value, expr)
        case ast.Str(value=value):
            return scope.get(value, value) if value in scope else value
        case ast.Var(name=name):
            if name in scope:
                return scope[name]
            raise SpecNameError(f"unknown name `{name}`{did_you_mean(name, scope)}", expr.span)
        case ast.ListLit(items=items):
            return [evaluate(item, scope) for item in items]
        case ast.Attr(value=value, name=name):
            target = evaluate(value, scope)
            if isinstance(target, ShapeValue) and name in ("c", "h", "w"):
                result = getattr(target, name)
                if result is None:
                    raise SpecValueError(f"the input has no spatial size `{name}`", expr.span)
                return result
            raise SpecValueError(
                f"`.{name}` is only defined for `in` (in.c, in.h, in.w)", expr.span
            )
        case ast.Index(value=value, index=index):
            target, position = evaluate(value, scope), evaluate(index, scope)
            if not isinstance(target, list) or not isinstance(position, int):
                raise SpecValueError("indexing needs a list and an integer", expr.span)
            if not -len(target) <= position < len(target):
                raise SpecValueError(
                    f"index {position} out of range (length {len(target)})", expr.span
                )
            return target[position]
        case ast.Func(name=name, args=args):
            function = FUNCTIONS.get(name)
            if function is None:
                raise SpecNameError(
                    f"unknown function `{name}`{did_you_mean(name, FUNCTIONS)}", expr.span
                )
            values = [evaluate(arg, scope) for arg in args]
            try:
                return _bounded(function(*values), expr)
            except (TypeError, ValueError, OverflowError) as exc:
                raise SpecValueError(f"`{name}`: {exc}", expr.span) from None
        case ast.UnaryOp(op="-", operand=operand):
            value = evaluate(operand, scope)
            _require_number(value, expr)
            return -value
        case ast.UnaryOp(op="not", operand=operand):
            return not evaluate(operand, scope)
        case ast.BinOp(op="and", left=left, right=right):
            return evaluate(left, scope) and evaluate(right, scope)
        case ast.BinOp(op="or", left=left, right=right):
            return evaluate(left, scope) or evaluate(right, scope)
        case ast.BinOp(op=op, left=left, right=right):
            return _binary(op, evaluate(left, scope), evaluate(right, scope), expr)
        case ast.IfExpr(test=test, then=then, otherwise=otherwise):
            return evaluate(then if evaluate(test, scope) else otherwise, scope)
    raise SpecValueError("unsupported expression", getattr(expr, "span", None))


def _binary(op: str, left: Any, right: Any, expr: ast.BinOp) -> Any:
    if op not in ("==", "!="):
        _require_number(left, expr)
        _require_number(right, expr)
    try:
        result = _BINARY[op](left, right)
    except ZeroDivisionError:
        raise SpecValueError("division by zero", expr.span) from None
    return _bounded(result, expr)


def _bounded(value: Any, expr: ast.Expr) -> Any:
    """`value`, if it is not a number or a finite one within MAX_MAGNITUDE."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecValueError(f"`{value}` is not a finite number", expr.span)
    if abs(value) > MAX_MAGNITUDE:
        raise SpecValueError("number too large", expr.span)
    return value


def _require_number(value: Any, expr: ast.Expr) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SpecValueError(f"expected a number, got `{value}`", expr.span)


def as_int(value: Any, expr: ast.Expr, what: str) -> int:
    """An integer argument; a float with an integral value is accepted (64.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecValueError(f"{what} must be an integer, got `{value}`", expr.span)
    if isinstance(value, float):
        if not value.is_integer():
            raise SpecValueError(f"{what} must be an integer, got {value:g}", expr.span)
        value = int(value)
    return value
