"""Layer forms: one generated function per multi-module layer pattern
(conv → BN → ReLU), as torchvision's `BasicConv2d`, so that each such layer
of a block is one call (`conv_bn_relu(in_c, 96, 1)`) instead of a five-line
`Sequential`.

A pattern is the tuple of a layer's modules (their names and classes). Over
every use of it in the file, each argument of each module is a *slot*:

* a slot with the same value in every use is written into the function
  (`bias=False`, `eps=0.001`);
* the others are the function's parameters, named after torch's own
  parameter (`in_channels`, `kernel_size`, `stride`), keyword ones with the
  value most uses have as their default;
* slots that are one quantity are one parameter: the conv's output channels
  and the BN's features are both the layer's output width. Which slots carry
  the layer's input or output channels is declared by the op on each part
  (`Part.channels`, read by `slot_roles`), never guessed from equal numbers.

The function returns the same `Sequential` of the same modules under the same
names as the builder, so state_dict keys do not change.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import ArchSpecError
from archspec.ops import REGISTRY, Part

from ..torch.forms import part_class
from ..torch.plan import BlockPlan, LayerPlan, Plan
from .codetree import LINE, Code, render
from .pysource import literal

# (part index, positional index or keyword): one argument of one module
SlotKey = tuple[int, int | str]


def pattern_of(plan: LayerPlan) -> tuple:
    return tuple((p.name, p.cls, p.library) for p in plan.parts)


def slot_roles(plan: LayerPlan) -> dict[SlotKey, str]:
    """Which slots are the layer's input channels ("in") or its output
    channels ("out"), as each part declares them (`Part.channels`)."""
    return {(k, slot): role for k, part in enumerate(plan.parts) for slot, role in part.channels}


def _slots(part: Part) -> dict[int | str, Any]:
    out: dict[int | str, Any] = dict(enumerate(part.args))
    out.update(dict(part.kwargs))
    return out


@dataclass
class FormParam:
    py: str  # the parameter's name
    slots: list[SlotKey]  # every slot it fills
    role: str | None  # "in" / "out" channels, or None
    default: Any = None
    has_default: bool = False
    annotation: str = ""


@dataclass
class LayerForm:
    """The function that builds one layer pattern."""

    name: str
    parts: tuple[tuple[str, type, str], ...]  # (module name, class, "nn" / "archspec")
    params: list[FormParam]
    fixed: dict[SlotKey, Any]
    slot_order: list[list[int | str]] = field(default_factory=list)  # per part

    def param_for(self, slot: SlotKey) -> FormParam | None:
        return next((p for p in self.params if slot in p.slots), None)

    def value_in(self, plan: LayerPlan, part: int, key: int | str) -> Any:
        """A slot's value in one use (a keyword it leaves out: torch's default)."""
        module = plan.parts[part]
        if isinstance(key, int):
            return module.args[key]
        return dict(module.kwargs).get(key, keyword_defaults(self.parts[part][1])[key])


def layer_plans(plan: Plan) -> list[LayerPlan]:
    if isinstance(plan, LayerPlan):
        return [plan] if not plan.join else []
    assert isinstance(plan, BlockPlan)
    return [layer for child in plan.children for layer in layer_plans(child)]


def find_forms(
    roots: list[Plan], fresh: Any, site_of: Any, minimum_sites: int = 2
) -> dict[tuple, LayerForm]:
    """A form for every pattern of two or more modules written at
    `minimum_sites` places of the spec or more. `fresh(wanted)` names a
    module-level function; `site_of(plan)` tells one spec place from another."""
    uses: dict[tuple, list[LayerPlan]] = {}
    for root in roots:
        for layer in layer_plans(root):
            if len(layer.parts) >= 2:
                uses.setdefault(pattern_of(layer), []).append(layer)
    forms = {}
    for pattern, plans in uses.items():
        if len({site_of(p) for p in plans}) < minimum_sites:
            continue
        form = _form(pattern, plans, fresh)
        if form is not None:
            forms[pattern] = form
    return forms


def _form(pattern: tuple, plans: list[LayerPlan], fresh: Any) -> LayerForm | None:
    first = plans[0]
    classes = []
    for part in first.parts:
        try:
            classes.append(part_class(part, first.node))
        except ArchSpecError:
            return None
    # every use's value of every slot (a keyword a use leaves out: torch's default)
    order: list[list[int | str]] = []
    values: dict[SlotKey, list[Any]] = {}
    for k, cls in enumerate(classes):
        defaults = keyword_defaults(cls)
        keys: list[int | str] = list(range(len(first.parts[k].args)))
        words = list(dict.fromkeys(w for p in plans for w, _v in p.parts[k].kwargs))
        position = {w: n for n, w in enumerate(defaults)}
        words.sort(key=lambda w: position.get(w, len(position)))
        for word in words:
            if not word.isidentifier() or word not in defaults:
                return None
        keys += words
        order.append(keys)
        for key in keys:
            column = []
            for plan in plans:
                part = plan.parts[k]
                if isinstance(key, int):
                    if len(part.args) != len(first.parts[k].args):
                        return None
                    column.append(part.args[key])
                else:
                    column.append(dict(part.kwargs).get(key, defaults[key]))
            values[(k, key)] = column
    roles = slot_roles(first)
    fixed = {slot: col[0] for slot, col in values.items() if all(_same(v, col[0]) for v in col)}
    params: list[FormParam] = []
    names: set[str] = set()
    for slot, column in values.items():
        if slot in fixed:
            continue
        role = roles.get(slot)
        twin = next(
            (
                p
                for p in params
                if role is not None
                and p.role == role
                and all(map(_same, values[p.slots[0]], column))
            ),
            None,
        )
        if twin is not None:
            twin.slots.append(slot)
            continue
        k, key = slot
        wanted = key if isinstance(key, str) else positional_name(classes[k], key)
        name = wanted
        while name in names:
            name += "_"
        names.add(name)
        param = FormParam(name, [slot], role, annotation=_annotation(column))
        if isinstance(key, str):
            # torch's default where some uses take it, so calls read as torch's do
            torch_default = keyword_defaults(classes[k])[key]
            param.has_default = True
            param.default = (
                torch_default
                if any(_same(v, torch_default) for v in column)
                else _most_common(column)
            )
        params.append(param)
    params.sort(key=lambda p: p.has_default)  # required first, keeping their order
    name = fresh("_".join(part[0] for part in pattern))
    parts = tuple((p.name, cls, p.library) for p, cls in zip(first.parts, classes, strict=True))
    return LayerForm(name, parts, params, fixed, order)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _most_common(column: list[Any]) -> Any:
    counts = Counter(literal(v) for v in column)
    best = max(counts.values())
    return next(v for v in column if counts[literal(v)] == best)


def _annotation(column: list[Any]) -> str:
    kinds = []
    for value in column:
        if isinstance(value, tuple) and all(type(v) is int for v in value):
            kind = f"tuple[{', '.join(['int'] * len(value))}]"
        elif type(value) in (int, float, bool, str):
            kind = type(value).__name__
        else:
            return ""
        if kind not in kinds:
            kinds.append(kind)
    return " | ".join(kinds)


def positional_name(cls: type, index: int) -> str:
    try:
        names = [
            n
            for n, p in inspect.signature(cls).parameters.items()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return names[index] if index < len(names) else f"arg{index}"


_KEYWORD_DEFAULTS: dict[type, dict[str, Any]] = {}


def keyword_defaults(cls: type) -> dict[str, Any]:
    """A module class's keyword defaults, in its signature's order."""
    if cls not in _KEYWORD_DEFAULTS:
        try:
            parameters = inspect.signature(cls).parameters
        except (TypeError, ValueError):
            parameters = {}  # type: ignore[assignment]
        _KEYWORD_DEFAULTS[cls] = {
            k: p.default for k, p in parameters.items() if p.default is not inspect.Parameter.empty
        }
    return _KEYWORD_DEFAULTS[cls]


def definition(form: LayerForm) -> list[str]:
    """The function's source: its signature, then one `Sequential` of the
    pattern's modules with the fixed values written in."""
    params = []
    for p in form.params:
        note = f": {p.annotation}" if p.annotation else ""
        eq = " = " if note else "="
        params.append(p.py + note + (f"{eq}{literal(p.default)}" if p.has_default else ""))
    head = f"def {form.name}({', '.join(params)}) -> Sequential:"
    lines = (
        [head]
        if len(head) <= LINE
        else [
            f"def {form.name}(",
            *(f"    {p}," for p in params),
            ") -> Sequential:",
        ]
    )
    modules = []
    for k, (name, cls, library) in enumerate(form.parts):
        defaults = keyword_defaults(cls)
        args: list[tuple[str | None, Code]] = []
        for key in form.slot_order[k]:
            param = form.param_for((k, key))
            if param is not None:
                text = param.py
            else:
                value = form.fixed[(k, key)]
                if isinstance(key, str) and key in defaults and _same(value, defaults[key]):
                    continue
                text = literal(value)
            args.append((None if isinstance(key, int) else key, Code(text)))
        func = f"nn.{cls.__name__}" if library == "nn" else cls.__name__
        modules.append((name, Code(func=func, args=args)))
    body = Code(func="Sequential", args=modules)
    doc = " → ".join(name for name, _cls, _library in form.parts)
    return [*lines, f'    """{doc}: one layer of the spec."""', *render(body, 4, "return ", "")]


def deciding_options(a: LayerPlan, b: LayerPlan) -> set[str]:
    """The options of `a`'s op that, given `b`'s value, make `a` the modules
    `b` is: what tells two forms of one layer apart (`act` where one is
    conv → BN → ReLU and the other conv → BN → Hardswish), as opposed to the
    options that merely happen to differ with it (the kernel)."""
    op = REGISTRY.ops.get(a.node.op)
    if op is None or a.node.op != b.node.op:
        return set()
    mine, theirs = a.node.attrs.as_dict(), b.node.attrs.as_dict()
    want = [(p.cls, p.library) for p in b.parts]
    out = set()
    for key, value in mine.items():
        if key not in theirs or theirs[key] == value:
            continue
        try:
            parts = op.parts({**mine, key: theirs[key]}, list(a.node.inputs), a.node.output)
        except (ArchSpecError, ValueError, TypeError, KeyError, ZeroDivisionError):
            continue
        if [(p.cls, p.library) for p in parts] == want:
            out.add(key)
    return out
