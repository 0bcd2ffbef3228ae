"""Python expressions as small trees, written the way `ruff format` writes
them: on one line where it fits, else one argument per line with a trailing
comma, so generated files are `ruff format`-stable as they come out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .pysource import literal

LINE = 100  # ruff format's limit in this repository


@dataclass
class Code:
    """An expression: `text` when atomic, else `func(args)` (a key of None is
    positional, "**" an unpacked mapping) or a dict comprehension."""

    text: str = ""
    func: str = ""
    args: list[tuple[str | None, Code]] = field(default_factory=list)
    comp: tuple[str, Code, str] | None = None  # (key, value, for-clause)
    choice: tuple[Code, str, Code] | None = None  # (then, test, otherwise)
    brackets: str = ""  # a tuple or list of `args` (a literal)

    def flat(self) -> str:
        if self.choice is not None:
            then, test, otherwise = self.choice
            return f"{then.flat()} if {test} else {otherwise.flat()}"
        if self.brackets:
            inner = ", ".join(v.flat() for _k, v in self.args)
            one = "," if self.brackets == "()" and len(self.args) == 1 else ""
            return f"{self.brackets[0]}{inner}{one}{self.brackets[1]}"
        if self.comp is not None:
            key, value, clause = self.comp
            return f"{{{key}: {value.flat()}{' ' + clause if clause else ''}}}"
        if not self.func:
            return self.text
        inner = ", ".join(_arg(k) + v.flat() for k, v in self.args)
        return f"{self.func}({inner})"


def _arg(key: str | None) -> str:
    return "" if key is None else ("**" if key == "**" else f"{key}=")


def render(code: Code, indent: int, head: str, tail: str) -> list[str]:
    """Lines for `head + code + tail`: one if it fits, else one argument per
    line with a trailing comma (the form ruff format keeps)."""
    pad = " " * indent
    line = f"{pad}{head}{code.flat()}{tail}"
    if len(line) <= LINE or not (code.func or code.comp or code.choice or code.brackets):
        return [line]
    inside = f"{pad}    {code.flat()[1:-1] if code.comp else code.flat()}"
    if (code.choice or code.comp) and len(inside) <= LINE:  # ruff keeps these on one line
        return [
            f"{pad}{head}{'(' if code.choice else '{'}",
            inside,
            f"{pad}{')' if code.choice else '}'}{tail}",
        ]
    if code.choice is not None:
        then, test, otherwise = code.choice
        return [
            f"{pad}{head}(",
            *render(then, indent + 4, "", ""),
            f"{pad}    if {test}",
            *render(otherwise, indent + 4, "else ", ""),
            f"{pad}){tail}",
        ]
    if code.brackets:
        lines = [f"{pad}{head}{code.brackets[0]}"]
        for _key, value in code.args:
            lines += render(value, indent + 4, "", ",")
        return [*lines, f"{pad}{code.brackets[1]}{tail}"]
    if code.comp is not None:
        key, value, clause = code.comp
        return [
            f"{pad}{head}{{",
            *render(value, indent + 4, f"{key}: ", "" if clause else ","),
            *([f"{pad}    {clause}"] if clause else []),
            f"{pad}}}{tail}",
        ]
    lines = [f"{pad}{head}{code.func}("]
    for key, value in code.args:
        lines += render(value, indent + 4, _arg(key), ",")
    return [*lines, f"{pad}){tail}"]


def as_code(text: str, items: list[tuple[dict, Any]]) -> Code:
    """A literal tuple as a tree, so a long one is written one item per line."""
    value = items[0][1]
    if isinstance(value, tuple) and text == literal(value):
        return literal_code(value)
    return Code(text)


def literal_code(value: Any) -> Code:
    if isinstance(value, tuple | list):
        brackets = "()" if isinstance(value, tuple) else "[]"
        return Code(brackets=brackets, args=[(None, literal_code(v)) for v in value])
    return Code(literal(value))
