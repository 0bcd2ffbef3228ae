"""Every block kind, each declared once in its own module (see `base.py`).

`KINDS` is the registry the elaborator, the diagram and the torch backends
read; `COMBINATORS` maps each spec key (`concat:`, `residual:`, …) to its kind
and `SYNTAX` tells the parser how each is written.
"""

from __future__ import annotations

from .base import Context, Endpoint, Flow, Kind, Pen, Syntax, assemble
from .dense import Dense
from .graph import Graph
from .parallel import Concat, Mean
from .residual import Residual
from .scale import Scale
from .seq import Seq, seq_notation

KINDS: tuple[type[Kind], ...] = (Seq, Concat, Mean, Residual, Dense, Scale, Graph)
COMBINATORS: dict[str, type[Kind]] = {
    kind.SYNTAX.key: kind for kind in KINDS if kind.SYNTAX is not None
}
SYNTAX: dict[str, Syntax] = {
    kind.SYNTAX.key: kind.SYNTAX for kind in KINDS if kind.SYNTAX is not None
}

__all__ = [
    "COMBINATORS",
    "KINDS",
    "SYNTAX",
    "Concat",
    "Context",
    "Dense",
    "Endpoint",
    "Flow",
    "Graph",
    "Kind",
    "Mean",
    "Pen",
    "Residual",
    "Scale",
    "Seq",
    "Syntax",
    "assemble",
    "seq_notation",
]
