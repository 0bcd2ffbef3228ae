"""Where each child of a plan reads its input from, so that the code
generator can write a layer's input channels as what they are, the output
of the layer before it (`nn.Conv2d(width, …)` after `conv1-{width}`,
`unit.out_channels(128)` after a block), rather than as a number that
happens to match.

In a sequence a child reads the child before it (the first one, the
sequence's input); the branches of a concat, a residual, a scale gate and a
mean read the block's input; what a dense block, a graph or a residual's
post layer reads is not one child's output, and is `UNKNOWN` here.
"""

from __future__ import annotations

from archspec.blocks import Dense, Graph, Seq

from ..torch.plan import BlockPlan, LayerPlan, Plan

PARENT_INPUT = "parent input"  # the input of the block the child is in
UNKNOWN = "unknown"

Source = Plan | str


def link(root: BlockPlan) -> tuple[dict[int, Source], dict[int, BlockPlan]]:
    """For every plan below `root` (by id): its source, and its parent."""
    sources: dict[int, Source] = {}
    parents: dict[int, BlockPlan] = {}

    def visit(plan: BlockPlan) -> None:
        node = plan.node
        after = set(node.after_join())
        previous: Source = PARENT_INPUT
        for child in plan.children:
            parents[id(child)] = plan
            if isinstance(node, Seq):
                sources[id(child)] = previous
                previous = child
            elif isinstance(node, Dense | Graph) or child.name in after:
                sources[id(child)] = UNKNOWN
            else:
                sources[id(child)] = PARENT_INPUT
            if isinstance(child, BlockPlan):
                visit(child)

    visit(root)
    return sources, parents


def passes_channels(plan: Plan) -> bool:
    """A layer whose output has its input's channels (a pool, a norm, an
    activation, a flatten of a 1×1 map)."""
    return (
        isinstance(plan, LayerPlan)
        and len(plan.node.inputs) == 1
        and plan.node.output.c == plan.node.inputs[0].c
    )
