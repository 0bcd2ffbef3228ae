"""IR → a runnable `torch.nn.Module`.

The module tree mirrors the spec (see `compiler/torch/plan.py` for the naming):
layers become their torch module (or a `Sequential` of named parts), blocks
become the combinators of `compiler/torch/layers.py`, and graph blocks become a
`torch.fx.GraphModule` whose `forward` is Python code generated once, at build
time, from the block's wires, so nothing interprets the graph per call.
A network with several outputs returns the tuple (main, *heads).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch
from torch import fx, nn

from archspec.blocks import Graph
from archspec.errors import ToolError
from archspec.limits import BUILD_MEMORY_SHARE
from archspec.naming import Namespace, camel

from . import layers
from .forms import JOINS, part_class, takes_a_list
from .plan import BlockPlan, CompileError, LayerPlan, Plan, make_plan

if TYPE_CHECKING:
    from archspec.ir import Model
    from archspec.ops import Part


def build_module(net: Model, device: Any = None, dtype: Any = None) -> nn.Module:
    """The network as an `nn.Module` with torchvision-style initial weights,
    moved to `device` / `dtype` when given (initialised on the CPU in float32
    first, so one seed gives the same weights on every device)."""
    check_memory(net)
    module = instantiate(make_plan(net.root))
    layers.init_weights(module)
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module


def check_memory(net: Model) -> None:
    """Refuse, before allocating, a network whose parameters and one batch-1
    forward's activations (fp32) would take more than BUILD_MEMORY_SHARE of
    this machine's memory. Building on the meta device allocates nothing."""
    if torch.empty(0).device.type == "meta":
        return
    need = 4 * (net.params + net.activation_elements)
    have = physical_memory()
    if have and need > BUILD_MEMORY_SHARE * have:
        raise ToolError(
            f"{net.name} needs about {need / 2**30:,.1f} GiB for its weights and one "
            f"forward pass; this machine has {have / 2**30:,.1f} GiB: not built"
        )


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return 0


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
    if isinstance(plan.node, Graph):
        return graph_module(plan, children)
    return combinator(plan)(**plan.node.torch_kwargs(), **children)


def combinator(plan: BlockPlan) -> type[nn.Module]:
    """The torch class a block kind declares as its form (`Kind.TORCH`)."""
    cls = layers.COMBINATORS.get(plan.node.TORCH)
    if cls is None:
        raise CompileError(f"no torch combinator `{plan.node.TORCH}` for a "
                           f"`{plan.node.KIND}` block", plan.node.span)  # fmt: skip
    return cls


def part_module(part: Part, plan: LayerPlan) -> nn.Module:
    return part_class(part, plan.node)(*part.args, **dict(part.kwargs))


def graph_module(plan: BlockPlan, children: dict[str, nn.Module]) -> fx.GraphModule:
    """A graph block as an fx.GraphModule: one node per wire."""
    holder = nn.Module()
    for name, child in children.items():
        holder.add_module(name, child)
    node = plan.node
    assert isinstance(node, Graph)
    graph = fx.Graph()
    # Input names become the parameters of fx's generated `forward`: make them
    # identifiers that are no keyword and not `self` (a spec may say `class`).
    params = Namespace({"self", "torch", "nn"})
    tensors = {name: graph.placeholder(params.fresh(name)) for name in node.input_names}
    joins = {c.name: c.join for c in plan.children if isinstance(c, LayerPlan) and c.join}
    layer_names = {c.name for c in plan.children if isinstance(c, LayerPlan)}
    for name, sources in node.wires:
        args = [tensors[source] for source in sources]
        join = joins.get(name)
        if join:
            tensors[name] = JOINS[join].graph(graph, args)
        else:  # a layer joining several tensors (MeanJoin) takes them as one list
            listed = takes_a_list(name in layer_names, len(args))
            tensors[name] = graph.call_module(name, (args,) if listed else tuple(args))
    outputs = [tensors[name] for name in node.output_names]
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
