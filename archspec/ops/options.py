"""Typed options: each kind of option value is a class that checks (and
normalises) what a spec wrote for it, so an op's option table says both what
an option is and how it is read.

`kind`, `default`, `choices` and `doc` are what the README's op table and the
reports read; `check(key, value)` is what configuration calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import SpecValueError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Option:
    """An option that takes any value as written (the base of the typed ones)."""

    default: Any = None
    doc: str = ""

    kind: ClassVar[str] = "any"

    @property
    def choices(self) -> tuple[str, ...]:
        return ()

    def check(self, key: str, value: Any) -> Any:
        """The value normalised, or a `SpecValueError` naming `key`; None means unset."""
        return None if value is None else self.checked(key, value)

    def checked(self, key: str, value: Any) -> Any:
        return value


@dataclass(frozen=True, slots=True)
class IntOption(Option):
    kind: ClassVar[str] = "int"

    def checked(self, key: str, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            raise SpecValueError(f"`{key}` must be an integer, got `{value}`")
        return value


@dataclass(frozen=True, slots=True)
class FloatOption(Option):
    kind: ClassVar[str] = "float"

    def checked(self, key: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecValueError(f"`{key}` must be a number, got `{value}`")
        return float(value)


@dataclass(frozen=True, slots=True)
class BoolOption(Option):
    kind: ClassVar[str] = "bool"

    def checked(self, key: str, value: Any) -> Any:
        if value in (True, False, 0, 1, "true", "false", "yes", "no"):
            return value in (True, 1, "true", "yes")
        raise SpecValueError(f"`{key}` must be true or false, got `{value}`")


@dataclass(frozen=True, slots=True, init=False)
class Choice(Option):
    """One of a few words: `Choice("post", ("post", "pre"), doc=…)`."""

    options: tuple[str, ...] = ()

    kind: ClassVar[str] = "choice"

    def __init__(self, default: Any, choices: tuple[str, ...], doc: str = "") -> None:
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "doc", doc)
        object.__setattr__(self, "options", tuple(choices))

    @property
    def choices(self) -> tuple[str, ...]:
        return self.options

    def checked(self, key: str, value: Any) -> Any:
        if value not in self.options:
            raise SpecValueError(f"`{key}` must be one of {', '.join(self.options)}, got `{value}`")
        return value


@dataclass(frozen=True, slots=True)
class Ints(Option):
    """A size, one number or [h, w]."""

    kind: ClassVar[str] = "ints"

    def checked(self, key: str, value: Any) -> Any:
        if _is_int(value):
            return value
        if isinstance(value, list | tuple) and len(value) == 2 and all(_is_int(v) for v in value):
            return tuple(value)
        raise SpecValueError(f"`{key}` is a size or [h, w], got `{value}`")


@dataclass(frozen=True, slots=True)
class Table(Option):
    """LeNet-5's connection table: for each output map, its input maps."""

    kind: ClassVar[str] = "table"

    def checked(self, key: str, value: Any) -> Any:
        if (
            isinstance(value, list)
            and value
            and all(isinstance(row, list) and all(_is_int(i) for i in row) for row in value)
        ):
            return tuple(tuple(row) for row in value)
        raise SpecValueError(f"`{key}` is a list of lists of input map numbers")


@dataclass(frozen=True, slots=True)
class Sides(Option):
    """Padding of each side, [left, right, top, bottom]."""

    kind: ClassVar[str] = "sides"

    def checked(self, key: str, value: Any) -> Any:
        # a tuple is the default, (0, 0, 0, 0): a bare `pad` pads nothing
        if isinstance(value, list | tuple) and len(value) == 4 and all(_is_int(v) for v in value):
            return tuple(value)
        raise SpecValueError(f"`{key}` is [left, right, top, bottom], got `{value}`")


@dataclass(frozen=True, slots=True)
class Padding(Option):
    """A conv's or pool's padding: same, valid, a size ≥ 0 or [h, w]."""

    kind: ClassVar[str] = "pad"

    def checked(self, key: str, value: Any) -> Any:
        if value in ("same", "valid"):
            return value
        if _is_int(value) and value >= 0:
            return value
        if (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(_is_int(v) and v >= 0 for v in value)
        ):
            return tuple(value)
        raise SpecValueError(f"`{key}` is same, valid, a size ≥ 0 or [h, w], got `{value}`")
