"""From a flat graph of layers to a short spec: the back half of `archspec import`.

Both importers (Caffe prototxt, PyTorch via torch.fx) build the same small DAG,
`Graph`, of archspec ops with Caffe's or torch's own shapes. This module then
does what a person does when they transcribe a paper's network:

1. **fuse** conv → BN → activation chains (and BN → act → conv, pre-activation)
   into one `conv` with `bn`/`act` options, and FC → act into one `FC`;
2. **structure** the DAG into a series-parallel tree: every fork is closed by
   its immediate post-dominator, a concat (→ `concat:` block) or a two-input
   add (→ `residual:` block, the lighter branch being the shortcut);
3. **fold**: give each top-level region a structural signature with its
   channel counts and strides abstracted into numbers; regions with equal
   signatures share one block whose varying numbers become parameters
   (a number that always equals, or is a fixed multiple of, an earlier one is
   written as that expression), and runs of equal calls become `×N` repeats;
4. **write** the YAML, then load it back and check that parameters, MACs and
   output equal the source's — a spec that disagrees is never returned.

Nothing here is keyed on a network's name: the folding only sees structure.
Untrusted strings (layer names) reach the YAML only through `identifier()`,
which keeps `[A-Za-z0-9_]`, so they cannot inject YAML or expressions.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import Any

from ..errors import ArchSpecError, Span

ACTS = ("relu", "relu6", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu")
WEIGHTED = ("conv", "deconv", "fc")
JOINS = ("concat", "add", "mul")


class ImportError_(ArchSpecError):  # not the builtin ImportError
    """A source the importer cannot translate (unsupported layer, bad wiring)."""


class Unstructured(Exception):
    """The graph is not series-parallel here; carries a message for the user."""


@dataclass
class GNode:
    """One layer of the imported graph: an archspec op with its attributes.

    `shape` is the output as the *source* computes it (C×H×W or C), so the
    spec written later can be checked against it; `hint` is a class name that
    names blocks (torch's `Bottleneck`), empty for Caffe."""

    id: int
    name: str
    op: str
    attrs: dict[str, Any]
    inputs: list[int]
    shape: tuple[int, ...]
    span: Span | None = None
    hint: str = ""


@dataclass
class Graph:
    name: str
    input_shape: tuple[int, ...]
    nodes: dict[int, GNode] = field(default_factory=dict)
    title: str = ""
    names_help: bool = True  # name plain layers after the source (Caffe: yes)

    def add(self, name: str, op: str, attrs: dict[str, Any], inputs: list[int], shape,
            span: Span | None = None, hint: str = "") -> int:  # fmt: skip
        nid = len(self.nodes) and max(self.nodes) + 1
        self.nodes[nid] = GNode(nid, name, op, dict(attrs), list(inputs), tuple(shape), span, hint)
        return nid

    def consumers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n: [] for n in self.nodes}
        for node in self.nodes.values():
            for i in node.inputs:
                if node.id not in out[i]:
                    out[i].append(node.id)
        return out


# ---------------------------------------------------------------- costs


def graph_costs(graph: Graph) -> tuple[int, int]:
    """(params, MACs) of the graph by the usual rules, before any folding."""
    params = macs = 0
    for node in graph.nodes.values():
        p, m = _node_cost(graph, node)
        params, macs = params + p, macs + m
    return params, macs


def _node_cost(graph: Graph, node: GNode) -> tuple[int, int]:
    a = node.attrs
    if node.op in ("conv", "deconv"):
        cin = graph.nodes[node.inputs[0]].shape
        kh, kw = a["kernel"]
        weights = a["out"] * (cin[0] // a["groups"]) * kh * kw
        norm_c = cin[0] if a.get("order") == "pre" else a["out"]
        params = weights + (a["out"] if a["bias"] else 0) + (2 * norm_c if a.get("bn") else 0)
        if node.op == "conv":
            return params, node.shape[1] * node.shape[2] * weights
        return params, _numel(cin) * (a["out"] // a["groups"]) * kh * kw
    if node.op == "fc":
        cin = _numel(graph.nodes[node.inputs[0]].shape)
        return cin * a["out"] + (a["out"] if a["bias"] else 0), cin * a["out"]
    if node.op == "bn":
        return 2 * node.shape[0], 0
    return 0, 0


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


# ---------------------------------------------------------------- fusion


def fuse(graph: Graph) -> None:
    """Fold norm and activation layers into the conv / FC they belong to."""
    for nid in list(graph.nodes):
        node = graph.nodes.get(nid)
        if node is None:
            continue
        if node.op in ("conv", "deconv") and not node.attrs.get("bn") and not node.attrs["act"]:
            _fuse_post(graph, node)
        elif node.op == "bn":
            _fuse_pre(graph, node)
        elif node.op == "fc" and not node.attrs["act"]:
            _absorb_act(graph, node)


def _sole_consumer(graph: Graph, node: GNode) -> GNode | None:
    users = [n for n in graph.nodes.values() if node.id in n.inputs]
    if len(users) != 1 or users[0].inputs != [node.id]:
        return None
    return users[0]


def _remove(graph: Graph, node: GNode, keep: GNode) -> None:
    """Drop a single-input node, its consumers reading `keep` instead."""
    for other in graph.nodes.values():
        other.inputs = [keep.id if i == node.id else i for i in other.inputs]
    del graph.nodes[node.id]
    keep.shape = node.shape


def _fuse_post(graph: Graph, conv: GNode) -> None:
    nxt = _sole_consumer(graph, conv)
    if nxt is not None and nxt.op == "bn":
        conv.attrs.update(bn=True, eps=nxt.attrs.get("eps", 1e-5), order="post")
        _remove(graph, nxt, conv)
    _absorb_act(graph, conv)


def _absorb_act(graph: Graph, node: GNode) -> None:
    nxt = _sole_consumer(graph, node)
    if nxt is not None and nxt.op in ACTS:
        node.attrs["act"] = nxt.op
        _remove(graph, nxt, node)


def _fuse_pre(graph: Graph, bn: GNode) -> None:
    """BN → act → conv becomes one pre-activation conv (DenseNet's layers)."""
    nxt = _sole_consumer(graph, bn)
    act = None
    if nxt is not None and nxt.op in ACTS:
        act, nxt = nxt, _sole_consumer(graph, nxt)
    if nxt is None or nxt.op != "conv" or nxt.attrs.get("bn") or nxt.attrs["act"]:
        return
    nxt.attrs.update(bn=True, eps=bn.attrs.get("eps", 1e-5), order="pre",
                     act=act.op if act else None)  # fmt: skip
    nxt.inputs = list(bn.inputs)
    for gone in (bn, act):
        if gone is not None:
            del graph.nodes[gone.id]


# ---------------------------------------------------------------- structure


@dataclass
class Region:
    """A fork closed by its join: `concat` branches, or a `residual` with its
    shortcut (None: identity) and the activation after the add (`then`)."""

    kind: str
    fork: int
    branches: list[list[Item]]
    join: int
    shortcut: list[Item] | None = None
    then: int | None = None

    @property
    def end(self) -> int:
        return self.then if self.then is not None else self.join


Item = int | Region


class _Structurer:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.succ = graph.consumers()
        self.preds = {n.id: list(dict.fromkeys(n.inputs)) for n in graph.nodes.values()}
        self.ipdom = _immediate_postdominators(graph, self.succ)

    def after(self, cur: int, stop: int | None) -> list[Item]:
        items: list[Item] = []
        while True:
            nexts = self.succ[cur]
            if len(nexts) > 1:
                region = self.region(cur, stop)
                items.append(region)
                cur = region.end
                continue
            if not nexts:
                if stop is not None:
                    raise Unstructured(f"`{self.g.nodes[cur].name}` leaves its branch")
                return items
            nxt = nexts[0]
            if nxt == stop:
                return items
            if len(self.preds[nxt]) != 1:
                raise Unstructured(
                    f"`{self.g.nodes[nxt].name}` joins tensors of unrelated branches"
                )
            items.append(nxt)
            cur = nxt

    def region(self, fork: int, stop: int | None) -> Region:
        join = self.ipdom.get(fork)
        name = self.g.nodes[fork].name
        if join is None or join == stop:
            raise Unstructured(f"the outputs of `{name}` never meet in one join")
        ends: dict[int, list[Item]] = {}
        for start in self.succ[fork]:
            if start == join:
                ends[fork] = []
                continue
            if len(self.preds[start]) != 1:
                raise Unstructured(f"`{self.g.nodes[start].name}` joins unrelated branches")
            items: list[Item] = [start, *self.after(start, join)]
            last = items[-1]
            ends[last.end if isinstance(last, Region) else last] = items
        jnode = self.g.nodes[join]
        if sorted(ends) != sorted(self.preds[join]) or len(jnode.inputs) != len(ends):
            raise Unstructured(f"`{jnode.name}` joins tensors from outside the region of `{name}`")
        branches = [ends[i] for i in jnode.inputs]
        if jnode.op == "concat":
            return Region("concat", fork, branches, join)
        if jnode.op == "add" and len(branches) == 2:
            return self.residual(fork, branches, join)
        raise Unstructured(f"`{jnode.name}` ({jnode.op} of {len(branches)}) has no block form")

    def residual(self, fork: int, branches: list[list[Item]], join: int) -> Region:
        sizes = [_count(b) for b in branches]
        short = 0 if sizes[0] <= sizes[1] else 1
        region = Region("residual", fork, [branches[1 - short]], join, branches[short] or None)
        after = self.succ[join]
        if len(after) == 1 and self.g.nodes[after[0]].op in ACTS and self.preds[after[0]] == [join]:
            region.then = after[0]
        return region


def _count(items: list[Item]) -> int:
    return sum(_count(list(chain(*r.branches))) + 1 if isinstance(r, Region) else 1 for r in items)


def _immediate_postdominators(graph: Graph, succ: dict[int, list[int]]) -> dict[int, int]:
    order = list(graph.nodes)  # ids are in topological order
    position = {n: i for i, n in enumerate(order)}
    pdom: dict[int, frozenset[int]] = {}
    for n in reversed(order):
        outs = succ[n]
        if not outs:
            pdom[n] = frozenset((n,))
        else:
            common = frozenset.intersection(*(pdom[s] for s in outs))
            pdom[n] = common | {n}
    result = {}
    for n, doms in pdom.items():
        strict = doms - {n}
        if strict:
            result[n] = min(strict, key=position.__getitem__)
    return result


def structure(graph: Graph, input_id: int) -> list[Item]:
    """The network as a sequence of nodes and nested regions."""
    sinks = [n for n, users in graph.consumers().items() if not users]
    if len(sinks) != 1:
        names = ", ".join(f"`{graph.nodes[s].name}`" for s in sinks)
        raise Unstructured(f"the network has {len(sinks)} outputs ({names}); one is supported")
    return _Structurer(graph).after(input_id, None)


# ---------------------------------------------------------------- rendering


Num = Callable[[int, str], str]


def _plain(value: int, role: str) -> str:
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
                body = ", ".join(f"{k}: {_literal(v)}" for k, v in values.items())
                out.append(f"  {op}: {{{body}}}")
        return ["defaults:", *out] if out else []


def choose_defaults(graph: Graph) -> Defaults:
    convs = [n.attrs for n in graph.nodes.values() if n.op == "conv"]
    d = Defaults()
    votes = Counter(_pad_mode(a) for a in convs if _pad_mode(a) is not None)
    if votes and votes.most_common(1)[0][0] == "same":
        d.conv["pad"] = "same"
    bn = Counter(bool(a.get("bn")) for a in convs)
    if bn and bn.most_common(1)[0][0]:
        d.conv["bn"] = True
        eps = Counter(a["eps"] for a in convs if a.get("bn")).most_common(1)[0][0]
        if eps != 1e-5:
            d.conv["eps"] = eps
    act = Counter(a["act"] for a in convs)
    if act and act.most_common(1)[0][0]:
        d.conv["act"] = act.most_common(1)[0][0]
    fcs = Counter(n.attrs["act"] for n in graph.nodes.values() if n.op == "fc")
    if fcs and fcs.most_common(1)[0][0]:
        d.fc["act"] = fcs.most_common(1)[0][0]
    for op in ("maxpool", "avgpool"):
        ceil = Counter(n.attrs["ceil"] for n in graph.nodes.values() if n.op == op)
        if ceil and ceil.most_common(1)[0][0]:
            d.pools[op] = {"round": "ceil"}
    return d


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


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _kernel(k: tuple[int, int]) -> str:
    return str(k[0]) if k[0] == k[1] else f"{k[0]}x{k[1]}"


def render_node(node: GNode, d: Defaults, num: Num = _plain) -> str:
    a = node.attrs
    if node.op in ("conv", "deconv"):
        return _render_conv(node.op, a, d.conv if node.op == "conv" else {}, num)
    if node.op in ("maxpool", "avgpool"):
        return _render_pool(node.op, a, d.pools.get(node.op, {}))
    if node.op == "fc":
        opts = _act_option(a["act"], d.fc.get("act"))
        if not a["bias"]:
            opts.append("bias=false")
        return f"FC-{num(a['out'], 'out')}" + _options(opts)
    if node.op == "dropout":
        return f"dropout {a['p']:g}"
    if node.op == "lrn":
        base = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}
        opts = [f"{k}={_literal(v)}" for k, v in a.items() if base[k] != v]
        return "LRN" + _options(opts)
    if node.op == "bn":
        return "bn" + _options([f"eps={a['eps']!r}"] if a["eps"] != 1e-5 else [])
    return node.op  # gap, gmp, flatten, softmax, identity, activations


def _options(opts: list[str]) -> str:
    return f" ({', '.join(opts)})" if opts else ""


def _act_option(act: str | None, default: str | None) -> list[str]:
    return [] if act == default else [f"act={act or 'none'}"]


def _render_conv(op: str, a: dict[str, Any], d: dict[str, Any], num: Num) -> str:
    out = num(a["out"], "out")  # numbered before the stride: widths lead the params
    stride = num(a["stride"], "stride")
    stride = "" if stride == "1" else f"/{stride}"
    head = f"{op}{_kernel(a['kernel'])}{stride}-{out}"
    opts: list[str] = []
    default_pad = _same_padding(a) if d.get("pad") == "same" else (0, 0)
    if a["padding"] != default_pad:
        mode, pad = _pad_mode(a), a["padding"]
        if mode in ("same", "valid"):
            opts.append(f"pad={mode}")
        else:
            opts.append(f"pad={pad[0] if pad[0] == pad[1] else _literal(pad)}")
    for key in ("dilation", "groups"):
        if a.get(key, 1) != 1:
            opts.append(f"{key}={a[key]}")
    if op == "deconv" and a.get("output_padding"):
        opts.append(f"output_padding={a['output_padding']}")
    bn = bool(a.get("bn"))
    if bn != bool(d.get("bn")):
        opts.append(f"bn={_literal(bn)}")
    if a["bias"] != (not bn):
        opts.append(f"bias={_literal(a['bias'])}")
    opts += _act_option(a["act"], d.get("act"))
    if bn and a.get("eps", 1e-5) != d.get("eps", 1e-5):
        opts.append(f"eps={a['eps']!r}")
    if bn and a.get("order") == "pre":
        opts.append("order=pre")
    return head + _options(opts)


def _render_pool(op: str, a: dict[str, Any], d: dict[str, Any]) -> str:
    opts = []
    pad = a["padding"]
    if pad != (0, 0):
        opts.append(f"pad={pad[0] if pad[0] == pad[1] else _literal(pad)}")
    if a["ceil"] != (d.get("round") == "ceil"):
        opts.append("ceil" if a["ceil"] else "floor")
    if op == "avgpool" and not a.get("count_pad", True):
        opts.append("count_pad=false")
    return f"{op}{_kernel(a['kernel'])}/{a['stride']}" + _options(opts)


_SAFE_SOURCE = re.compile(r"[^A-Za-z0-9_.:-]")
_STRIDE1 = re.compile(r"\b((?:de)?conv\d+(?:x\d+)?)/1-")


def tidy(text: str) -> str:
    """`conv3/1-64` → `conv3-64`."""
    return _STRIDE1.sub(r"\1-", text)


# ---------------------------------------------------------------- YAML values of items


class Renderer:
    """Items → YAML values (strings, lists, one-key dicts), numbers via `num`."""

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


# ---------------------------------------------------------------- names


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


def _common_prefix(names: list[str]) -> str:
    """The longest common prefix that ends at a separator (or a whole name)."""
    if not names:
        return ""
    first = min(names)
    last = max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if all(len(s) == n or not s[n].isalnum() for s in names):
        return prefix.rstrip("_/.-")
    cut = max(prefix.rfind(c) for c in "_/.-")
    return prefix[:cut] if cut > 0 else ""


def _stem(name: str) -> str:
    """`res2a` → `res2`, `layer1_0` → `layer1`, `inception_3a` → `inception_3`."""
    m = re.fullmatch(r"(.*?[A-Za-z0-9])_?(?:[A-Za-z]|\d+)", name)
    return m.group(1) if m else ""


def _snake(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower().strip("_")


# ---------------------------------------------------------------- folding


@dataclass
class Unit:
    """A block instance: items at top-level positions, with its numbers."""

    start: int
    items: list[Item]
    template: str = ""
    numbers: list[tuple[int, str]] = field(default_factory=list)
    name: str = ""


@dataclass
class BlockDef:
    name: str
    body: Any  # YAML value with `\0k\0` placeholders
    slots: list[str]  # per number position: an expression or a literal
    params: list[str]
    defaults: dict[str, int]
    units: list[Unit]


def _template(renderer: Renderer, items: list[Item]) -> tuple[Any, list[tuple[int, str]]]:
    numbers: list[tuple[int, str]] = []

    def num(value: int, role: str) -> str:
        numbers.append((value, role))
        return f"\0{len(numbers) - 1}\0"

    values = [renderer.item(i, num) for i in items]
    body = values[0] if len(values) == 1 and isinstance(items[0], Region) else {"layers": values}
    return body, numbers


def _signature(body: Any) -> str:
    return repr(body)


def find_units(items: list[Item], renderer: Renderer) -> dict[str, list[Unit]]:
    """Regions grouped by signature, each grown backwards over equal plain layers."""
    groups: dict[str, list[Unit]] = defaultdict(list)
    for index, item in enumerate(items):
        if isinstance(item, Region):
            body, numbers = _template(renderer, [item])
            groups[_signature(body)].append(Unit(index, [item], _signature(body), numbers))
    taken = {u.start for units in groups.values() for u in units}
    for units in groups.values():
        while len(units) > 1:
            before = [u.start - 1 for u in units]
            if any(i < 0 or i in taken or isinstance(items[i], Region) for i in before):
                break
            sigs = {_signature(_template(renderer, [items[i]])[0]) for i in before}
            if len(sigs) != 1:
                break
            for u, i in zip(units, before, strict=True):
                u.start, u.items = i, [items[i], *u.items]
                taken.add(i)
    for units in groups.values():
        for u in units:
            body, u.numbers = _template(renderer, u.items)
            u.template = _signature(body)
    return groups


def parameterise(units: list[Unit]) -> tuple[list[str], list[str], dict[str, int]]:
    """Slots (expression per number position), param names and trailing defaults.

    A number that is equal in every instance stays a literal; one that always
    equals, or is a fixed multiple of, an earlier parameter is written as that
    expression (ResNet's `{4*width}`); every other one is a new parameter."""
    columns = list(zip(*[[v for v, _ in u.numbers] for u in units], strict=True))
    roles = [role for _, role in units[0].numbers]
    owners: list[tuple[int, str]] = []  # (column, placeholder)
    slots: list[str] = []
    for col, values in enumerate(columns):
        if len(set(values)) == 1:
            slots.append(str(values[0]))
            continue
        slot = _derived(values, columns, owners)
        if slot is None:
            slot = f"\x01{len(owners)}\x01"
            owners.append((col, slot))
        slots.append(slot)
    names = _param_names([(p, roles[c]) for c, p in owners])
    slots = [_rename(s, names) for s in slots]
    params = [names[p] for _, p in owners]
    strides = [names[p] for c, p in owners if roles[c] == "stride"]
    defaults = _trailing_defaults(params, [columns[c] for c, _ in owners], strides)
    return slots, params, defaults


def _derived(values: tuple[int, ...], columns: list[tuple[int, ...]],
             owners: list[tuple[int, str]]) -> str | None:  # fmt: skip
    for col, name in owners:
        base = columns[col]
        if base == values:
            return name
        if all(b and v % b == 0 for b, v in zip(base, values, strict=True)):
            ratios = {v // b for b, v in zip(base, values, strict=True)}
            if len(ratios) == 1:
                return f"{{{ratios.pop()}*{name}}}"
    return None


def _param_names(params: list[tuple[str, str]]) -> dict[str, str]:
    """`width`/`stride` when there is one of a kind, else `w1, w2, …`/`s1, …`."""
    by_role: dict[str, list[str]] = defaultdict(list)
    for placeholder, role in params:
        by_role[role].append(placeholder)
    out = {}
    for role, ps in by_role.items():
        base, short = ("width", "w") if role == "out" else ("stride", "s")
        for k, p in enumerate(ps, 1):
            out[p] = base if len(ps) == 1 else f"{short}{k}"
    return out


def _rename(slot: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        slot = slot.replace(old, new)
    return slot


def _trailing_defaults(
    params: list[str], columns: list[tuple[int, ...]], eligible: list[str]
) -> dict[str, int]:
    """Defaults for trailing stride parameters that mostly take one value."""
    defaults: dict[str, int] = {}
    for name, values in reversed(list(zip(params, columns, strict=True))):
        value, count = Counter(values).most_common(1)[0]
        if name not in eligible or count * 2 <= len(values):
            break
        defaults[name] = value
    return dict(reversed(list(defaults.items())))


def _fill(body: Any, slots: list[str]) -> Any:
    if isinstance(body, str):

        def sub(m: re.Match[str]) -> str:
            slot = slots[int(m.group(1))]
            return slot if slot.startswith("{") or slot.isdigit() else f"{{{slot}}}"

        return tidy(re.sub(r"\0(\d+)\0", sub, body))  # fmt: skip
    if isinstance(body, list):
        return [_fill(v, slots) for v in body]
    return {k: _fill(v, slots) for k, v in body.items()}


# ---------------------------------------------------------------- the writer


class SpecWriter:
    def __init__(self, graph: Graph, input_id: int, source: str) -> None:
        self.g = graph
        self.input_id = input_id
        self.source = source
        self.defaults = choose_defaults(graph)
        self.renderer = Renderer(graph, self.defaults, self._auto_shortcut)
        self.used: set[str] = set()

    def _auto_shortcut(self, r: Region) -> bool:
        """Whether `shortcut: auto` gives exactly this shortcut."""
        fork, join = self.g.nodes[r.fork].shape, self.g.nodes[r.join].shape
        if r.shortcut is None:
            return fork == join
        if len(r.shortcut) != 1 or not isinstance(r.shortcut[0], int) or fork == join:
            return False
        conv = self.g.nodes[r.shortcut[0]]
        a = conv.attrs
        stride = max(1, fork[1] // join[1]) if len(fork) == 3 and len(join) == 3 else 0
        bn = bool(self.defaults.conv.get("bn"))
        eps = self.defaults.conv.get("eps", 1e-5)
        return (conv.op == "conv" and a["kernel"] == (1, 1) and a["stride"] == stride
                and a["padding"] == (0, 0) and a.get("groups", 1) == 1
                and a.get("dilation", 1) == 1 and bool(a.get("bn")) == bn
                and a["bias"] == (not bn) and not a["act"] and a.get("order", "post") == "post"
                and (not bn or a.get("eps", 1e-5) == eps))  # fmt: skip

    def write(self) -> str:
        items = structure(self.g, self.input_id)
        groups = find_units(items, self.renderer)
        blocks = self._blocks(groups)
        starts = {u.start: (b, u) for b in blocks for u in b.units}
        entries = self._entries(items, starts)
        return self._text(blocks, entries)

    # --- blocks
    def _blocks(self, groups: dict[str, list[Unit]]) -> list[BlockDef]:
        blocks = []
        for units in sorted(groups.values(), key=lambda us: us[0].start):
            for u in units:
                u.name = self._unit_name(u)
            body, _ = _template(self.renderer, units[0].items)
            slots, params, defaults = parameterise(units)
            name = self._block_name(units)
            blocks.append(BlockDef(name, _fill(body, slots), slots, params, defaults, units))
        return blocks

    def _names(self, items: list[Item]) -> list[GNode]:
        out = []
        for item in items:
            if isinstance(item, int):
                out.append(self.g.nodes[item])
            else:
                out += self._names([*chain(*item.branches), *(item.shortcut or [])])
                out.append(self.g.nodes[item.join])
        return out

    def _unit_name(self, unit: Unit) -> str:
        nodes = self._names(unit.items)
        weighted = [n.name for n in nodes if n.op in WEIGHTED] or [n.name for n in nodes]
        prefix = _common_prefix(weighted)
        if not prefix:
            last = unit.items[-1]
            prefix = self.g.nodes[last.join].name if isinstance(last, Region) else ""
        return identifier(prefix, "unit") if prefix else ""

    def _block_name(self, units: list[Unit]) -> str:
        hints = {self._hint(u) for u in units}
        name = ""
        if len(hints) == 1 and (hint := hints.pop()):
            name = _snake(hint)
        if not name:
            name = _common_prefix([u.name for u in units]) or _shared_start([u.name for u in units])
            name = re.sub(r"[^A-Za-z]+$", "", name)
        return self._fresh(identifier(name, "block") if name else "block", reserve_op=True)

    def _hint(self, unit: Unit) -> str:
        hints = {n.hint for n in self._names(unit.items) if n.op in WEIGHTED}
        return hints.pop() if len(hints) == 1 else ""

    def _fresh(self, name: str, reserve_op: bool = False) -> str:
        if reserve_op and _is_op(name):
            name += "_block"
        base, k = name, 2
        while name in self.used:
            name, k = f"{base}{k}", k + 1
        self.used.add(name)
        return name

    # --- layers
    def _entries(self, items: list[Item], starts: dict[int, tuple[BlockDef, Unit]]) -> list[str]:
        calls: list[tuple[BlockDef, Unit, str]] = []
        lines: list[str] = []
        index = 0
        current: list[str] = []

        def flush_calls() -> None:
            lines.extend(self._call_lines(calls))
            calls.clear()

        def flush_line() -> None:
            if current:
                lines.append(_compress(current))
                current.clear()

        while index < len(items):
            if index in starts:
                flush_line()
                block, unit = starts[index]
                calls.append((block, unit, self._args(block, unit)))
                index += len(unit.items)
                continue
            flush_calls()
            node = self.g.nodes[items[index]]  # type: ignore[index]
            text = render_node(node, self.defaults)
            if node.op in WEIGHTED or not current:
                flush_line()
                if self.g.names_help and node.op in WEIGHTED:
                    text = f"{self._fresh(identifier(node.name))}: {text}"
            current.append(text)
            index += 1
        flush_calls()
        flush_line()
        return lines

    def _args(self, block: BlockDef, unit: Unit) -> str:
        values = dict(zip(block.params, self._param_values(block, unit), strict=True))
        while (
            block.params
            and values
            and block.defaults.get(list(values)[-1]) == list(values.values())[-1]
        ):
            values.popitem()
        return ", ".join(str(v) for v in values.values())

    def _param_values(self, block: BlockDef, unit: Unit) -> list[int]:
        out = []
        for p in block.params:
            col = block.slots.index(p)
            out.append(unit.numbers[col][0])
        return out

    def _call_lines(self, calls: list[tuple[BlockDef, Unit, str]]) -> list[str]:
        lines = []
        i = 0
        while i < len(calls):
            block, unit, _args = calls[i]
            stem = _stem(unit.name)
            j = i
            while (j + 1 < len(calls) and calls[j + 1][0] is block
                   and _stem(calls[j + 1][1].name) == stem):  # fmt: skip
                j += 1
            run = calls[i : j + 1]
            repeats = any(a[2] == b[2] for a, b in pairwise(run))
            if repeats and any(ch.isdigit() for ch in stem):
                exprs = [_call(b.name, args) for b, _u, args in run]
                lines.append(f"{self._fresh(identifier(stem))}: {_compress(exprs)}")
            else:
                lines += [self._call_line(b, u, args) for b, u, args in run]
            i = j + 1
        return lines

    def _call_line(self, block: BlockDef, unit: Unit, args: str) -> str:
        """A row (`inception 3a: [64, …]`) where the source name allows one."""
        name = unit.name
        suffix = name[len(block.name) :].lstrip("_") if name.startswith(block.name) else ""
        row = f"{block.name}_{suffix}"
        if args and suffix.isalnum() and row not in self.used:
            self.used.add(row)
            return f"{block.name} {suffix}: [{args}]"
        call = _call(block.name, args)
        return f"{self._fresh(name)}: {call}" if name else call

    # --- text
    def _text(self, blocks: list[BlockDef], entries: list[str]) -> str:
        c, *hw = self.g.input_shape
        lines = [
            f"# Imported by `archspec import` from {_SAFE_SOURCE.sub('_', self.source)}",
            f"name: {identifier(self.g.name, 'imported').lower()}",
            f"input: {'x'.join(str(n) for n in (c, *hw))}",
            *self.defaults.yaml(),
        ]
        if blocks:
            lines.append("blocks:")
        for b in blocks:
            lines.append(f"  {b.name}:")
            if b.params:
                ps = [f"{p}={b.defaults[p]}" if p in b.defaults else p for p in b.params]
                lines.append(f"    params: [{', '.join(ps)}]")
            lines += dump(b.body, 4)
        lines.append("layers:")
        lines += [f"  - {e}" for e in entries]
        return "\n".join(lines) + "\n"


def _shared_start(names: list[str]) -> str:
    first, last = min(names, default=""), max(names, default="")
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _is_op(name: str) -> bool:
    from ..ops import REGISTRY

    return REGISTRY.lookup(name) is not None or name in ("layers", "concat", "residual")


def _call(block: str, args: str) -> str:
    return f"{block}({args})" if args else block


def _compress(exprs: list[str]) -> str:
    """Runs of equal expressions as `expr xN`."""
    out: list[str] = []
    i = 0
    while i < len(exprs):
        j = i
        while j + 1 < len(exprs) and exprs[j + 1] == exprs[i]:
            j += 1
        count = j - i + 1
        out.append(exprs[i] if count == 1 else f"{exprs[i]} x{count}")
        i = j + 1
    return ", ".join(out)


def write_spec(graph: Graph, input_id: int, source: str, span: Span) -> str:
    """Fuse, fold and write the graph; check the result against the source."""
    import archspec

    params, macs = graph_costs(graph)
    sinks = [n for n, users in graph.consumers().items() if not users]
    sink_shape = graph.nodes[sinks[-1]].shape
    fuse(graph)
    try:
        text = SpecWriter(graph, input_id, source).write()
    except Unstructured as exc:
        raise ImportError_(f"cannot fold this network into blocks: {exc}", span) from None
    net = archspec.loads(text, filename="<imported spec>")
    got = (net.params, net.macs, tuple(net.output.as_list()))
    want = (params, macs, tuple(sink_shape))
    if got != want:
        raise ImportError_(
            f"internal: the imported spec gives params, MACs, output {got}, the source {want}",
            span,
        )
    return text
