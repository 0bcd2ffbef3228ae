"""The `defaults:` of an imported spec, chosen by majority over the graph so
that most layers need no options: each op's layers then leave out whatever
their defaults say (`Op.spell` with the op's entry).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..ops import pad_mode, spec_literal
from .graph import LayerGraph

# op name → its option values as `defaults:` writes them ({"conv": {"pad": "same"}})
SpecDefaults = dict[str, dict[str, Any]]


def choose_defaults(graph: LayerGraph) -> SpecDefaults:
    """The options most conv, FC and pool layers share, per op (ops with none left out)."""
    attrs = {op: [n.attrs for n in graph.nodes.values() if n.op == op]
             for op in ("conv", "fc", "maxpool", "avgpool")}  # fmt: skip
    chosen: SpecDefaults = {"conv": _conv_defaults(attrs["conv"])}
    act = _majority(a["act"] for a in attrs["fc"])
    chosen["fc"] = {"act": act} if act else {}
    for op in ("maxpool", "avgpool"):
        ceil = _majority(a["round"] == "ceil" for a in attrs[op])
        chosen[op] = {"round": "ceil"} if ceil else {}
    return {op: values for op, values in chosen.items() if values}


def _majority(values: Any) -> Any:
    """The most common value (the first seen among equals); None where there is none."""
    counts = Counter(values)
    return counts.most_common(1)[0][0] if counts else None


def _conv_defaults(convs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    modes = [pad_mode(a["padding"], a["kernel"], a["dilation"]) for a in convs]
    if _majority(m for m in modes if m is not None) == "same":
        out["pad"] = "same"
    if _majority(a["bn"] for a in convs):
        out["bn"] = True
        eps = _majority(a["eps"] for a in convs if a["bn"])
        if eps != 1e-5:
            out["eps"] = eps
    act = _majority(a["act"] for a in convs)
    if act:
        out["act"] = act
    return out


def defaults_yaml(defaults: SpecDefaults) -> list[str]:
    """The `defaults:` section's lines (none where nothing is chosen)."""
    lines = [
        f"  {op}: {{{', '.join(f'{k}: {spec_literal(v)}' for k, v in values.items())}}}"
        for op, values in defaults.items()
    ]
    return ["defaults:", *lines] if lines else []
