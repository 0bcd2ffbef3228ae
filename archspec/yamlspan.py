"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives each node a start mark; we turn the node tree into
`YMap` / `YList` / `YScalar` values that keep a `Span`, so errors found much
later (a shape mismatch deep in a block) still point at the right line. Only
the safe constructors are used: no tags, no Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .errors import Span, SpecSyntaxError

# Aliases let a small file expand into a huge tree ("billion laughs"); a real
# architecture spec has a few hundred nodes.
MAX_NODES = 200_000
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


@dataclass(frozen=True, slots=True)
class YScalar:
    value: Any
    span: Span
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class YList:
    items: tuple[YNode, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class YMap:
    entries: tuple[tuple[YScalar, YNode], ...]
    span: Span

    def get(self, key: str) -> YNode | None:
        for k, v in self.entries:
            if k.value == key:
                return v
        return None

    def keys(self) -> list[str]:
        return [str(k.value) for k, _ in self.entries]


YNode = YScalar | YList | YMap


def load_yaml(text: str, filename: str) -> YNode:
    lines = text.splitlines()
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = _span(filename, lines, mark.line, mark.column) if mark else Span(filename, 1, 1)
        message = f"invalid YAML: {exc.problem or exc.context}"
        if "'{'" in message or "'}'" in message:
            message += (
                " (inside a `[…]` list YAML reads `{` as a mapping: write the"
                " layers as a comma-separated string or a `- item` list)"
            )
        raise SpecSyntaxError(message, span) from None
    except yaml.YAMLError as exc:
        raise SpecSyntaxError(f"invalid YAML: {exc}", Span(filename, 1, 1)) from None
    if root is None:
        raise SpecSyntaxError("the spec is empty", Span(filename, 1, 1))
    return _Converter(filename, lines).convert(root)


# libyaml's composer (PyYAML's C binding) is ~10× faster and its nodes keep
# line/column marks, all we read. Its error messages differ slightly, so a
# document it rejects is composed again by the pure-Python loader, whose
# error is the one reported.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _span(filename: str, lines: list[str], line0: int, col0: int, length: int = 1) -> Span:
    text = lines[line0] if 0 <= line0 < len(lines) else ""
    return Span(filename, line0 + 1, col0 + 1, length, text)


class _Converter:
    def __init__(self, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node) -> YNode:
        self.count += 1
        span = self._node_span(node)
        if self.count > MAX_NODES:
            raise SpecSyntaxError(f"spec expands to more than {MAX_NODES} YAML nodes", span)
        if node.tag not in PLAIN_TAGS:
            raise SpecSyntaxError(f"YAML tags such as `{node.tag}` are not allowed in a spec", span)
        if isinstance(node, yaml.ScalarNode):
            try:
                value = self.constructor.construct_object(node)
            except yaml.YAMLError as exc:
                raise SpecSyntaxError(f"invalid YAML value: {exc}", span) from None
            if not isinstance(value, str | int | float | bool | type(None)):
                value = node.value  # dates and the like stay text
            quoted = node.style in ("'", '"')
            if quoted:
                span = span.shifted(1, span.length)
            return YScalar(value, span, quoted)
        if isinstance(node, yaml.SequenceNode):
            return YList(tuple(self.convert(item) for item in node.value), span)
        if isinstance(node, yaml.MappingNode):
            entries = []
            seen: dict[str, Span] = {}
            for key_node, value_node in node.value:
                key = self.convert(key_node)
                if not isinstance(key, YScalar):
                    raise SpecSyntaxError("a mapping key must be a plain name", key.span)
                name = str(key.value)
                if name in seen:
                    raise SpecSyntaxError(
                        f"duplicate key `{name}` (first at line {seen[name].line})", key.span
                    )
                seen[name] = key.span
                entries.append((key, self.convert(value_node)))
            return YMap(tuple(entries), span)
        raise SpecSyntaxError("unsupported YAML node", span)

    def _node_span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        length = end.column - start.column if end.line == start.line else 1
        return _span(self.filename, self.lines, start.line, start.column, max(length, 1))
