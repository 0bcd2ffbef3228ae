"""Evaluating spec expressions where the elaborator needs a particular kind of value."""

from __future__ import annotations

from .. import ast
from ..errors import SpecNameError, did_you_mean
from ..expr import as_int, evaluate
from .scope import Scope


def as_checked_int(expr: ast.Expr, scope: Scope, what: str) -> int:
    """An integer; a bare word that names nothing is an unknown name, not a string."""
    value = evaluate(expr, scope)
    if isinstance(expr, ast.Str) and value == expr.value:
        raise SpecNameError(f"unknown name `{value}`{did_you_mean(value, scope)}", expr.span)
    return as_int(value, expr, what)
