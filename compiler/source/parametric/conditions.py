"""The test that tells apart the instances of a class that have a child
(or a form of it) from those that have not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archspec import ast
from archspec.errors import ArchSpecError
from archspec.expr import evaluate

from ..pysource import NotExpressible, literal, negated
from .values import (
    INPUTS,
    Cand,
    Own,
    expr_cand,
    same,
)

if TYPE_CHECKING:
    from .classes import ClassGen


def condition(
    gen: ClassGen, yes: list[dict], no: list[dict], name: str, own: list[Own] | None = None
) -> str:
    """A test true in the `yes` occurrences and false in the `no` ones:
    first the spec's own option picking the form (`act == "relu"` where
    a layer is written `(act=act)`), then the spec's `if:` tests, then
    a shape test (`in_c != 4 * width`), else a decision the caller passes."""
    items = [(s, True) for s in yes] + [(s, False) for s in no]
    bools = [test for _tag, expr in own or [] if (test := choice_test(expr, yes, no))]
    for test in gen.tests:
        bools.append(Cand(lambda s, t=test: bool(evaluate(t, s)), lambda g, t=test: g.python(t)))
        bools.append(
            Cand(lambda s, t=test: not evaluate(t, s), lambda g, t=test: g.python(negated(t)))
        )
    if gen.bdef is not None:
        channels = gen.candidates()[len(gen.spec_params) + len(gen.inputs) :]
        channels = [*(expr_cand(ast.Var(p)) for p in gen.spec_params), *channels]
        for c in channels:
            bools.append(
                Cand(
                    lambda s, c=c: s[INPUTS][0] != c.value(s),
                    lambda g, c=c: f"{g.input_param(0)} != {c.source(g)}",
                )
            )
    for cand in bools:
        found = gen.try_cand(cand, items)
        if found is not None:
            return found
    return gen.decision(items, f"with_{name}")


def choice_test(expr: ast.Expr, yes: list[dict], no: list[dict]) -> Cand | None:
    """`expr == value` where `expr` has one value in every `yes`
    occurrence and another in every `no` one."""
    try:
        value = evaluate(expr, yes[0])
        if not all(same(evaluate(expr, s), value) for s in yes) or any(
            same(evaluate(expr, s), value) for s in no
        ):
            return None
        source = literal(value)
    except (ArchSpecError, NotExpressible, KeyError, TypeError, IndexError, ValueError):
        return None
    atomic = isinstance(expr, ast.Var | ast.Str)
    return Cand(
        lambda s: same(evaluate(expr, s), value),
        lambda g: f"{g.python(expr) if atomic else f'({g.python(expr)})'} == {source}",
    )
