"""Errors and warnings that point at the spec text they are about.

Every error archspec reports derives from `ArchSpecError`. A problem with a
spec carries a `Span` (file, line, column); a problem outside it is a
`ToolError`. The CLI prints them as ``file:line:col: message`` followed by the
offending line and a caret, the way compilers do, and never as a traceback.
A `Diagnostics` object collects all of them so one run reports every mistake.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .limits import MAX_ERRORS, MAX_SUGGESTION_CANDIDATES


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a spec file: 1-based line and column, `length` characters wide."""

    file: str
    line: int
    col: int
    length: int = 1
    source_line: str = field(default="", compare=False, repr=False)

    def shifted(self, offset: int, length: int = 1) -> Span:
        """The span `offset` characters further along the same line."""
        return Span(self.file, self.line, self.col + offset, max(length, 1), self.source_line)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN_SPAN = Span("<spec>", 1, 1)


class ArchSpecError(Exception):
    """Base of every error archspec reports about a spec."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span or UNKNOWN_SPAN

    def format(self) -> str:
        """`file:line:col: message`, then the line and a caret under the culprit;
        spec text in it is shown with control characters escaped."""
        head = printable(f"{self.span}: {self.kind}: {self.message}")
        text = printable(self.span.source_line)
        if not text:
            return head
        gutter = f"{self.span.line:>5} | "
        caret = " " * (len(gutter) - 2) + "| " + " " * (self.span.col - 1)
        caret += "^" * max(1, min(self.span.length, len(text) - self.span.col + 1))
        return f"{head}\n{gutter}{text}\n{caret}"

    def __str__(self) -> str:
        return printable(f"{self.span}: {self.message}")


def printable(text: str) -> str:
    """`text` safe to print on a terminal: every character that is not
    printable (an escape sequence, a NUL, a lone surrogate) is shown as its
    Python escape (`\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


class SpecSyntaxError(ArchSpecError):
    """The YAML or a layer expression does not parse."""


class SpecNameError(ArchSpecError):
    """An unknown op, block, parameter, variant or tensor name."""


class SpecValueError(ArchSpecError):
    """An argument of the wrong type or out of range."""


class ShapeError(ArchSpecError):
    """Shapes that do not fit: concat of different sizes, kernel larger than input, …"""


class ToolError(ArchSpecError):
    """A problem outside the spec (no Graphviz, an unwritable file, a bad
    command-line value): one line, no location."""

    def format(self) -> str:
        return printable(self.message)

    def __str__(self) -> str:
        return printable(self.message)


class SpecWarning(ArchSpecError):
    """Not fatal: reported by `archspec check` and in summaries."""

    kind = "warning"


class SpecErrors(ArchSpecError):
    """Several errors found in one file; raised once all of them are collected."""

    def __init__(self, errors: list[ArchSpecError], dropped: int = 0) -> None:
        first = errors[0]
        super().__init__(first.message, first.span)
        self.errors = errors
        self.dropped = dropped

    def format(self) -> str:
        body = "\n".join(error.format() for error in self.errors)
        count = len(self.errors) + self.dropped
        more = f" ({self.dropped} not shown)" if self.dropped else ""
        return f"{body}\n{count} error{'s' if count != 1 else ''} found{more}"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """' — did you mean `x`?' when a close candidate exists, else ''. Close means
    a typo away: one edit (a swap counts as one) in a short name, two in a
    longer one — `hardswish` is not a misspelt `swish`."""
    if len(name) > 100:
        return ""
    close = closest(name, candidates)
    return f" — did you mean `{printable(close)}`?" if close else ""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate fewest typos away from `name`, if it is close enough."""
    folded = name.lower()
    limit = 1 if len(name) <= 5 else 2
    best: tuple[int, float, str] | None = None
    # only names of about the same length can be a typo or two away; a spec
    # with 20,000 names must not make each error cost seconds
    near = sorted({c for c in candidates if abs(len(c) - len(name)) <= 2})
    for candidate in near[:MAX_SUGGESTION_CANDIDATES]:
        distance = _typos(folded, candidate.lower())
        if distance > limit or distance >= len(candidate):
            continue
        ratio = difflib.SequenceMatcher(None, folded, candidate.lower()).ratio()
        key = (distance, -ratio, candidate)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def _typos(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions
    and swaps of neighbours."""
    if abs(len(a) - len(b)) > 2:
        return 3
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


class Diagnostics:
    """Collects errors and warnings while a spec is processed."""

    def __init__(self) -> None:
        self.errors: list[ArchSpecError] = []
        self.warnings: list[SpecWarning] = []
        self.seen: set[tuple[str, str, Span]] = set()  # (kind, message, span): a set, not a scan
        self.dropped = 0

    def error(self, error: ArchSpecError) -> None:
        if self._first_time(error):
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(error)
            else:
                self.dropped += 1

    def warn(self, message: str, span: Span | None) -> None:
        warning = SpecWarning(message, span)
        if self._first_time(warning) and len(self.warnings) < MAX_ERRORS:
            self.warnings.append(warning)

    def _first_time(self, error: ArchSpecError) -> bool:
        key = (error.kind, error.message, error.span)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def raise_if_any(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda e: (e.span.file, e.span.line, e.span.col))
            raise SpecErrors(self.errors, self.dropped)
