"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives each node a start mark; we turn the node tree into
`YMap` / `YList` / `YScalar` values that keep a `Span`, so errors found much
later (a shape mismatch deep in a block) still point at the right line. Only
the safe constructors are used: no tags, no Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import Span, SpecSyntaxError, printable
from .limits import MAX_SPEC_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES

# Aliases let a small file expand into a huge tree ("billion laughs"); a real
# architecture spec has a few hundred nodes.
MAX_NODES = MAX_YAML_NODES
# Characters a spec may not hold: C0/C1 controls but tab and line breaks, DEL,
# lone surrogates, and the invisible format characters that can make text read
# differently from what it is (zero-width and bidirectional controls).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
                       "\u200b-\u200f\u202a-\u202e\u2066-\u2069]")  # fmt: skip
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


def decode_spec(data: bytes, filename: str) -> str:
    """A spec file's text. archspec reads UTF-8 (a leading byte-order mark is
    dropped); anything else is one error naming the file and line."""
    if len(data) > MAX_SPEC_BYTES:
        message = f"the spec is {len(data):,} bytes; the limit is {MAX_SPEC_BYTES:,}"
        raise SpecSyntaxError(message, Span(filename, 1, 1))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecSyntaxError(
            "the spec is UTF-16; archspec reads UTF-8: save it as UTF-8", Span(filename, 1, 1)
        )
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecSyntaxError(
            f"the spec is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            Span(filename, line, col),
        ) from None


def check_text(text: str, filename: str) -> str:
    """The text, if it holds nothing but printable characters, tabs and line
    breaks; a control character, a NUL or a lone surrogate is a located error."""
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_SPEC_BYTES:
        raise SpecSyntaxError(f"the spec is longer than {MAX_SPEC_BYTES:,} characters",
                              Span(filename, 1, 1))  # fmt: skip
    found = FORBIDDEN.search(text)
    if found:
        index = found.start()
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        raise SpecSyntaxError(
            f"the spec holds the control character {printable(found.group())}",
            Span(filename, line, col),
        )
    return text


def _check_nesting(text: str, filename: str, lines: list[str]) -> None:
    """Refuse nesting deeper than MAX_YAML_DEPTH before composing: PyYAML
    composes recursively, and a 20,000-deep `[[[…]]]` would exhaust the stack.
    The scanner is iterative, so counting its tokens is safe."""
    depth = 0
    opening = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken,
               yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)  # fmt: skip
    closing = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)
    for token in yaml.scan(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(token, opening):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                mark = token.start_mark
                raise SpecSyntaxError(
                    f"the spec nests lists and mappings more than {MAX_YAML_DEPTH} deep",
                    _span(filename, lines, mark.line, mark.column),
                )
        elif isinstance(token, closing):
            depth -= 1


def load_yaml(text: str, filename: str) -> YNode:
    text = check_text(text, filename)
    lines = text.splitlines()
    try:
        _check_nesting(text, filename, lines)  # before composing: libyaml recurses too
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
        self.open: set[int] = set()  # nodes being converted: an alias of one is a cycle

    def convert(self, node: yaml.Node) -> YNode:
        self.count += 1
        span = self._node_span(node)
        if self.count > MAX_NODES:
            raise SpecSyntaxError(f"spec expands to more than {MAX_NODES} YAML nodes", span)
        if id(node) in self.open:
            raise SpecSyntaxError("a YAML alias refers to a node that contains it", span)
        self.open.add(id(node))
        try:
            return self._convert(node, span)
        finally:
            self.open.discard(id(node))

    def _convert(self, node: yaml.Node, span: Span) -> YNode:
        if node.tag not in PLAIN_TAGS:
            raise SpecSyntaxError(f"YAML tags such as `{node.tag}` are not allowed in a spec", span)
        if isinstance(node, yaml.ScalarNode):
            try:
                value = self.constructor.construct_object(node)
            except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
                shown = printable(node.value[:40] + ("…" if len(node.value) > 40 else ""))
                kind = node.tag.rsplit(":", 1)[-1]
                raise SpecSyntaxError(f"`{shown}` is not a valid YAML {kind}", span) from None
            if not isinstance(value, str | int | float | bool | type(None)):
                value = node.value  # dates and the like stay text
            # a quoted "\x1b" or "\0" escape makes one even where the text has none
            found = FORBIDDEN.search(value) if isinstance(value, str) else None
            if found:
                char = printable(found.group())
                raise SpecSyntaxError(f"a value holds the control character {char}", span)
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
