"""IR → a runnable `torch.nn.Module`.

The module tree mirrors the spec (see `compiler/plan.py` for the naming):
layers become their torch module (or a `Sequential` of named parts), blocks
become the combinators of `compiler/layers.py`, and graph blocks become a
`torch.fx.GraphModule` whose `forward` is Python code generated once, at build
time, from the block's wires, so nothing interprets the graph per call.
A network with several outputs returns the tuple (main, *heads).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import TYPE_CHECKING, Any

import torch
from torch import fx, nn

from . import layers
from .plan import BlockPlan, CompileError, LayerPlan, Plan, camel, make_plan

if TYPE_CHECKING:
    from archspec.network import Network
    from archspec.ops import Part


def build_module(net: Network, device: Any = None, dtype: Any = None) -> nn.Module:
    """The network as an `nn.Module` with torchvision-style initial weights,
    moved to `device` / `dtype` when given (initialised on the CPU in float32
    first, so one seed gives the same weights on every device)."""
    module = instantiate(make_plan(net.root))
    layers.init_weights(module)
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module


def instantiate(plan: Plan) -> nn.Module:
    if isinstance(plan, LayerPlan):
        if plan.join is not None:
            raise CompileError(f"a `{plan.join}` join belongs in a graph", plan.node.span)
        modules = [part_module(part, plan) for part in plan.parts]
        if len(modules) == 1:
            return modules[0]
        named = zip((part.name for part in plan.parts), modules, strict=True)
        return layers.Sequential(**dict(named))
    children = {child.name: instantiate(child) for child in plan.children
                if not (isinstance(child, LayerPlan) and child.join)}  # fmt: skip
    if plan.kind == "graph":
        return graph_module(plan, children)
    if plan.kind == "residual":
        return layers.Residual(scale_=plan.scale, post_=plan.post, **children)
    if plan.kind == "mean":
        return layers.Mean(drop_path_=plan.drop_path, **children)
    return layers.COMBINATORS[plan.kind](**children)


def part_module(part: Part, plan: LayerPlan) -> nn.Module:
    """The torch module a `Part` names: a `torch.nn` class or one of ours."""
    if part.library == "nn":
        cls = getattr(nn, part.cls, None) if part.cls.isidentifier() else None
    elif part.library == "archspec":
        cls = layers.PART_CLASSES.get(part.cls)
    else:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CompileError(f"`{plan.node.op}` compiles to unknown module "
                           f"{part.library}.{part.cls}", plan.node.span)  # fmt: skip
    return cls(*part.args, **dict(part.kwargs))


# The joins of a graph, as the same operations the generated source writes
# (`a + b`, `(a + b) / 2`, `torch.cat([a, b], 1)`), so both agree to the bit.
def _add(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
    return reduce(lambda a, b: graph.call_function(operator.add, (a, b)), args)


def _mul(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
    return reduce(lambda a, b: graph.call_function(operator.mul, (a, b)), args)


def _mean(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
    return graph.call_function(operator.truediv, (_add(graph, args), len(args)))


def _concat(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
    return graph.call_function(torch.cat, (list(args), 1))


JOIN_BUILDERS: dict[str, Callable[[fx.Graph, list[fx.Node]], fx.Node]] = {
    "add": _add, "mul": _mul, "mean": _mean, "concat": _concat,
}  # fmt: skip


def graph_module(plan: BlockPlan, children: dict[str, nn.Module]) -> fx.GraphModule:
    """A graph block as an fx.GraphModule: one node per wire."""
    holder = nn.Module()
    for name, child in children.items():
        holder.add_module(name, child)
    graph = fx.Graph()
    tensors: dict[str, fx.Node] = {name: graph.placeholder(name) for name in plan.inputs}
    joins = {c.name: c.join for c in plan.children if isinstance(c, LayerPlan) and c.join}
    for name, sources in plan.wires:
        args = [tensors[source] for source in sources]
        join = joins.get(name)
        tensors[name] = (JOIN_BUILDERS[join](graph, args) if join
                         else graph.call_module(name, tuple(args)))  # fmt: skip
    outputs = [tensors[name] for name in plan.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    module = fx.GraphModule(holder, graph, class_name=type_name(plan))
    # GraphModule registers submodules in wire order; restore the IR order so
    # state_dict keys come in the same order as the generated source's.
    for name, child in children.items():
        module._modules.pop(name, None)
        module._modules[name] = child
    return module


def type_name(plan: BlockPlan) -> str:
    """CamelCase class name for a graph block (`cell` → `Cell`)."""
    name = camel(plan.node.block or plan.node.name)
    return name if name.isidentifier() else "Graph"
