"""Calls of spec blocks: resolving a name to an op or a block, binding
arguments to parameters, and expanding the block's body in its own scope."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import ast
from ..blocks import Flow
from ..errors import (
    ArchSpecError,
    ShapeError,
    SpecNameError,
    SpecValueError,
    did_you_mean,
)
from ..expr import ShapeValue, evaluate
from ..ir import Block, Node
from ..limits import MAX_BLOCK_DEPTH
from ..ops import OP_HINTS, REGISTRY, Op
from .scope import Scope

if TYPE_CHECKING:
    from .walker import Elaborator


Target = ast.BlockDef | tuple[Op, tuple[int, int] | None]


def resolve_head(elab: Elaborator, call: ast.Call, scope: Scope) -> Target:
    """What a call names: a spec block (directly or through a parameter naming
    one, `unit(64)`) or an op with the kernel written in its name."""
    head = call.head
    if not isinstance(head, str):
        value = evaluate(head, scope)
        if not isinstance(value, str) or value not in elab.blocks:
            raise SpecNameError(f"`{value}` does not name a block", head.span)
        return elab.blocks[value]
    if head in elab.blocks:
        return elab.blocks[head]
    if isinstance(scope.get(head), str) and scope[head] in elab.blocks:
        return elab.blocks[scope[head]]
    found = REGISTRY.lookup(head)
    if found is None:
        suggestion = suggest(head, [*REGISTRY.spellings(), *elab.blocks])
        raise SpecNameError(
            f"unknown op or block `{head}`{suggestion}", call.span.shifted(0, len(head))
        )
    return found


def bind(call: ast.Call, bdef: ast.BlockDef, scope: Scope) -> dict[str, Any]:
    """The call's arguments by parameter name (defaults are filled in later)."""
    params = [p.name for p in bdef.params]
    positional = [a for a in call.args if a.name is None]
    if call.stride is not None or call.width is not None:
        raise SpecValueError(
            f"block `{bdef.name}` takes arguments in (…), not /stride or -width", call.span
        )
    if len(positional) > len(params):
        raise SpecValueError(arity(bdef, len(positional)), positional[len(params)].span)
    bound = {p: evaluate(a.value, scope) for p, a in zip(params, positional, strict=False)}
    for arg in call.args:
        if arg.name is None:
            continue
        if arg.name not in params:
            raise SpecNameError(
                f"block `{bdef.name}` has no parameter `{arg.name}`"
                f"{did_you_mean(arg.name, params)} (parameters: {', '.join(params) or 'none'})",
                arg.span,
            )
        if arg.name in bound:
            raise SpecValueError(f"parameter `{arg.name}` given twice", arg.span)
        bound[arg.name] = evaluate(arg.value, scope)
    return bound


def arity(bdef: ast.BlockDef, given: int) -> str:
    required = [p for p in bdef.params if p.default is None]
    columns = bdef.columns or tuple(p.name for p in bdef.params)
    count = (
        f"{len(required)}"
        if len(required) == len(bdef.params)
        else f"{len(required)} to {len(bdef.params)}"
    )
    return (
        f"block `{bdef.name}` takes {count} value{'s' if len(bdef.params) != 1 else ''} "
        f"({', '.join(columns)}), got {given}"
    )


def check_call_args(elab: Elaborator, call: ast.Call, bdef: ast.BlockDef, scope: Scope) -> None:
    """After an error upstream: still report bad arguments of the call."""
    try:
        bind(call, bdef, scope)
    except ArchSpecError as exc:
        elab.diag.error(exc)


def block_call(
    elab: Elaborator,
    call: ast.Call,
    bdef: ast.BlockDef,
    flows: list[Flow],
    scope: Scope,
    name: str,
) -> tuple[Node, Flow] | None:
    bound = bind(call, bdef, scope)
    if len(bdef.inputs) != len(flows):
        names = ", ".join(bdef.inputs)
        raise SpecValueError(
            f"block `{bdef.name}` takes {len(bdef.inputs)} input tensors ({names}): "
            f"call it from an entry with `from: [{names}]`"
            if len(bdef.inputs) > 1
            else f"block `{bdef.name}` takes one input tensor, got {len(flows)}",
            call.span,
        )
    inner = _inner_scope(elab, call, bdef, bound, flows[0])
    elab.depth += 1
    try:
        if elab.depth > MAX_BLOCK_DEPTH:
            raise SpecValueError(
                f"blocks nest deeper than {MAX_BLOCK_DEPTH} (endless recursion?)", call.span
            )
        made = block_body(elab, bdef, flows, inner, name)
    finally:
        elab.depth -= 1
    if made is None:
        return None
    node, flow = made
    args = ", ".join(_show(bound.get(p.name, inner.get(p.name))) for p in bdef.params)
    row = _row_label(call)
    notation = f"{bdef.name} ({row})" if row else f"{bdef.name}({args})"
    called = replace(
        node, block=bdef.name, notation=notation, args=args, row=row, span=call.span,
        definition=bdef, call=call, bound=tuple((p.name, inner[p.name]) for p in bdef.params),
        given=given_args(call, bdef),
    )  # fmt: skip
    return called, flow


def given_args(call: ast.Call, bdef: ast.BlockDef) -> tuple[tuple[str, ast.Expr], ...]:
    """The expression the call wrote for each parameter it passes, by name."""
    positional = [a.value for a in call.args if a.name is None]
    named = [(a.name, a.value) for a in call.args if a.name is not None]
    return (*zip((p.name for p in bdef.params), positional, strict=False), *named)


def _inner_scope(
    elab: Elaborator, call: ast.Call, bdef: ast.BlockDef, bound: dict[str, Any], first: Flow
) -> Scope:
    """The block body's scope: file constants, `in`, then the parameters."""
    shape = first.shape
    inner: Scope = {**elab.globals, "in": ShapeValue(shape.c, shape.h, shape.w), **bound}
    for param in bdef.params:
        if param.name in bound:
            continue
        if param.default is None:
            given = len([a for a in call.args if a.name is None])
            raise SpecValueError(arity(bdef, given), call.span)
        inner[param.name] = evaluate(param.default, inner)
    return inner


def block_body(
    elab: Elaborator, bdef: ast.BlockDef, flows: list[Flow], scope: Scope, name: str
) -> tuple[Block, Flow] | None:
    body = bdef.body
    while isinstance(body, ast.If):
        chosen = body.then if elab.truth(body.test, scope) else body.otherwise
        if chosen is None:
            chosen = ast.Seq((ast.Call("identity", span=body.span),), span=body.span)
        body = chosen
    if isinstance(body, ast.Combine) and len(flows) == 1:
        return elab.combine(body, flows[0], scope, name)
    items = body.items if isinstance(body, ast.Seq) else (body,)
    inputs: dict[str, Flow | None] = dict(zip(bdef.inputs, flows, strict=True))
    result = elab.sequence(items, inputs, scope, name, body.span)
    if result is None:
        return None
    block, outs = result
    if len(outs) != 1:
        raise ShapeError(
            f"block `{bdef.name}` has {len(outs)} outputs; `head:` entries "
            "belong in the network's top-level layers",
            bdef.span,
        )
    return block, outs[0]


def _row_label(call: ast.Call) -> str | None:
    """`3a` for a paper-table row `inception 3a: […]`, whose label starts
    with the block name."""
    head = call.head if isinstance(call.head, str) else ""
    if call.label and call.label.startswith(f"{head} "):
        return call.label[len(head) + 1 :]
    return None


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def suggest(head: str, candidates: list[str]) -> str:
    """did-you-mean for an op name that may carry a kernel size (`cnov3` → `conv3`),
    or what to write for a name from another notation (`LN`, `dwconv3`)."""
    match = re.fullmatch(r"([A-Za-z_]+?)(\d+(?:x\d+)?)", head)
    prefix = match.group(1) if match else head
    hint = OP_HINTS.get(prefix.lower()) or OP_HINTS.get(head.lower())
    if hint:
        return f" — {hint}"
    if match:
        prefix, kernel = match.groups()
        hint = did_you_mean(prefix, candidates)
        if hint:
            return f" — did you mean `{hint.split('`')[1]}{kernel}`?"
    return did_you_mean(head, candidates)
