"""Repeated regions of the structured graph as parameterised blocks.

Each top-level region gets a structural signature with its channel counts and
strides abstracted into numbers; regions with equal signatures share one block
whose varying numbers become parameters (a number that always equals, or is a
fixed multiple of, an earlier one is written as that expression). Nothing here
is keyed on a network's name: the folding only sees structure.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .render import Renderer, tidy
from .structure import Item, Region


@dataclass
class Unit:
    """A block instance: items at top-level positions, with its numbers."""

    start: int
    items: list[Item]
    template: str = ""
    numbers: list[tuple[int, str]] = field(default_factory=list)
    name: str = ""


@dataclass
class FoldedBlock:
    name: str
    body: Any  # YAML value, its numbers filled from `slots`
    slots: list[str]  # per number position: an expression or a literal
    params: list[str]
    defaults: dict[str, int]
    units: list[Unit]


def template(renderer: Renderer, items: list[Item]) -> tuple[Any, list[tuple[int, str]]]:
    """The items' YAML value with `\\0k\\0` placeholders, and the numbers they stand for."""
    numbers: list[tuple[int, str]] = []

    def num(value: int, role: str) -> str:
        numbers.append((value, role))
        return f"\0{len(numbers) - 1}\0"

    values = [renderer.item(i, num) for i in items]
    body = values[0] if len(values) == 1 and isinstance(items[0], Region) else {"layers": values}
    return body, numbers


def _signature(body: Any) -> str:
    return repr(body)


def find_units(items: list[Item], renderer: Renderer) -> dict[str, list[Unit]]:
    """Regions grouped by signature, each grown backwards over equal plain layers."""
    groups: dict[str, list[Unit]] = defaultdict(list)
    for index, item in enumerate(items):
        if isinstance(item, Region):
            body, numbers = template(renderer, [item])
            groups[_signature(body)].append(Unit(index, [item], _signature(body), numbers))
    taken = {u.start for units in groups.values() for u in units}
    for units in groups.values():
        _grow_backwards(units, items, renderer, taken)
    for units in groups.values():
        for u in units:
            body, u.numbers = template(renderer, u.items)
            u.template = _signature(body)
    return groups


def _grow_backwards(units: list[Unit], items: list[Item], renderer: Renderer,
                    taken: set[int]) -> None:  # fmt: skip
    """Prepend to every unit the plain layer before it while those layers are alike."""
    while len(units) > 1:
        before = [u.start - 1 for u in units]
        if any(i < 0 or i in taken or isinstance(items[i], Region) for i in before):
            return
        if len({_signature(template(renderer, [items[i]])[0]) for i in before}) != 1:
            return
        for u, i in zip(units, before, strict=True):
            u.start, u.items = i, [items[i], *u.items]
            taken.add(i)


def parameterise(units: list[Unit]) -> tuple[list[str], list[str], dict[str, int]]:
    """Slots (expression per number position), param names and trailing defaults.

    A number that is equal in every instance stays a literal; one that always
    equals, or is a fixed multiple of, an earlier parameter is written as that
    expression (ResNet's `{4*width}`); every other one is a new parameter."""
    columns = list(zip(*[[v for v, _ in u.numbers] for u in units], strict=True))
    roles = [role for _, role in units[0].numbers]
    owners: list[tuple[int, str]] = []  # (column, placeholder)
    slots: list[str] = []
    for col, values in enumerate(columns):
        if len(set(values)) == 1:
            slots.append(str(values[0]))
            continue
        slot = _derived(values, columns, owners)
        if slot is None:
            slot = f"\x01{len(owners)}\x01"
            owners.append((col, slot))
        slots.append(slot)
    names = _param_names([(p, roles[c]) for c, p in owners])
    slots = [_rename(s, names) for s in slots]
    params = [names[p] for _, p in owners]
    strides = [names[p] for c, p in owners if roles[c] == "stride"]
    defaults = _trailing_defaults(params, [columns[c] for c, _ in owners], strides)
    return slots, params, defaults


def _derived(values: tuple[int, ...], columns: list[tuple[int, ...]],
             owners: list[tuple[int, str]]) -> str | None:  # fmt: skip
    for col, name in owners:
        base = columns[col]
        if base == values:
            return name
        if all(b and v % b == 0 for b, v in zip(base, values, strict=True)):
            ratios = {v // b for b, v in zip(base, values, strict=True)}
            if len(ratios) == 1:
                return f"{{{ratios.pop()}*{name}}}"
    return None


def _param_names(params: list[tuple[str, str]]) -> dict[str, str]:
    """`width`/`stride` when there is one of a kind, else `w1, w2, …`/`s1, …`."""
    by_role: dict[str, list[str]] = defaultdict(list)
    for placeholder, role in params:
        by_role[role].append(placeholder)
    out = {}
    for role, ps in by_role.items():
        base, short = ("width", "w") if role == "out" else ("stride", "s")
        for k, p in enumerate(ps, 1):
            out[p] = base if len(ps) == 1 else f"{short}{k}"
    return out


def _rename(slot: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        slot = slot.replace(old, new)
    return slot


def _trailing_defaults(
    params: list[str], columns: list[tuple[int, ...]], eligible: list[str]
) -> dict[str, int]:
    """Defaults for trailing stride parameters that mostly take one value."""
    defaults: dict[str, int] = {}
    for name, values in reversed(list(zip(params, columns, strict=True))):
        value, count = Counter(values).most_common(1)[0]
        if name not in eligible or count * 2 <= len(values):
            break
        defaults[name] = value
    return dict(reversed(list(defaults.items())))


def fill(body: Any, slots: list[str]) -> Any:
    """The body with each placeholder replaced by its slot (`{width}`, `{4*width}`, 3)."""
    if isinstance(body, str):

        def sub(m: re.Match[str]) -> str:
            slot = slots[int(m.group(1))]
            return slot if slot.startswith("{") or slot.isdigit() else f"{{{slot}}}"

        return tidy(re.sub(r"\0(\d+)\0", sub, body))  # fmt: skip
    if isinstance(body, list):
        return [fill(v, slots) for v in body]
    return {k: fill(v, slots) for k, v in body.items()}
