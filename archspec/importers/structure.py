"""The imported graph as a series-parallel tree: sequences, residuals and branches.

Every fork is closed by its immediate post-dominator: a concat (→ a `concat:`
block) or a two-input add (→ a `residual:` block, the lighter branch being the
shortcut). A graph that does not nest this way raises `Unstructured`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from .graph import FUSED_ACTS, LayerGraph, Unstructured


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


def structure(graph: LayerGraph, input_id: int) -> list[Item]:
    """The network as a sequence of nodes and nested regions."""
    sinks = graph.sinks()
    if len(sinks) != 1:
        names = ", ".join(f"`{graph.nodes[s].name}`" for s in sinks)
        raise Unstructured(f"the network has {len(sinks)} outputs ({names}); one is supported")
    return _Structurer(graph).after(input_id, None)


class _Structurer:
    def __init__(self, graph: LayerGraph) -> None:
        self.g = graph
        self.succ = graph.consumers()
        self.preds = {n.id: list(dict.fromkeys(n.inputs)) for n in graph.nodes.values()}
        self.ipdom = immediate_postdominators(graph, self.succ)

    def after(self, cur: int, stop: int | None) -> list[Item]:
        """The items from `cur` (excluded) up to `stop` (excluded; None: the end)."""
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
        ends = self._branch_ends(fork, join)
        jnode = self.g.nodes[join]
        if sorted(ends) != sorted(self.preds[join]) or len(jnode.inputs) != len(ends):
            raise Unstructured(f"`{jnode.name}` joins tensors from outside the region of `{name}`")
        branches = [ends[i] for i in jnode.inputs]
        if jnode.op == "concat":
            return Region("concat", fork, branches, join)
        if jnode.op == "add" and len(branches) == 2:
            return self.residual(fork, branches, join)
        raise Unstructured(f"`{jnode.name}` ({jnode.op} of {len(branches)}) has no block form")

    def _branch_ends(self, fork: int, join: int) -> dict[int, list[Item]]:
        """Each branch from `fork` to `join`, keyed by its last node (the fork: empty)."""
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
        return ends

    def residual(self, fork: int, branches: list[list[Item]], join: int) -> Region:
        sizes = [_count(b) for b in branches]
        short = 0 if sizes[0] <= sizes[1] else 1
        region = Region("residual", fork, [branches[1 - short]], join, branches[short] or None)
        after = self.succ[join]
        if (
            len(after) == 1
            and self.g.nodes[after[0]].op in FUSED_ACTS
            and self.preds[after[0]] == [join]
        ):
            region.then = after[0]
        return region


def _count(items: list[Item]) -> int:
    return sum(_count(list(chain(*r.branches))) + 1 if isinstance(r, Region) else 1 for r in items)


def immediate_postdominators(graph: LayerGraph, succ: dict[int, list[int]]) -> dict[int, int]:
    """Each node's nearest node that every path from it to the output passes."""
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
