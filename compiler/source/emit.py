"""What both source writers share (the unrolled form in `codegen.py`, the
parametric form in `parametric/`): the names every generated file defines,
the network class's name, spec text made safe for comments and docstrings,
literals, docstrings, a seq or graph block's `forward`, and the templates."""

from __future__ import annotations

import textwrap
from functools import cache
from typing import Any

import jinja2

from archspec.blocks import Graph
from archspec.ir import Model
from archspec.naming import Namespace, camel

from ..torch import layers
from ..torch.forms import JOINS, takes_a_list
from ..torch.plan import BlockPlan, CompileError, LayerPlan
from .pysource import NotExpressible
from .pysource import literal as plain_literal

LINE = 99  # the longest line we write (the repo's ruff limit is 100)

# Names every generated file defines at module level.
MODULE_NAMES = frozenset({"OrderedDict", "torch", "nn", "init_weights", "mean_of",
                          *(cls.__name__ for cls in layers.COMBINATORS.values()),
                          *layers.PART_CLASSES})  # fmt: skip


def network_class(net: Model) -> str:
    """The generated network class's name (`googlenet_aux` → `GooglenetAux`)."""
    return Namespace(MODULE_NAMES).fresh(camel(net.name) or "Network")


def safe_text(text: Any) -> str:
    """Spec text fit for a comment or docstring: one line, printable, and no
    quote or backslash that could end a string or start an escape."""
    clean = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(clean.replace("\\", "/").replace('"', "'").split())


def literal(value: Any) -> str:
    """A Part argument as Python source, written as the parametric form writes
    its values (`pysource.literal`: plain literals only)."""
    try:
        return plain_literal(value)
    except NotExpressible as exc:
        raise CompileError(str(exc)) from None


def wrapped(head: str, value: Any, suffix: str) -> list[str]:
    """`head` + the literal + `suffix`, a long tuple split one item per line."""
    line = f"{head}{literal(value)}{suffix}"
    if len(line) <= LINE or not isinstance(value, tuple) or not value:
        return [line]
    pad = " " * (len(head) - len(head.lstrip()))
    lines = [f"{head}("]
    for item in value:
        lines += wrapped(pad + "    ", item, ",")
    return [*lines, f"{pad}){suffix}"]


def docstring(text: str, indent: int) -> list[str]:
    pad = " " * indent
    lines = textwrap.wrap(text, LINE - indent - 6) or [""]
    if len(lines) == 1:
        return [f'{pad}"""{lines[0]}"""']
    return [f'{pad}"""{lines[0]}', *(pad + line for line in lines[1:]), f'{pad}"""']


def forward_source(plan: BlockPlan) -> tuple[str, str, list[str]]:
    """(parameters, return annotation, body) of a seq or graph forward."""
    local = Namespace({"self", "torch", "nn"})
    node = plan.node
    if not isinstance(node, Graph):
        lines = [f"        x = self.{child.name}(x)" for child in plan.children]
        return "x: torch.Tensor", "torch.Tensor", [*lines, "        return x"]
    params = ", ".join(f"{local.fresh(t)}: torch.Tensor" for t in node.input_names)
    joins = {c.name: c.join for c in plan.children if isinstance(c, LayerPlan) and c.join}
    layer_names = {c.name for c in plan.children if isinstance(c, LayerPlan)}
    lines = []
    for name, sources in node.wires:
        args = [local.fresh(s) for s in sources]
        target = local.fresh(name)
        join = joins.get(name)
        if join:
            lines += [f"        {line}" for line in JOINS[join].statements(target, args)]
        else:
            call = module_call(name, args, name in layer_names)
            lines.append(f"        {target} = {call}")
    outs = [local.fresh(o) for o in node.output_names]
    returns = "torch.Tensor"
    if len(outs) > 1:
        returns = f"tuple[{', '.join([returns] * len(outs))}]"
    return params, returns, [*lines, f"        return {', '.join(outs)}"]


def module_call(name: str, args: list[str], layer: bool) -> str:
    """A child called on graph tensors; a layer joining several (MeanJoin)
    takes them as one list, a block one argument per input."""
    inner = ", ".join(args)
    return f"self.{name}([{inner}])" if takes_a_list(layer, len(args)) else f"self.{name}({inner})"


@cache
def template(name: str) -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("archspec.compiler.source", "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML; every value is escaped by us
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name)
