"""IR → a backend-neutral build plan, shared by the module builder and the code
generator so that both produce the same module tree.

The plan is where the two decisions live that must never differ between the
backends:

* **Names.** Every IR node becomes a submodule under its IR name, so a dotted
  IR path is the module path: `conv3_x.bottleneck1.residual.conv2`, and a
  layer's parts hang below it (`….conv2.conv.weight`, `….conv2.bn.weight`).
  IR names are already identifiers that avoid `nn.Module`'s attributes; we
  still check (defence in depth) and mangle by appending `_` if needed.
* **In-place activations.** An op's parts may ask for `inplace=True` (ReLU).
  That is only safe on a tensor nobody else reads, so the plan tracks whether
  each layer's input is private to it (not the block input shared by concat
  branches, the residual identity or a dense block, not a graph tensor with
  several readers) and turns `inplace` off where it is not.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from torch import nn

from archspec.errors import ArchSpecError
from archspec.ir import Block, Layer, Node
from archspec.ops import REGISTRY, Part

from .layers import INTERNAL_NAMES

JOINS = ("add", "mul", "mean", "concat")

# Parts whose output is (or may be) a view of their input: flatten is a view,
# dropout, drop-path and identity return the input itself in eval mode.
ALIASING_PARTS = frozenset({"Flatten", "Dropout", "Identity", "DropPath"})

_MODULE_ATTRS = frozenset(dir(nn.Module())) | INTERNAL_NAMES | {"self"}


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
    """One IR block; `wires`, `inputs` and `outputs` use the children's module
    names (graph blocks only)."""

    name: str
    node: Block
    children: tuple[Plan, ...]
    post: str | None = None
    scale: float = 1.0
    drop_path: float = 0.0
    wires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.node.kind


Plan = LayerPlan | BlockPlan


def is_safe_name(name: str) -> bool:
    """A name usable as an nn.Module attribute and a keyword argument."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("__")
        and name not in _MODULE_ATTRS
    )


def safe_name(name: str, taken: set[str]) -> str:
    """`name`, or a mangled variant that is safe and not yet `taken`."""
    if not name.isidentifier():
        name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "_"
        if name[0].isdigit():
            name = f"_{name}"
    if name.startswith("__"):  # no dunders: `__init__` → `_init__`
        name = "_" + name.lstrip("_")
    while not is_safe_name(name) or name in taken:
        name += "_"
    taken.add(name)
    return name


def camel(text: str) -> str:
    """`googlenet_aux` → `GooglenetAux`; anything but letters and digits splits words."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^0-9A-Za-z]+", text))


def make_plan(node: Node) -> Plan:
    """The plan for a network's root (its input belongs to the caller)."""
    plan, _private = _plan(node, node.name, private=False)
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


def _plan(node: Node, name: str, private: bool) -> tuple[Plan, bool]:
    """The plan of `node` and whether its output may be modified in place by
    its (single) reader. `private`: the node may modify its input in place."""
    if isinstance(node, Layer):
        return _layer(node, name, private)
    taken: set[str] = set()
    renamed = {child.name: safe_name(child.name, taken) for child in node.children}
    attrs = node.attrs
    kind = node.kind
    if kind == "seq":
        children: list[Plan] = []
        for child in node.children:
            made, private = _plan(child, renamed[child.name], private)
            children.append(made)
        return BlockPlan(name, node, tuple(children)), private
    if kind == "graph":
        return _graph(node, name, private, renamed)
    if kind == "residual":
        post = attrs.get("post")
        children = [
            _plan(child, renamed[child.name], child.name == post)[0] for child in node.children
        ]
        # residual + shortcut is a new tensor, so the post layer may work in place.
        return BlockPlan(name, node, tuple(children), post=renamed.get(post) if post else None,
                         scale=float(attrs.get("scale", 1.0))), True  # fmt: skip
    if kind in ("concat", "mean", "dense", "scale"):
        # Every child reads the block's input, which the block reads again.
        children = [_plan(child, renamed[child.name], False)[0] for child in node.children]
        drop = float(attrs.get("drop_path", 0.0) or 0.0) if kind == "mean" else 0.0
        return BlockPlan(name, node, tuple(children), drop_path=drop), True
    raise CompileError(f"cannot compile a block of kind `{kind}`", node.span)


def _layer(node: Layer, name: str, private: bool) -> tuple[LayerPlan, bool]:
    op = REGISTRY.ops.get(node.op)
    if op is None:
        raise CompileError(f"unknown op `{node.op}`", node.span)
    parts = op.parts(node.attrs.as_dict(), list(node.inputs), node.output)
    if not parts:
        if node.op in JOINS and len(node.inputs) > 1:
            return LayerPlan(name, node, (), join=node.op), True
        raise CompileError(f"`{node.op}` has no PyTorch form yet; it cannot be compiled",
                           node.span)  # fmt: skip
    resolved = []
    taken: set[str] = set()
    for part in parts:
        kwargs: tuple[tuple[str, Any], ...] = part.kwargs
        if dict(kwargs).get("inplace") and not private:
            kwargs = tuple((k, v) for k, v in kwargs if k != "inplace")
        if part.cls not in ALIASING_PARTS:
            private = True  # a fresh tensor (or, in place, the private input)
        resolved.append(Part(safe_name(part.name, taken), part.cls, part.args, kwargs,
                             part.library))  # fmt: skip
    return LayerPlan(name, node, tuple(resolved)), private


def _graph(node: Block, name: str, private: bool,
           renamed: dict[str, str]) -> tuple[BlockPlan, bool]:  # fmt: skip
    attrs = node.attrs
    wires: tuple[tuple[str, tuple[str, ...]], ...] = attrs["wires"]
    inputs: tuple[str, ...] = attrs["inputs"]
    outputs: tuple[str, ...] = attrs["outputs"]
    readers = Counter(source for _child, sources in wires for source in sources)
    readers.update(outputs)  # whoever receives an output reads it too
    free = {tensor: private and readers[tensor] == 1 for tensor in inputs}
    plans: dict[str, Plan] = {}
    for child_name, sources in wires:
        child = node.child(child_name)
        alone = len(sources) == 1 and free.get(sources[0], False) and readers[sources[0]] == 1
        plans[child_name], free[child_name] = _plan(child, renamed[child_name], alone)
    # Tensor names that are not children (the graph's inputs) keep their names.
    tensor = {**{t: t for t in inputs}, **renamed}
    return BlockPlan(
        name, node, tuple(plans[child.name] for child in node.children),
        wires=tuple((renamed[c], tuple(tensor[s] for s in sources)) for c, sources in wires),
        inputs=inputs, outputs=tuple(tensor[o] for o in outputs),
    ), len(outputs) == 1 and free.get(outputs[0], False)  # fmt: skip
