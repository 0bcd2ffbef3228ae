"""What IR pieces are in torch, in one place for both backends: the module
class a `Part` names, and each graph join as an fx node (the builder) and as
source text (the code generator), side by side so the two cannot drift apart.
The join forms are the same operations in the same order (`a + b`,
`(a + b) / 2`, `torch.cat([a, b], 1)`), so both backends agree to the bit.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import torch
from torch import fx, nn

from archspec.ir import Layer
from archspec.ops import JOIN_OPS, Join, Part

from . import layers
from .plan import CompileError


def part_class(part: Part, node: Layer) -> type[nn.Module]:
    """The torch module class a `Part` names: a `torch.nn` class or one of ours."""
    cls: object = None
    if part.library == "nn" and part.cls.isidentifier():
        cls = getattr(nn, part.cls, None)
    elif part.library == "archspec":
        cls = layers.PART_CLASSES.get(part.cls)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CompileError(f"`{node.op}` compiles to unknown module "
                           f"{part.library}.{part.cls}", node.span)  # fmt: skip
    return cls


# Operands per source line: a join of thousands of tensors written as one
# `a + b + …` expression would exceed Python's parser recursion limit.
CHUNK = 16


@dataclass(frozen=True, slots=True)
class JoinForm:
    graph: Callable[[fx.Graph, list[fx.Node]], fx.Node]
    operator: str = ""  # a left fold written with this operator (add, mul, mean)
    divide: bool = False  # then divided by the operand count (mean)

    def statements(self, target: str, xs: list[str]) -> list[str]:
        """`target = …` lines computing the join of `xs` in the same order of
        operations as `graph` (a left fold), so both backends agree to the bit."""
        if not self.operator:  # concatenation: one call, however many operands
            return [f"{target} = torch.cat([{', '.join(xs)}], 1)"]
        sep = f" {self.operator} "
        lines = [f"{target} = {sep.join(xs[:CHUNK])}"]
        lines += [
            f"{target} = {target}{sep}{sep.join(xs[start : start + CHUNK])}"
            for start in range(CHUNK, len(xs), CHUNK)
        ]
        if self.divide:
            lines.append(f"{target} = {target} / {len(xs)}")
        return lines


_OPERATORS = {"+": operator.add, "*": operator.mul}


def _fold(symbol: str, divide: bool) -> Callable[[fx.Graph, list[fx.Node]], fx.Node]:
    """The fx form of a left fold with `symbol` (`a + b + c`), then `/ n` if `divide`."""

    def graph_form(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        step = _OPERATORS[symbol]
        folded = reduce(lambda a, b: graph.call_function(step, (a, b)), args)
        return graph.call_function(operator.truediv, (folded, len(args))) if divide else folded

    return graph_form


def _cat(graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
    return graph.call_function(torch.cat, (list(args), 1))


def _join_form(op: Join) -> JoinForm:
    if not op.operator:
        return JoinForm(_cat)
    return JoinForm(_fold(op.operator, op.divides), op.operator, divide=op.divides)


# Each join of the registry (archspec/ops/joins.py) as its torch forms.
JOINS: dict[str, JoinForm] = {name: _join_form(op) for name, op in JOIN_OPS.items()}


def takes_a_list(is_layer: bool, count: int) -> bool:
    """How a graph child is called on its tensors: a layer joining several
    (MeanJoin, Resize) takes them as one list, which TorchScript can type; a
    block takes one argument per input. Both backends call through this."""
    return is_layer and count > 1
