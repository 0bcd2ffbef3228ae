"""Caffe's text format (prototxt), read with a small Lark grammar — no protobuf.

Caffe files are protobuf *text format*: `key: value` fields and `key { … }`
messages, `#` comments, quoted strings, numbers and bare enum words. The
importer needs only that structure plus where each value was written, so every
error it reports can point at `file:line:col`. The input is untrusted: bytes
that are not UTF-8 text, NULs, unbalanced braces and an empty file are all
located `SpecSyntaxError`s, never exceptions of another kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import Span, SpecSyntaxError

GRAMMAR = r"""
start: _item*
_item: field | message
field: NAME ":" _value ";"?
message: NAME ":"? "{" _item* "}" ";"?
_value: STRING | NUMBER | NAME
NAME: /[A-Za-z_][A-Za-z0-9_.]*/
NUMBER: /[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|nan)\b/i
STRING: /"(\\.|[^"\\\n])*"/ | /'(\\.|[^'\\\n])*'/
COMMENT: /#[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True)

Value = Union[str, int, float, "Message"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One `key: value` or `key { … }` with the span of its key and of its value."""

    key: str
    value: Value
    span: Span
    value_span: Span
    quoted: bool = False


@dataclass(slots=True)
class Message:
    """A `{ … }` body (or the whole file): its entries in file order."""

    entries: list[Entry] = field(default_factory=list)
    span: Span | None = None

    def all(self, key: str) -> list[Entry]:
        return [e for e in self.entries if e.key == key]

    def first(self, key: str) -> Entry | None:
        found = self.all(key)
        return found[0] if found else None

    def get(self, key: str, default: Value | None = None) -> Value | None:
        entry = self.first(key)
        return default if entry is None else entry.value

    def message(self, key: str) -> Message:
        """The sub-message `key { … }`, or an empty one (Caffe's defaults apply)."""
        value = self.get(key)
        return value if isinstance(value, Message) else Message()


def decode(data: bytes, filename: str) -> str:
    """The file as text, refusing binary data with the place it starts."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecSyntaxError(
            "not a text file: invalid UTF-8 (is this a binary .caffemodel?)",
            _span_at(data[: exc.start].decode("utf-8", "replace"), filename),
        ) from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise SpecSyntaxError(
            "not a text file: a control character", _span_at(text[: bad.start()], filename, text)
        )
    return text


def parse(text: str, filename: str) -> Message:
    """The file's top-level message. Raises a located `SpecSyntaxError`."""
    lines = text.splitlines()
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in lines):
        raise SpecSyntaxError("empty file: no network definition", Span(filename, 1, 1))
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    return _message(tree, lines, filename)


def _syntax_error(exc: UnexpectedInput, text: str, filename: str) -> SpecSyntaxError:
    lines = text.splitlines()
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        line = max(1, len(lines))
        col = len(lines[-1]) + 1 if lines else 1
        return SpecSyntaxError(
            "unexpected end of file: a `{` is never closed (truncated file?)",
            _span(filename, lines, line, col),
        )
    line, col = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "?"
        message = f"unexpected character `{char}`"
    else:
        token = exc.token  # type: ignore[attr-defined]
        message = f"unexpected `{token}`" if str(token) == "}" else f"unexpected `{token}` here"
        if str(token) == "}":
            message += ": no `{` is open"
    return SpecSyntaxError(message, _span(filename, lines, line, col))


def _span(filename: str, lines: list[str], line: int, col: int, length: int = 1) -> Span:
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return Span(filename, line, col, length, source)


def _span_at(prefix: str, filename: str, text: str = "") -> Span:
    """The span just after `prefix` (the text before the offending byte)."""
    line = prefix.count("\n") + 1
    col = len(prefix) - (prefix.rfind("\n") + 1) + 1
    source = text.splitlines()[line - 1] if text and line <= len(text.splitlines()) else ""
    return Span(filename, line, col, 1, source.replace("\0", " "))


def _message(tree: Tree, lines: list[str], filename: str) -> Message:
    out = Message()
    for child in tree.children:
        assert isinstance(child, Tree)
        name = child.children[0]
        assert isinstance(name, Token)
        span = _span(filename, lines, name.line or 1, name.column or 1, len(name))
        if child.data == "message":
            body = Tree("start", child.children[1:])
            sub = _message(body, lines, filename)
            sub.span = span
            out.entries.append(Entry(str(name), sub, span, span))
            continue
        token = child.children[1]
        assert isinstance(token, Token)
        vspan = _span(filename, lines, token.line or 1, token.column or 1, len(token))
        value, quoted = _scalar(token)
        out.entries.append(Entry(str(name), value, span, vspan, quoted))
    return out


def _scalar(token: Token) -> tuple[Value, bool]:
    text = str(token)
    if token.type == "STRING":
        return re.sub(r"\\(.)", r"\1", text[1:-1]), True
    if token.type == "NUMBER":
        try:
            return int(text), False
        except ValueError:
            return float(text), False
    return text, False
