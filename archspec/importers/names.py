"""Spec names from the source's layer and class names, which are untrusted.

Untrusted strings reach the YAML only through `identifier()`, which keeps
`[A-Za-z0-9_]`, so they cannot inject YAML or expressions.
"""

from __future__ import annotations

import keyword
import re


def identifier(text: str, fallback: str = "layer") -> str:
    """A safe archspec name from an untrusted string: only [A-Za-z0-9_]."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if keyword.iskeyword(name) or name in ("in", "i"):
        name += "_"
    return name[:60]


def common_prefix(names: list[str]) -> str:
    """The longest common prefix that ends at a separator (or a whole name)."""
    if not names:
        return ""
    prefix = shared_start(names)
    n = len(prefix)
    if all(len(s) == n or not s[n].isalnum() for s in names):
        return prefix.rstrip("_/.-")
    cut = max(prefix.rfind(c) for c in "_/.-")
    return prefix[:cut] if cut > 0 else ""


def shared_start(names: list[str]) -> str:
    """The longest common prefix, wherever it ends."""
    first, last = min(names, default=""), max(names, default="")
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def stem(name: str) -> str:
    """`res2a` → `res2`, `layer1_0` → `layer1`, `inception_3a` → `inception_3`."""
    m = re.fullmatch(r"(.*?[A-Za-z0-9])_?(?:[A-Za-z]|\d+)", name)
    return m.group(1) if m else ""


def snake(text: str) -> str:
    """A class name as a block name: `BasicBlock` → `basic_block`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower().strip("_")
