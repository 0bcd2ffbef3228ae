"""The generated file: its namespace, classes, network class and (for a
family) a factory per variant."""

from __future__ import annotations

import ast as pyast
import inspect
import re
from pathlib import PurePath
from typing import Any

from archspec.blocks import Graph, Seq
from archspec.naming import Namespace, camel

from ...torch import layers
from ...torch.plan import BlockPlan
from ..codetree import LINE, Code, render
from ..emit import MODULE_NAMES, docstring, forward_source, safe_text, template
from ..layerforms import (
    definition,
)
from ..pysource import NotExpressible, literal
from .classes import ClassGen, signature
from .module import ModuleGen
from .values import (
    INPUTS,
    INST,
    Mismatch,
    ParamKind,
    Unsupported,
)

# ---------------------------------------------------------------- the file


def module_names(nets: list[Any], family: bool) -> tuple[Namespace, str, list[str]]:
    """The file's namespace, its network class and (`family`) its factories."""

    spec = nets[0].spec
    names = Namespace(MODULE_NAMES | {"math"})
    # a family file without a `name:` is named after its file (`_resnet.yaml`: `Resnet`)
    base_name = (spec.name or PurePath(spec.path).stem.strip("_")) if family else nets[0].name
    net_name = names.fresh(camel(base_name) or "Network", key=("network",))
    factory_names = [names.fresh(n.name, key=("factory", n.name)) for n in nets] if family else []
    return names, net_name, factory_names


def write_module(nets: list[Any], family: bool = False) -> str:
    """The parametric source for one network, or (`family`) every variant of
    a family file: the network class takes the variant's values and a
    factory per variant passes them."""
    from ...torch.plan import make_plan

    first = nets[0]
    spec = first.spec
    if spec is None:
        raise Unsupported("no spec to read the blocks from")
    names, net_name, factory_names = module_names(nets, family)
    roots = []
    for net in nets:
        plan = make_plan(net.root)
        if not isinstance(plan, BlockPlan):
            raise Unsupported("the network is one layer")
        roots.append(plan)
    try:
        mod = ModuleGen(spec, roots, frozenset(MODULE_NAMES | {"math"} | set(factory_names)), names)
        root_node = roots[0].node
        gen = ClassGen(mod, net_name, ("network",), None, [(p, s) for p, s in mod.roots])
        if family:
            keys = [k for k in mod.variant_keys if k in mod.varying]
            for k in keys:
                gen.network_params[k] = gen.locals.fresh(k, key=("global", k))
        mod.generate(gen)
    except (Mismatch, NotExpressible) as exc:
        raise Unsupported(str(exc)) from None
    used_before = set(mod.used)
    library_cls = [*layers.COMBINATORS.values(), *layers.PART_CLASSES.values()]
    for c in mod.order:
        mod.used.add(layers.COMBINATORS[c.node.TORCH])
    used = used_before | mod.used
    if isinstance(root_node, Graph):
        mod.used.add(layers.Graph)
        used.add(layers.Graph)
    functions = dict.fromkeys(f for cls, fs in layers.HELPERS.items() if cls in used for f in fs)
    library = [inspect.getsource(f).rstrip() for f in functions]
    library += [inspect.getsource(c).rstrip() for c in library_cls if c in used]
    library.append(inspect.getsource(layers.init_weights).rstrip())
    library += [
        "\n".join(definition(form)) for form in mod.forms.values() if form.name in mod.forms_used
    ]
    where = safe_text(first.root.span.file.replace("\\", "/").rsplit("/", 1)[-1]) or "spec"
    classes = [class_lines(c, forward_source, docstring, where) for c in mod.order]
    # the network
    title = safe_text(first.title or first.name) or net_name
    if family:
        doc = f"{title}: the network of every variant ({', '.join(factory_names)})."
    else:
        doc = f"{title} ({first.params:,} parameters, {first.macs:,} MACs)."
    classes.append(network_lines(gen, roots[0], forward_source, docstring(doc, 4)))
    factories = []
    for net, fname, (_plan, scope) in zip(nets, factory_names, mod.roots, strict=False):
        args = []
        for k, py in gen.network_params.items():
            value = scope[k]
            if isinstance(value, str) and value in mod.blocks:
                keyed = [c for c in mod.order if c.key[0] == value]
                text = keyed[0].name if keyed else literal(value)
            else:
                text = literal(value)
            args.append((py, Code(text)))
        for extra in gen.extra:
            args.append((extra.py, Code(literal(extra.values[scope[INST]]))))
        summary = safe_text(f"{net.name}: {net.params:,} parameters, {net.macs:,} MACs.")
        factories.append(
            [
                f"def {fname}() -> {net_name}:",
                *docstring(summary, 4),
                *render(Code(func=net_name, args=args), 4, "return ", ""),
            ]
        )
    outs = ", ".join(str(s) for s in first.outputs)
    output_doc = [f"Input: {first.input}. Output: {outs}."]
    if len(first.outputs) > 1:
        output_doc.append("forward returns a tuple: the main output first, then the side heads.")
    usage = f"`{factory_names[0]}()` (one factory per variant)" if family else f"`{net_name}()`"
    return template("parametric.py.j2").render(
        title=title,
        spec=where,
        usage=usage,
        output_doc=output_doc,
        math=reads_math([*classes, *factories]),
        library=library,
        classes=classes,
        factories=factories,
    )


def reads_math(blocks: list[list[str]]) -> bool:
    """Whether the written code calls `math` (`math.floor(theta * in_c)`), so
    the file imports it: read from the code itself, not recorded while
    expressions were only being tried."""
    tree = pyast.parse("\n".join(line for block in blocks for line in block))
    return any(
        isinstance(node, pyast.Attribute)
        and isinstance(node.value, pyast.Name)
        and node.value.id == "math"
        for node in pyast.walk(tree)
    )


def variant_annotation(gen: ClassGen, key: str) -> str:
    """`: list[int]`, `: type[Basic | Bottleneck]` for a family's variant key."""
    values = [scope[key] for _plan, scope in gen.instances]
    module = gen.module
    if all(isinstance(v, str) and v in module.blocks for v in values):
        names = [c.name for c in module.order if c.key[0] in values]
        return f": type[{' | '.join(dict.fromkeys(names))}]" if names else ""
    if all(type(v) is list and all(type(x) is int for x in v) for v in values):
        return ": list[int]"
    kinds = {type(v) for v in values}
    if len(kinds) == 1 and next(iter(kinds)) in (int, float, bool, str):
        return f": {next(iter(kinds)).__name__}"
    return ""


def signature_lines(gen: ClassGen) -> list[str]:
    params = ["self"]
    for p in signature(gen):
        if p.kind is ParamKind.INPUT:
            values = [s[INPUTS][p.index] for _plan, s in gen.instances]
        elif p.kind is ParamKind.DECISION:
            values = list(p.values.values())
        elif gen.bdef is None:
            values = []
        else:
            values = [s[p.spec] for _plan, s in gen.instances]
        kinds = {type(v) for v in values}
        note = ""
        if len(kinds) == 1 and next(iter(kinds)) in (int, float, bool, str, list):
            note = f": {next(iter(kinds)).__name__}"
        if p.kwonly and "*" not in params:
            params.append("*")
        eq = " = " if note else "="
        params.append(f"{p.py}{note}" + (f"{eq}{p.default}" if p.default is not None else ""))
    if gen.bdef is None:  # a family's network: the variant's values, then its decisions
        params[1:1] = [
            f"{py}{variant_annotation(gen, key)}" for key, py in gen.network_params.items()
        ]
    line = f"    def __init__({', '.join(params)}) -> None:"
    if len(line) <= LINE:
        return [line]
    return ["    def __init__(", *(f"        {p}," for p in params), "    ) -> None:"]


def class_lines(gen: ClassGen, forward_source: Any, docstring: Any, where: str) -> list[str]:

    node = gen.node
    base = layers.COMBINATORS[node.TORCH].__name__
    doc = f"`{safe_text(gen.key[0])}` block of {where}: {node.DOC}"
    lines = [f"class {gen.name}({base}):", *docstring(doc, 4), ""]
    if gen.key[0] in gen.module.spec_named:  # its instances' names, where a variant picks it
        lines += [f"    spec_name = {literal(gen.key[0])}", ""]
    lines += [*signature_lines(gen), *gen.lines]
    if gen.out_c_used:  # the channels of its output, which the next block reads
        lines.append(f"        self.out_c = {gen.input_formula()}")
    formula = gen.out_formula() if gen.formula_used else None
    if formula is not None:
        reads, text = formula
        params = ", ".join(f"{gen.spec_params[name]}: int" for name in reads)
        lines += [
            "",
            "    @staticmethod",
            f"    def out_channels({params}) -> int:",
            '        """The channels of its output, which the next block reads."""',
            f"        return {text}",
        ]
    if isinstance(node, Graph):
        params, returns, body = forward_source(gen.instances[0][0])
        lines += ["", f"    def forward(self, {params}) -> {returns}:", *body]
    return lines


def network_lines(gen: ClassGen, plan: BlockPlan, forward_source: Any, doc: list[str]) -> list[str]:
    node = plan.node
    base = "nn.Module" if isinstance(node, Seq | Graph) else layers.COMBINATORS[node.TORCH].__name__
    lines = [
        f"class {gen.name}({base}):",
        *doc,
        "",
        *signature_lines(gen),
        *gen.lines,
        "        init_weights(self)",
    ]
    if isinstance(node, Graph):
        params, returns, body = forward_source(plan)
    elif isinstance(node, Seq):
        assigned = {
            m.group(1) for line in gen.lines if (m := re.match(r"        self\.(\w+) = ", line))
        }
        if assigned == {c.name for c in plan.children}:
            params, returns, body = forward_source(plan)
        else:
            params, returns = "x: torch.Tensor", "torch.Tensor"
            body = [
                "        for layer in self.children():",
                "            x = layer(x)",
                "        return x",
            ]
    else:
        return lines
    return [*lines, "", f"    def forward(self, {params}) -> {returns}:", *body]
