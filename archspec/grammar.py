"""The layer-expression parser, built from `layers.lark` without paying for it
on every run.

Building the LALR tables costs ~40 ms, most of what `archspec summary` used to
spend on parsing. Lark keeps the built tables in a cache file it checks
against the grammar and options; ours lives in a per-user cache folder, named
by the grammar's hash so two checkouts with different grammars do not fight
over it. Where no cache can be written the tables are built every run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR_FILE = Path(__file__).resolve().parent / "layers.lark"
START = ("sequence", "expr")

__all__ = [
    "Token",
    "Transformer",
    "Tree",
    "UnexpectedCharacters",
    "UnexpectedEOF",
    "UnexpectedInput",
    "UnexpectedToken",
    "layer_parser",
    "v_args",
]

_parser: Lark | None = None


def grammar_text() -> str:
    return GRAMMAR_FILE.read_text(encoding="utf-8")


def layer_parser() -> Lark:
    """The parser for the layer grammar (built once per process)."""
    global _parser
    if _parser is None:
        _parser = Lark(
            grammar_text(),
            start=list(START),
            parser="lalr",
            propagate_positions=True,
            maybe_placeholders=False,
            cache=_cache_file(),
        )
    return _parser


def _cache_file() -> str | bool:
    """A per-user file for Lark's table cache, or False where none can be made."""
    import lark

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "archspec"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    digest = hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()[:16]
    return str(folder / f"layers-{digest}-lark{lark.__version__}.cache")
