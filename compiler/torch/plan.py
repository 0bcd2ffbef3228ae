"""IR → a backend-neutral build plan, shared by the module builder and the code
generator so that both produce the same module tree.

The plan is where the two decisions live that must never differ between the
backends:

* **Names.** Every IR node becomes a submodule under its IR name, so a dotted
  IR path is the module path: `conv3_x.bottleneck1.residual.conv2`, and a
  layer's parts hang below it (`….conv2.conv.weight`, `….conv2.bn.weight`).
  The elaborator already gave every node a name this backend can use (it is
  handed `names.RESERVED`); the plan checks it again and refuses otherwise.
* **In-place activations.** An op's parts may ask for `inplace=True` (ReLU).
  That is only safe on a tensor nobody else reads, so the plan tracks whether
  each layer's input is private to it (not the block input shared by concat
  branches, the residual identity or a dense block, not a graph tensor with
  several readers) and turns `inplace` off where it is not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from archspec.blocks import Graph, Kind, Seq
from archspec.errors import ArchSpecError
from archspec.ir import Layer, Node
from archspec.naming import Namespace
from archspec.ops import JOIN_OPS, REGISTRY, Part

from ..names import RESERVED
from .layers import INTERNAL_NAMES

# Parts whose output is (or may be) a view of their input: flatten is a view,
# dropout, drop-path and identity return the input itself in eval mode.
ALIASING_PARTS = frozenset({"Flatten", "Dropout", "Identity", "DropPath", "ChannelSlice"})

# Every name a submodule may not take: what the elaborator avoids, plus what
# this torch really defines on a module (defence in depth).
MODULE_NAMES = RESERVED | frozenset(dir(nn.Module())) | INTERNAL_NAMES


class CompileError(ArchSpecError):
    """The IR asks for something the torch backends cannot compile."""


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """One IR layer: its parts (a bare module if one, a Sequential if several),
    or a parameter-free join inside a graph (`join` set, no parts)."""

    name: str
    node: Layer
    parts: tuple[Part, ...]
    join: str | None = None


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """One IR block and the plans of its children."""

    name: str
    node: Kind
    children: tuple[Plan, ...]


Plan = LayerPlan | BlockPlan


def module_name(node: Node) -> str:
    """The node's name as a submodule; `CompileError` if it cannot be one."""
    if not Namespace(MODULE_NAMES).usable(node.name):
        raise CompileError(f"`{node.name}` cannot name a torch module", node.span)
    return node.name


def make_plan(node: Node) -> Plan:
    """The plan for a network's root (its input belongs to the caller)."""
    plan, _private = _plan(node, private=False)
    return plan


def module_paths(plan: Plan) -> dict[tuple[str, ...], str]:
    """IR path (below the root) → dotted module path, for every node."""
    out: dict[tuple[str, ...], str] = {}

    def visit(item: Plan, ir_path: tuple[str, ...], mod_path: tuple[str, ...]) -> None:
        out[ir_path] = ".".join(mod_path)
        if isinstance(item, BlockPlan):
            for child in item.children:
                visit(child, (*ir_path, child.node.name), (*mod_path, child.name))

    visit(plan, (), ())
    return out


def _plan(node: Node, private: bool) -> tuple[Plan, bool]:
    """The plan of `node` and whether its output may be modified in place by
    its (single) reader. `private`: the node may modify its input in place."""
    if isinstance(node, Layer):
        return _layer(node, private)
    if not isinstance(node, Kind):
        raise CompileError(f"cannot compile a block of type {type(node).__name__}", node.span)
    name = module_name(node)
    if isinstance(node, Seq):
        children: list[Plan] = []
        for child in node.children:
            made, private = _plan(child, private)
            children.append(made)
        return BlockPlan(name, node, tuple(children)), private
    if isinstance(node, Graph):
        return _graph(node, name, private)
    # A combinator: every child reads the block's input, which the block reads
    # again, except those applied to its result (a residual's post layer),
    # and the result is a new tensor its reader may overwrite.
    after = node.after_join()
    children = [_plan(child, child.name in after)[0] for child in node.children]
    return BlockPlan(name, node, tuple(children)), True


def _layer(node: Layer, private: bool) -> tuple[LayerPlan, bool]:
    name = module_name(node)
    op = REGISTRY.ops.get(node.op)
    if op is None:
        raise CompileError(f"unknown op `{node.op}`", node.span)
    parts = op.parts(node.attrs.as_dict(), list(node.inputs), node.output)
    if not parts:
        if node.op in JOIN_OPS and len(node.inputs) > 1:
            return LayerPlan(name, node, (), join=node.op), True
        raise CompileError(f"`{node.op}` has no PyTorch form yet; it cannot be compiled",
                           node.span)  # fmt: skip
    resolved = []
    names = Namespace(MODULE_NAMES)
    for part in parts:
        kwargs: tuple[tuple[str, Any], ...] = part.kwargs
        if dict(kwargs).get("inplace") and not private:
            kwargs = tuple((k, v) for k, v in kwargs if k != "inplace")
        if part.cls not in ALIASING_PARTS:
            private = True  # a fresh tensor (or, in place, the private input)
        resolved.append(replace(part, name=names.fresh(part.name), kwargs=kwargs))
    return LayerPlan(name, node, tuple(resolved)), private


def _graph(node: Graph, name: str, private: bool) -> tuple[BlockPlan, bool]:
    readers = Counter(source for _child, sources in node.wires for source in sources)
    readers.update(node.output_names)  # whoever receives an output reads it too
    free = {tensor: private and readers[tensor] == 1 for tensor in node.input_names}
    plans: dict[str, Plan] = {}
    for child_name, sources in node.wires:
        alone = len(sources) == 1 and free.get(sources[0], False) and readers[sources[0]] == 1
        plans[child_name], free[child_name] = _plan(node.child(child_name), alone)
    children = tuple(plans[child.name] for child in node.children)
    outputs = node.output_names
    return BlockPlan(name, node, children), len(outputs) == 1 and free.get(outputs[0], False)
