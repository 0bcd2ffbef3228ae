"""IR → one standalone Python module (depends only on torch), via Jinja2.

The generated file holds the combinator classes and `init_weights`, copied
from `compiler/torch/layers.py` (one definition for both backends), one helper class
per block of the spec (`class Inception(Concat)`, `class Cell(Graph)` with its
wired `forward`), and the network class, named after the spec, whose
`__init__` builds the same submodule tree as `compiler.torch.builder` (both follow
`compiler/torch/plan.py`).

Nothing from the spec becomes code unchecked: module names come from the plan
(validated identifiers), local variable and class names pass through
`Namespace`, literals are written with `repr` (only plain literal types are
accepted), and spec text in comments and docstrings is reduced to one line of
printable characters without quotes or backslashes. Output is byte-for-byte
deterministic: no dates, absolute paths or set ordering.
"""

from __future__ import annotations

import inspect
import keyword
import textwrap
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from archspec.blocks import Graph, Seq
from archspec.ir import Block, Node
from archspec.naming import Namespace, camel

from ..torch import layers
from ..torch.forms import part_class
from ..torch.plan import BlockPlan, CompileError, LayerPlan, Plan, make_plan
from .emit import (
    LINE,
    MODULE_NAMES,
    docstring,
    forward_source,
    literal,
    network_class,
    safe_text,
    template,
    wrapped,
)
from .parametric import Unsupported, write_module

if TYPE_CHECKING:
    from archspec.ir import Model
    from archspec.ops import Part


def generate_source(net: Model, unrolled: bool = False) -> str:
    """The standalone source for `net` (what `archspec compile` writes): one
    class per spec block with loops (`compiler/source/parametric/`), or with
    `unrolled` every module spelled out with its spec line. A network the
    parametric writer says it cannot express (`Unsupported`, decided from the
    IR alone, never by running its output) is written unrolled."""
    if not unrolled:
        try:
            return write_module([net])
        except Unsupported:
            pass
    return Generator(net).render()


def generate_family(nets: list[Model]) -> str:
    """One module for every variant of a family file: the network class, its
    blocks' classes and a factory per variant (`resnet50()`)."""
    try:
        return write_module(nets, family=True)
    except Unsupported as exc:
        raise CompileError(
            f"cannot write one module for this family ({exc.message}); "
            "compile each variant on its own instead",
            nets[0].root.span,
        ) from None


@dataclass
class Helper:
    name: str
    base: str
    doc: list[str]
    params: str = ""
    returns: str = ""
    forward: list[str] | None = None


class Generator:
    def __init__(self, net: Model) -> None:
        self.net = net
        self.plan = make_plan(net.root)
        self.classes = Namespace(MODULE_NAMES)
        self.helpers: dict[Any, Helper] = {}
        self.used: set[type] = {layers.Sequential}
        self.cls = self.classes.fresh(network_class(net), key=("network",))

    # ---------------------------------------------------------------- output
    def render(self) -> str:
        root = self.plan
        assert isinstance(root, BlockPlan)
        spec = self.where(root.node, with_line=False)
        title = safe_text(self.net.title or self.net.name) or self.cls
        if isinstance(root.node, Seq | Graph):
            base = "nn.Module"
            init = ["        super().__init__()"]
            for child in root.children:
                if isinstance(child, LayerPlan) and child.join:
                    continue
                init += self.expr(child, 8, f"self.{child.name} = ", "")
            params, returns, forward = self.forward(root)
        else:  # another combinator at the top: the class is that combinator
            base = self.class_for(root)
            init = ["        super().__init__(", *self.arguments(root, 12), "        )"]
            params, returns, forward = "", "", None
        outputs = [f"Input: {self.net.input}. "
                   f"Output: {', '.join(str(s) for s in self.net.outputs)}."]  # fmt: skip
        if len(self.net.outputs) > 1:
            heads = ", ".join(root.node.output_names) if isinstance(root.node, Graph) else ""
            outputs.append(f"forward returns the tuple ({heads}): the main "
                           "output first, then the side heads.")  # fmt: skip
        output_doc = textwrap.wrap(safe_text(" ".join(outputs)), 88)
        functions = dict.fromkeys(f for cls, fs in layers.HELPERS.items() if cls in self.used
                                  for f in fs)  # fmt: skip
        library = [inspect.getsource(f).rstrip() for f in functions]
        library += [inspect.getsource(cls).rstrip() for cls in layers.COMBINATORS.values()
                    if cls in self.used]  # fmt: skip
        library += [inspect.getsource(cls).rstrip() for cls in layers.PART_CLASSES.values()
                    if cls in self.used]  # fmt: skip
        library.append(inspect.getsource(layers.init_weights).rstrip())
        doc = docstring(f"{title} ({self.net.params:,} parameters, {self.net.macs:,} MACs).", 4)
        text = template("module.py.j2").render(
            title=title, spec=spec, cls=self.cls, base=base, output_doc=output_doc,
            library=library, helpers=list(self.helpers.values()), doc=doc, init=init,
            params=params, returns=returns, forward=forward,
        )  # fmt: skip
        return text

    def where(self, node: Node, with_line: bool = True) -> str:
        """`googlenet.yaml:24`: the file name only, so output is the same on
        every machine."""
        span = node.span
        name = safe_text(PurePath(span.file.replace("\\", "/")).name) or "spec"
        return f"{name}:{span.line}" if with_line else name

    def comment(self, node: Node) -> str:
        note = safe_text(node.notation or (node.block if isinstance(node, Block) else "") or "")
        return f"# {self.where(node)}" + (f"  {note}" if note else "")

    # ---------------------------------------------------------------- __init__
    def expr(self, plan: Plan, indent: int, prefix: str, suffix: str) -> list[str]:
        """Lines constructing `plan`'s module: `prefix` + call + `suffix`."""
        pad = " " * indent
        comment = self.comment(plan.node)
        if isinstance(plan, LayerPlan):
            if plan.join:
                raise CompileError(f"a `{plan.join}` join belongs in a graph", plan.node.span)
            if len(plan.parts) == 1:
                return self.call(pad + prefix, self.part(plan.parts[0], plan), suffix, comment)
            head = f"{pad}{prefix}{self.class_name(layers.Sequential)}("
            lines = [self.with_comment(head, comment)]
            for part in plan.parts:
                lines += self.call(f"{pad}    {part.name}=", self.part(part, plan), ",", "")
            return [*lines, f"{pad}){suffix}"]
        head = f"{pad}{prefix}{self.class_for(plan)}("
        body = self.arguments(plan, indent + 4)
        if not body:
            return [self.with_comment(f"{head}){suffix}", comment)]
        return [self.with_comment(head, comment), *body, f"{pad}){suffix}"]

    def arguments(self, plan: BlockPlan, indent: int) -> list[str]:
        pad = " " * indent
        lines = [f"{pad}{key}={literal(value)}," for key, value in plan.node.torch_kwargs().items()]
        for child in plan.children:
            if isinstance(child, LayerPlan) and child.join:
                continue
            lines += self.expr(child, indent, f"{child.name}=", ",")
        return lines

    def part(self, part: Part, plan: LayerPlan) -> tuple[str, list[tuple[str, Any]]]:
        cls = part_class(part, plan.node)
        name = f"nn.{part.cls}" if part.library == "nn" else self.class_name(cls)
        args: list[tuple[str, Any]] = [("", a) for a in part.args]
        for key, value in part.kwargs:
            if not key.isidentifier() or keyword.iskeyword(key):
                raise CompileError(f"bad keyword argument `{key}`", plan.node.span)
            args.append((f"{key}=", value))
        return name, args

    def call(self, head: str, call: tuple[str, list[tuple[str, Any]]], suffix: str,
             comment: str) -> list[str]:  # fmt: skip
        """One line if it fits, else one argument per line."""
        func, args = call
        line = f"{head}{func}({', '.join(key + literal(value) for key, value in args)}){suffix}"
        if len(line) <= LINE:
            return [self.with_comment(line, comment)]
        pad = " " * (len(head) - len(head.lstrip()) + 4)
        lines = [self.with_comment(f"{head}{func}(", comment)]
        for key, value in args:
            lines += wrapped(pad + key, value, ",")
        return [*lines, f"{pad[:-4]}){suffix}"]

    def with_comment(self, line: str, comment: str) -> str:
        if not comment:
            return line
        room = LINE - len(line) - 2
        if room < len("# x:1"):
            return line  # too deep to annotate; the enclosing call carries the line
        if len(comment) > room:
            comment = comment[: room - 1] + "…"
        return f"{line}  {comment}"

    # ---------------------------------------------------------------- classes
    def class_name(self, cls: type) -> str:
        self.used.add(cls)
        return cls.__name__

    def class_for(self, plan: BlockPlan) -> str:
        """The class constructing a block: its combinator, or a helper named
        after the spec's block (`Inception(Concat)`, `Cell(Graph)`)."""
        node = plan.node
        base_cls = layers.COMBINATORS.get(node.TORCH)
        if base_cls is None:
            raise CompileError(f"no torch combinator for a `{node.KIND}` block", node.span)
        base = self.class_name(base_cls)
        graph = isinstance(node, Graph)
        if not graph and not node.block:
            return base
        key: tuple[Any, ...] = (node.block, type(node))
        if isinstance(node, Graph):
            key += (node.wires, node.input_names, node.output_names)
        if key not in self.helpers:
            name = self.classes.fresh(camel(node.block or node.name) or "Block", key=key)
            what = f"`{safe_text(node.block)}` block" if node.block else "A graph block"
            doc = docstring(f"{what} of {self.where(node, with_line=False)}: {node.DOC}", 4)
            helper = Helper(name, base, doc)
            if graph:
                helper.params, helper.returns, helper.forward = self.forward(plan)
            self.helpers[key] = helper
        return self.helpers[key].name

    # ---------------------------------------------------------------- forward
    def forward(self, plan: BlockPlan) -> tuple[str, str, list[str]]:
        return forward_source(plan)
