"""Elaboration: `ast.Spec` → the IR, every shape and cost inferred.

    scope.py   the chosen variant, file constants and per-op defaults
    walker.py  the walk over entries (sequences, repeats, conditionals)
    calls.py   calls of spec blocks: binding arguments, expanding bodies
    graphs.py  layer lists with named wires
    layers.py  one op application → one IR layer
    values.py  evaluating expressions into the values the walk needs

Combinators elaborate themselves (archspec/blocks/) through the walker.
"""

from .scope import chosen_variant, network_name
from .walker import elaborate

__all__ = ["chosen_variant", "elaborate", "network_name"]
