"""From the imported graph to a short spec: the back half of `archspec import`.

`write_spec` does what a person does when transcribing a paper's network:
fuse conv/BN/act chains (`graph.fuse`), structure the graph into sequences,
residuals and branches (`structure`), fold repeated regions into
parameterised blocks (`fold`), write the YAML with rows and `×N` repeats
(`SpecWriter`), then load it back and check that parameters, MACs and output
equal the source's — a spec that disagrees is never returned.
"""

from __future__ import annotations

import re
from itertools import chain, pairwise

from ..errors import Span
from ..ops import REGISTRY
from .defaults import choose_defaults, defaults_yaml
from .fold import FoldedBlock, Unit, fill, find_units, parameterise, template
from .graph import GNode, ImportError_, LayerGraph, Unstructured, fuse, graph_costs
from .names import common_prefix, identifier, shared_start, snake, stem
from .render import Renderer, dump, spell_node
from .structure import Item, Region, structure

WEIGHTED = ("conv", "deconv", "fc")  # the layers that name units and get names of their own
_SAFE_SOURCE = re.compile(r"[^A-Za-z0-9_.:-]")

Call = tuple[FoldedBlock, Unit, str]  # a block, the unit it stands for, its arguments


def write_spec(graph: LayerGraph, input_id: int, source: str, span: Span) -> str:
    """Fuse, fold and write the graph; check the result against the source."""
    import archspec

    params, macs = graph_costs(graph)
    sink_shape = graph.nodes[graph.sinks()[-1]].shape
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


class SpecWriter:
    """The spec text of a fused graph: defaults, blocks, then the layers."""

    def __init__(self, graph: LayerGraph, input_id: int, source: str) -> None:
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
        stride = max(1, fork[1] // join[1]) if len(fork) == 3 and len(join) == 3 else 0
        return self._is_auto_projection(self.g.nodes[r.shortcut[0]], stride)

    def _is_auto_projection(self, conv: GNode, stride: int) -> bool:
        """A plain 1×1 conv with the default BN and no activation: `auto`'s projection."""
        a = conv.attrs
        bn = bool(self.defaults.get("conv", {}).get("bn"))
        eps = self.defaults.get("conv", {}).get("eps", 1e-5)
        return (conv.op == "conv" and a["kernel"] == (1, 1) and a["stride"] == stride
                and a["padding"] == (0, 0) and a["groups"] == 1 and a["dilation"] == 1
                and a["bn"] == bn and a["bias"] == (not bn) and not a["act"]
                and a["order"] == "post" and (not bn or a["eps"] == eps))  # fmt: skip

    def write(self) -> str:
        items = structure(self.g, self.input_id)
        groups = find_units(items, self.renderer)
        blocks = self._blocks(groups)
        starts = {u.start: (b, u) for b in blocks for u in b.units}
        entries = self._entries(items, starts)
        return self._text(blocks, entries)

    # --- blocks
    def _blocks(self, groups: dict[str, list[Unit]]) -> list[FoldedBlock]:
        blocks = []
        for units in sorted(groups.values(), key=lambda us: us[0].start):
            for u in units:
                u.name = self._unit_name(u)
            body, _ = template(self.renderer, units[0].items)
            slots, params, defaults = parameterise(units)
            name = self._block_name(units)
            blocks.append(FoldedBlock(name, fill(body, slots), slots, params, defaults, units))
        return blocks

    def _nodes(self, items: list[Item]) -> list[GNode]:
        """The graph nodes of the items, joins included, in order."""
        out = []
        for item in items:
            if isinstance(item, int):
                out.append(self.g.nodes[item])
            else:
                out += self._nodes([*chain(*item.branches), *(item.shortcut or [])])
                out.append(self.g.nodes[item.join])
        return out

    def _unit_name(self, unit: Unit) -> str:
        nodes = self._nodes(unit.items)
        weighted = [n.name for n in nodes if n.op in WEIGHTED] or [n.name for n in nodes]
        prefix = common_prefix(weighted)
        if not prefix:
            last = unit.items[-1]
            prefix = self.g.nodes[last.join].name if isinstance(last, Region) else ""
        return identifier(prefix, "unit") if prefix else ""

    def _block_name(self, units: list[Unit]) -> str:
        hints = {self._hint(u) for u in units}
        name = ""
        if len(hints) == 1 and (hint := hints.pop()):
            name = snake(hint)
        if not name:
            name = common_prefix([u.name for u in units]) or shared_start([u.name for u in units])
            name = re.sub(r"[^A-Za-z]+$", "", name)
        return self._fresh(identifier(name, "block") if name else "block", reserve_op=True)

    def _hint(self, unit: Unit) -> str:
        hints = {n.hint for n in self._nodes(unit.items) if n.op in WEIGHTED}
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
    def _entries(self, items: list[Item], starts: dict[int, tuple[FoldedBlock, Unit]]) -> list[str]:
        """The `layers:` entries: runs of block calls, and lines of plain layers
        (a new line at each weighted layer, named after it where names help)."""
        calls: list[Call] = []
        lines: list[str] = []
        current: list[str] = []
        index = 0
        while index < len(items):
            if index in starts:
                _flush_line(lines, current)
                block, unit = starts[index]
                calls.append((block, unit, self._args(block, unit)))
                index += len(unit.items)
                continue
            lines += self._call_lines(calls)
            calls.clear()
            node = self.g.nodes[items[index]]  # type: ignore[index]
            if node.op in WEIGHTED or not current:
                _flush_line(lines, current)
            current.append(self._layer_text(node))
            index += 1
        lines += self._call_lines(calls)
        _flush_line(lines, current)
        return lines

    def _layer_text(self, node: GNode) -> str:
        text = spell_node(node, self.defaults)
        if self.g.names_help and node.op in WEIGHTED:
            return f"{self._fresh(identifier(node.name))}: {text}"
        return text

    def _args(self, block: FoldedBlock, unit: Unit) -> str:
        """The call's arguments, trailing ones equal to their defaults left out."""
        values = dict(zip(block.params, self._param_values(block, unit), strict=True))
        while (
            block.params
            and values
            and block.defaults.get(list(values)[-1]) == list(values.values())[-1]
        ):
            values.popitem()
        return ", ".join(str(v) for v in values.values())

    def _param_values(self, block: FoldedBlock, unit: Unit) -> list[int]:
        return [unit.numbers[block.slots.index(p)][0] for p in block.params]

    def _call_lines(self, calls: list[Call]) -> list[str]:
        """Calls of one block under one numbered stem (`layer3`) as one line of
        repeats; the others one line each."""
        lines = []
        i = 0
        while i < len(calls):
            block, unit, _args = calls[i]
            unit_stem = stem(unit.name)
            j = i
            while (j + 1 < len(calls) and calls[j + 1][0] is block
                   and stem(calls[j + 1][1].name) == unit_stem):  # fmt: skip
                j += 1
            run = calls[i : j + 1]
            repeats = any(a[2] == b[2] for a, b in pairwise(run))
            if repeats and any(ch.isdigit() for ch in unit_stem):
                exprs = [_call(b.name, args) for b, _u, args in run]
                lines.append(f"{self._fresh(identifier(unit_stem))}: {_compress(exprs)}")
            else:
                lines += [self._call_line(b, u, args) for b, u, args in run]
            i = j + 1
        return lines

    def _call_line(self, block: FoldedBlock, unit: Unit, args: str) -> str:
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
    def _text(self, blocks: list[FoldedBlock], entries: list[str]) -> str:
        c, *hw = self.g.input_shape
        lines = [
            f"# Imported by `archspec import` from {_SAFE_SOURCE.sub('_', self.source)}",
            f"name: {identifier(self.g.name, 'imported').lower()}",
            f"input: {'x'.join(str(n) for n in (c, *hw))}",
            *defaults_yaml(self.defaults),
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


def _flush_line(lines: list[str], current: list[str]) -> None:
    if current:
        lines.append(_compress(current))
        current.clear()


def _is_op(name: str) -> bool:
    """Whether a block of this name would shadow an op or a spec key."""
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
