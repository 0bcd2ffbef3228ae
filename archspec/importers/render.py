"""The imported graph's layers and regions as spec text.

`render_node` writes one layer in the spec's notation (`conv3/2-64 (act=none)`),
leaving out whatever `Defaults` — chosen by majority over the graph — already
says; `Renderer` turns items (layers and regions) into YAML values, and `dump`
lays those out as block-style YAML lines. Numbers that folding may turn into
parameters (widths, strides) pass through a `Num` callback.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .graph import GNode, Graph
from .structure import Item, Region

Num = Callable[[int, str], str]  # (value, role: "out" | "stride") → its text


def plain(value: int, role: str) -> str:
    return str(value)


@dataclass
class Defaults:
    """Per-op defaults chosen by majority, so most layers need no options."""

    conv: dict[str, Any] = field(default_factory=dict)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    fc: dict[str, Any] = field(default_factory=dict)

    def yaml(self) -> list[str]:
        out = []
        for op, values in (("conv", self.conv), ("fc", self.fc), *self.pools.items()):
            if values:
                body = ", ".join(f"{k}: {literal(v)}" for k, v in values.items())
                out.append(f"  {op}: {{{body}}}")
        return ["defaults:", *out] if out else []


def choose_defaults(graph: Graph) -> Defaults:
    d = Defaults()
    d.conv = _conv_defaults([n.attrs for n in graph.nodes.values() if n.op == "conv"])
    fcs = Counter(n.attrs["act"] for n in graph.nodes.values() if n.op == "fc")
    if fcs and fcs.most_common(1)[0][0]:
        d.fc["act"] = fcs.most_common(1)[0][0]
    for op in ("maxpool", "avgpool"):
        ceil = Counter(n.attrs["ceil"] for n in graph.nodes.values() if n.op == op)
        if ceil and ceil.most_common(1)[0][0]:
            d.pools[op] = {"round": "ceil"}
    return d


def _conv_defaults(convs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    votes = Counter(_pad_mode(a) for a in convs if _pad_mode(a) is not None)
    if votes and votes.most_common(1)[0][0] == "same":
        out["pad"] = "same"
    bn = Counter(bool(a.get("bn")) for a in convs)
    if bn and bn.most_common(1)[0][0]:
        out["bn"] = True
        eps = Counter(a["eps"] for a in convs if a.get("bn")).most_common(1)[0][0]
        if eps != 1e-5:
            out["eps"] = eps
    act = Counter(a["act"] for a in convs)
    if act and act.most_common(1)[0][0]:
        out["act"] = act.most_common(1)[0][0]
    return out


def _same_padding(a: dict[str, Any]) -> tuple[int, int] | None:
    totals = [a.get("dilation", 1) * (k - 1) for k in a["kernel"]]
    return None if any(t % 2 for t in totals) else (totals[0] // 2, totals[1] // 2)


def _pad_mode(a: dict[str, Any]) -> str | None:
    """How a conv's padding is best described; None where same = valid (1×1)."""
    same = _same_padding(a)
    if same == (0, 0) == a["padding"]:
        return None
    if a["padding"] == same:
        return "same"
    return "valid" if a["padding"] == (0, 0) else "explicit"


def literal(value: Any) -> str:
    """A value as the spec writes it: `true`, `1e-05`, `[1, 2]`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _kernel(k: tuple[int, int]) -> str:
    return str(k[0]) if k[0] == k[1] else f"{k[0]}x{k[1]}"


# ---------------------------------------------------------------- layers


def render_node(node: GNode, d: Defaults, num: Num = plain) -> str:
    """One layer in the spec's notation, its widths and strides through `num`."""
    a = node.attrs
    if node.op in ("conv", "deconv"):
        return _render_conv(node.op, a, d.conv if node.op == "conv" else {}, num)
    if node.op in ("maxpool", "avgpool"):
        return _render_pool(node.op, a, d.pools.get(node.op, {}))
    if node.op == "fc":
        return _render_fc(a, d.fc, num)
    if node.op == "dropout":
        return f"dropout {a['p']:g}"
    if node.op == "lrn":
        return _render_lrn(a)
    if node.op == "bn":
        return "bn" + _options([f"eps={a['eps']!r}"] if a["eps"] != 1e-5 else [])
    return node.op  # gap, gmp, flatten, softmax, identity, activations


def _options(opts: list[str]) -> str:
    return f" ({', '.join(opts)})" if opts else ""


def _act_option(act: str | None, default: str | None) -> list[str]:
    return [] if act == default else [f"act={act or 'none'}"]


def _render_fc(a: dict[str, Any], d: dict[str, Any], num: Num) -> str:
    opts = _act_option(a["act"], d.get("act"))
    if not a["bias"]:
        opts.append("bias=false")
    return f"FC-{num(a['out'], 'out')}" + _options(opts)


def _render_lrn(a: dict[str, Any]) -> str:
    base = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}  # the spec's LRN defaults
    return "LRN" + _options([f"{k}={literal(v)}" for k, v in a.items() if base[k] != v])


def _render_conv(op: str, a: dict[str, Any], d: dict[str, Any], num: Num) -> str:
    out = num(a["out"], "out")  # numbered before the stride: widths lead the params
    stride = num(a["stride"], "stride")
    stride = "" if stride == "1" else f"/{stride}"
    head = f"{op}{_kernel(a['kernel'])}{stride}-{out}"
    opts = _conv_geometry(op, a, d)
    bn = bool(a.get("bn"))
    if bn != bool(d.get("bn")):
        opts.append(f"bn={literal(bn)}")
    if a["bias"] != (not bn):
        opts.append(f"bias={literal(a['bias'])}")
    opts += _act_option(a["act"], d.get("act"))
    if bn and a.get("eps", 1e-5) != d.get("eps", 1e-5):
        opts.append(f"eps={a['eps']!r}")
    if bn and a.get("order") == "pre":
        opts.append("order=pre")
    return head + _options(opts)


def _conv_geometry(op: str, a: dict[str, Any], d: dict[str, Any]) -> list[str]:
    """A conv's padding, dilation, groups and output padding where not the default."""
    opts: list[str] = []
    default_pad = _same_padding(a) if d.get("pad") == "same" else (0, 0)
    if a["padding"] != default_pad:
        mode, pad = _pad_mode(a), a["padding"]
        if mode in ("same", "valid"):
            opts.append(f"pad={mode}")
        else:
            opts.append(f"pad={pad[0] if pad[0] == pad[1] else literal(pad)}")
    for key in ("dilation", "groups"):
        if a.get(key, 1) != 1:
            opts.append(f"{key}={a[key]}")
    if op == "deconv" and a.get("output_padding"):
        opts.append(f"output_padding={a['output_padding']}")
    return opts


def _render_pool(op: str, a: dict[str, Any], d: dict[str, Any]) -> str:
    opts = []
    pad = a["padding"]
    if pad != (0, 0):
        opts.append(f"pad={pad[0] if pad[0] == pad[1] else literal(pad)}")
    if a["ceil"] != (d.get("round") == "ceil"):
        opts.append("ceil" if a["ceil"] else "floor")
    if op == "avgpool" and not a.get("count_pad", True):
        opts.append("count_pad=false")
    return f"{op}{_kernel(a['kernel'])}/{a['stride']}" + _options(opts)


_STRIDE1 = re.compile(r"\b((?:de)?conv\d+(?:x\d+)?)/1-")


def tidy(text: str) -> str:
    """`conv3/1-64` → `conv3-64`."""
    return _STRIDE1.sub(r"\1-", text)


# ---------------------------------------------------------------- YAML values of items


class Renderer:
    """Items → YAML values (strings, lists, one-key dicts), numbers via `num`.

    `projection_ok` says whether a residual's shortcut is the one `shortcut:
    auto` makes, so it need not be written."""

    def __init__(self, graph: Graph, defaults: Defaults, projection_ok: Callable[[Region], bool]):
        self.g = graph
        self.d = defaults
        self.projection_ok = projection_ok

    def item(self, item: Item, num: Num) -> Any:
        if isinstance(item, int):
            return render_node(self.g.nodes[item], self.d, num)
        return self.region(item, num)

    def seq(self, items: list[Item], num: Num) -> Any:
        """A branch: one comma-joined string when it has no nested region."""
        if not items:
            return "identity"
        values = [self.item(i, num) for i in items]
        if all(isinstance(v, str) for v in values):
            return ", ".join(values)
        return values

    def region(self, r: Region, num: Num) -> dict[str, Any]:
        if r.kind == "concat":
            return {"concat": [self.seq(b, num) for b in r.branches]}
        body: dict[str, Any] = {"residual": self.seq(r.branches[0], num)}
        if not self.projection_ok(r):
            body["shortcut"] = self.seq(r.shortcut or [], num)
        if r.then is not None:
            body["then"] = self.g.nodes[r.then].op
        return body


def dump(value: Any, indent: int) -> list[str]:
    """A YAML value as block-style lines at `indent` (flow lists for short ones)."""
    pad = " " * indent
    if isinstance(value, str):
        return [pad + value]
    if isinstance(value, list):
        if all(isinstance(v, str) and "," not in v and "{" not in v for v in value):
            return [pad + "[" + ", ".join(value) + "]"]
        lines = []
        for v in value:
            sub = dump(v, indent + 2)
            lines.append(pad + "- " + sub[0].lstrip())
            lines += sub[1:]
        return lines
    lines = []
    for key, v in value.items():
        sub = dump(v, indent + 2)
        if len(sub) == 1 and not isinstance(v, dict):
            lines.append(f"{pad}{key}: {sub[0].lstrip()}")
        else:
            lines.append(f"{pad}{key}:")
            lines += sub
    return lines
