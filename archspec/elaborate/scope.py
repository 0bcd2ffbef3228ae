"""File-level scope: which variant is chosen, the constants it sees, and the
per-op defaults. The one place that decides the variant (the API asks here too)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from .. import ast
from ..errors import ArchSpecError, Diagnostics, Span, SpecNameError, did_you_mean
from ..expr import evaluate
from ..ops import ACT_ALIASES, ACTIVATIONS, OPTION_HINTS, REGISTRY, Op

Scope = dict[str, Any]

# Names every expression sees; the spec cannot rebind them.
BUILTINS: Scope = {"true": True, "false": False, "none": "none"}


def chosen_variant(spec: ast.Spec, variant: str | None) -> str | None:
    """The variant asked for, else the file's `variant:` constant, else the first."""
    if variant is not None:
        return variant
    constants = dict(spec.constants)
    written = constants.get("variant")
    if isinstance(written, ast.Str):
        return written.value
    return spec.variants[0][0] if spec.variants else None


def network_name(spec: ast.Spec, variant: str | None) -> str:
    """The spec's own `name:` (a `resnet50_v1_5.yaml` on the ResNet family is
    `resnet50_v1_5`), unless a variant other than the file's own is asked
    for; a family file without a name is named after its variant (`resnet50`),
    anything else after its file."""
    chosen = chosen_variant(spec, variant)
    written = dict(spec.constants).get("variant")
    own = written.value if isinstance(written, ast.Str) else None
    if spec.name and (variant is None or variant == own or not spec.variants):
        return spec.name
    if chosen and spec.variants:
        return chosen
    return spec.name or PurePath(spec.path).stem


def file_scope(spec: ast.Spec, variant: str | None, diag: Diagnostics) -> Scope:
    """Builtins, the file's `params`, and the chosen variant's overrides."""
    scope: Scope = dict(BUILTINS)
    variants = dict(spec.variants)
    constants = {k: v for k, v in spec.constants if k != "variant"}
    overrides: dict[str, ast.Expr] = {}
    chosen = chosen_variant(spec, variant)
    if chosen is not None and chosen not in variants:
        known = ", ".join(variants) or "none"
        diag.error(
            SpecNameError(
                f"unknown variant `{chosen}`{did_you_mean(chosen, variants)} (variants: {known})",
                _variant_span(spec) if variant is None else spec.span,
            )
        )
    elif chosen is not None:
        overrides = dict(variants[chosen])
    for name, expr in {**constants, **overrides}.items():
        try:
            scope[name] = evaluate(expr, scope)
        except ArchSpecError as exc:
            diag.error(exc)
    return scope


def _variant_span(spec: ast.Spec) -> Span:
    """Where the file chose its variant (`variant: small`), else the spec itself."""
    written = dict(spec.constants).get("variant")
    return written.span if written is not None else spec.span


def op_defaults(spec: ast.Spec, scope: Scope, diag: Diagnostics) -> dict[str, dict[str, Any]]:
    """`defaults:` per op (by its canonical name), values evaluated once."""
    out: dict[str, dict[str, Any]] = {}
    for written, args in spec.defaults:
        found = REGISTRY.lookup(written)
        if found is None:
            diag.error(
                SpecNameError(
                    f"defaults for unknown op `{written}`"
                    f"{did_you_mean(written, REGISTRY.spellings())}",
                    args[0].span if args else spec.span,
                )
            )
            continue
        op = found[0]
        values = out.setdefault(op.name, {})
        for arg in args:
            if arg.name not in op.options:
                diag.error(unknown_option(op, arg))
                continue
            try:
                values[arg.name] = option_value(arg.value, scope)
            except ArchSpecError as exc:
                diag.error(exc)
    return out


def unknown_option(op: Op, arg: ast.Arg) -> SpecNameError:
    allowed = sorted(op.options)
    written = OPTION_HINTS.get((arg.name or "").lower())
    hint = (
        f" — write `{written}=`" if written in op.options else did_you_mean(arg.name or "", allowed)
    )
    return SpecNameError(
        f"`{op.name}` has no option `{arg.name}`{hint} (options: {', '.join(allowed) or 'none'})",
        arg.span,
    )


def option_value(expr: ast.Expr, scope: Scope) -> Any:
    """An op option's value. An activation written as a call, `leaky_relu(0.1)`
    or `prelu(shared)`, is the pair (name, arguments); its bare-word arguments
    are words, not names."""
    if isinstance(expr, ast.Func) and (expr.name in ACTIVATIONS or expr.name in ACT_ALIASES):
        args = tuple(
            arg.name if isinstance(arg, ast.Var) and arg.name not in scope else evaluate(arg, scope)
            for arg in expr.args
        )
        return (expr.name, args)
    return evaluate(expr, scope)
