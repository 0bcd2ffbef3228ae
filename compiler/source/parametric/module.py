"""Every class of one generated file (`ModuleGen`): instances grouped by
class, children in runs and loops, the conditions around optional ones."""

from __future__ import annotations

from collections import Counter
from typing import Any

from archspec import ast
from archspec.blocks import Graph, Seq
from archspec.elaborate.scope import BUILTINS
from archspec.ir import Block
from archspec.naming import Namespace, camel

from ...torch import layers
from ...torch.plan import BlockPlan, LayerPlan, Plan
from ..channelflow import Source, link
from ..codetree import Code, render
from ..layerforms import (
    find_forms,
)
from ..pysource import literal
from .classes import ClassGen
from .conditions import condition
from .flow import ChannelFlow
from .layercode import LayerCode
from .values import (
    INPUTS,
    INST,
    LOOP,
    NUMBERED,
    Mismatch,
    Unsupported,
    anywhere,
    copy_number,
    entry,
    instance_scope,
    loop_stop,
    members_name,
    same,
    shape_value,
)


class ModuleGen(LayerCode, ChannelFlow):
    """Every class of one generated file."""

    def __init__(
        self,
        spec: ast.Spec,
        roots: list[BlockPlan],
        reserved: frozenset[str],
        names: Namespace,
    ) -> None:
        self.spec = spec
        self.reserved = reserved
        self.blocks = {b.name: b for b in spec.blocks}
        self.used: set[type] = set()
        self.classes: dict[Any, ClassGen] = {}
        self.order: list[ClassGen] = []
        self.names = names
        self.inst_scope: dict[int, dict] = {}
        self.groups: dict[Any, list[tuple[BlockPlan, dict]]] = {}
        self.roots = []
        variants = dict(spec.variants)
        self.globals_: set[str] = set()
        for root in roots:
            # the root's provenance: the file constants of its variant
            constants = {**BUILTINS, **dict(root.node.bound)}
            self.globals_ |= {name for name, _value in root.node.bound}
            top = {
                **constants,
                "in": shape_value(root.node.inputs[0]),
                INST: len(self.roots),
                INPUTS: [root.node.inputs[0].c],
            }
            self.roots.append((root, top))
            self._scopes(root, constants, [])
        self.variant_keys = list(dict.fromkeys(k for _v, o in variants.items() for k, _e in o))
        # the file constants whose value differs between the networks written (a family's)
        self.varying = {
            k
            for k in self.variant_keys
            if any(not same(s.get(k), self.roots[0][1].get(k)) for _p, s in self.roots)
        }
        self.sources: dict[int, Source] = {}
        self.parents: dict[int, BlockPlan] = {}
        for root, _scope in self.roots:
            sources, parents = link(root)
            self.sources.update(sources)
            self.parents.update(parents)
        self.forms = find_forms(
            [plan for plan, _scope in self.roots],
            lambda wanted: self.names.fresh(wanted, key=("form", wanted)),
            lambda plan: entry(plan.node),
        )
        self.forms_used: set[str] = set()
        self.spec_named: set[str] = set()  # blocks a file constant chooses (`spec_name`)
        # a block's parameter or local name never shadows a layer function
        self.reserved = self.reserved | {form.name for form in self.forms.values()}

    # ------------------------------------------------------------ instance scopes
    def _scopes(self, plan: BlockPlan, constants: dict, stack: list[str]) -> None:
        """Every spec block instance below `plan`, grouped by class, with its
        scope as the elaborator recorded it (`constants`: its network's)."""
        for child in plan.children:
            if not isinstance(child, BlockPlan):
                continue
            node = child.node
            if node.block:
                if node.block in stack:
                    raise Unsupported(f"block `{node.block}` calls itself")
                group = self.groups.setdefault(self.class_key(node), [])
                inner = {**instance_scope(node, constants), INST: len(group)}
                group.append((child, inner))
                self.inst_scope[id(child)] = inner
                self._scopes(child, constants, [*stack, node.block])
            else:
                self._scopes(child, constants, stack)

    def class_key(self, node: Block) -> tuple:
        key: tuple = (node.block, type(node))
        if isinstance(node, Graph):
            key += (node.wires, node.input_names, node.output_names)
        return key

    # ------------------------------------------------------------ classes
    def class_for(self, key: Any) -> ClassGen:
        """The class of a spec block, generated (children first) on first use."""
        if key in self.classes:
            return self.classes[key]
        instances = self.groups[key]
        block = key[0]
        gen = ClassGen(
            self,
            self.names.fresh(camel(block) or "Block", key=key),
            key,
            instances[0][0].node.definition,
            instances,
        )
        self.classes[key] = gen
        self.generate(gen)
        self.order.append(gen)
        return gen

    def generate(self, gen: ClassGen) -> None:
        occs = [(scope, plan) for plan, scope in gen.instances]
        node = gen.node
        if isinstance(node, Seq | Graph):
            gen.lines = ["        super().__init__()", *self.statements(gen, occs, 8)]
            return
        kwargs = [
            (k, [(s, p.node.torch_kwargs()[k]) for s, p in occs]) for k in node.torch_kwargs()
        ]
        if any(len(p.node.torch_kwargs()) != len(kwargs) for _s, p in occs):
            raise Mismatch("combinator options differ")
        self.used.add(layers.COMBINATORS[node.TORCH])
        head = Code(
            func="super().__init__",
            args=[(k, Code(gen.value(items, [], k.rstrip("_")))) for k, items in kwargs],
        )
        gen.lines = [*render(head, 8, "", ""), *self.statements(gen, occs, 8)]

    # ------------------------------------------------------------ children
    def segments(self, plan: BlockPlan) -> list[tuple[tuple, list[Plan]]]:
        """The children in runs: copies of one spec entry numbered in order.
        A run is keyed by its spec entry and name stem, not by its number: an
        optional child before it (MobileNet's expansion conv) shifts the
        numbers of those after it between instances."""
        out: list[tuple[tuple, list[Plan]]] = []
        seen: Counter[tuple] = Counter()
        for child in plan.children:
            if isinstance(child, LayerPlan) and child.join:
                continue
            span = entry(child.node)
            match = NUMBERED.match(child.name)
            base, number = (match.group(1), int(match.group(2))) if match else (child.name, 0)
            chooser = self.chooser(child)
            stem = f"{{{chooser}}}" if chooser else base  # `{unit}`: the block a variant names
            if out and match and out[-1][0][0] == span and out[-1][0][1] == stem:
                last = out[-1][1][-1]
                if last.name == f"{base}{number - 1}":
                    out[-1][1].append(child)
                    continue
            out.append(((span, stem, seen[(span, stem)]), [child]))
            seen[(span, stem)] += 1
        return out

    def chooser(self, plan: Plan) -> str | None:
        """The file constant naming the block this child is an instance of
        (a family's `unit(64)`, `unit` being `basic` or `bottleneck`)."""
        if not isinstance(plan, BlockPlan) or not plan.node.block:
            return None
        call = plan.node.call
        if call is None or not isinstance(call.head, str) or call.head == plan.node.block:
            return None
        return call.head if call.head in self.varying else None

    def chosen_stem(self, gen: ClassGen, stem: str, occs: list[tuple[dict, Plan]]) -> str:
        """`{unit.spec_name}` for the f-string naming an instance of the block
        a file constant chooses; the classes it may be get that attribute."""
        for _s, p in occs:
            self.spec_named.add(p.node.block)  # type: ignore[union-attr]
        return f"{{{gen.python(ast.Var(stem[1:-1]))}.spec_name}}"

    def children_code(self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]]) -> list[tuple]:
        """[(present-in instances, segment key, [(scope, members)])] in order."""
        per = [(scope, dict(self.segments(plan))) for scope, plan in occs]
        order: list[tuple] = []
        for _scope, segs in per:
            at = 0
            for key in segs:
                if key in order:
                    at = order.index(key) + 1
                else:
                    order.insert(at, key)
                    at += 1
        out = []
        for key in order:
            present = [(s, segs[key]) for s, segs in per if key in segs]
            out.append((tuple(id(s) for s, _m in present), key, present))
        return out

    def statements(
        self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]], indent: int
    ) -> list[str]:
        lines: list[str] = []
        groups = self.children_code(gen, occs)
        everyone = tuple(id(s) for s, _p in occs)
        index = 0
        while index < len(groups):
            present = groups[index][0]
            run = []
            while index < len(groups) and groups[index][0] == present:
                run.append(groups[index])
                index += 1
            inner = indent if present == everyone else indent + 4
            body: list[str] = []
            for _present, key, items in run:
                body += self.segment_statements(gen, key, items, inner)
            if present != everyone:
                yes = [s for s, _p in occs if id(s) in present]
                no = [s for s, _p in occs if id(s) not in present]
                name = run[0][2][0][1][0].name
                lines.append(f"{' ' * indent}if {condition(gen, yes, no, name)}:")
            lines += body
        return lines

    def segment_statements(self, gen: ClassGen, key: tuple, items: list, indent: int) -> list[str]:
        pad = " " * indent
        code, name = self.segment_code(gen, key, items)
        if isinstance(code, list):  # copies that differ: one statement each
            return [line for n, c in code for line in render(c, indent, f"self.{n} = ", "")]
        if code.comp is not None:  # a loop: add each copy under its name
            keyexpr, value, clause = code.comp
            add = Code(func="self.add_module", args=[(None, Code(keyexpr)), (None, value)])
            return [f"{pad}{clause}:", *render(add, indent + 4, "", "")]
        if isinstance(name, Code):  # a name that depends on the instance
            return render(
                Code(func="self.add_module", args=[(None, name), (None, code)]), indent, "", ""
            )
        return render(code, indent, f"self.{name} = ", "")

    def segment_code(self, gen: ClassGen, key: tuple, items: list) -> tuple[Any, str | Code]:
        """One segment across occurrences: a single child or a loop."""
        _span, base, _ordinal = key
        counts = [len(members) for _s, members in items]
        starts = {copy_number(members[0].name) for _s, members in items}
        start = min(starts)
        looped = start and (max(counts) > 1 or len(set(counts)) > 1)
        if not looped:
            occs = [(s, members[0]) for s, members in items]
            if base.startswith("{") and len({p.name for _s, p in occs}) > 1 and len(starts) == 1:
                name: str | Code = Code(f'f"{self.chosen_stem(gen, base, occs)}{start}"')
            else:
                name = self.child_name(gen, occs)
            return self.choose(gen, occs, members_name(items)), name
        if len(starts) > 1:
            raise Mismatch("copies numbered from different places")
        count_items = [(s, n) for (s, _m), n in zip(items, counts, strict=True)]
        total = gen.value(count_items, anywhere(gen.counts), "count")
        body = [
            ({**s, "i": j + 1, LOOP: True}, m)
            for s, members in items
            for j, m in enumerate(members)
        ]
        gen.in_loop += 1
        try:
            value = self.choose(gen, body, base)
        except Mismatch:
            gen.in_loop -= 1
            if len(set(counts)) > 1:
                raise
            return self.unrolled(gen, items), ""
        gen.in_loop -= 1
        offset = f"i + {start - 1}" if start > 1 else "i"
        stop = loop_stop(total)
        stem = self.chosen_stem(gen, base, body) if base.startswith("{") else base
        return Code(comp=(f'f"{stem}{{{offset}}}"', value, f"for i in range(1, {stop})")), base

    def child_name(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> str | Code:
        """The child's name, or where instances name it differently (a child
        before it is optional), the expression choosing the name."""
        names: dict[str, list[dict]] = {}
        for s, p in occs:
            names.setdefault(p.name, []).append(s)
        if len(names) == 1:
            return occs[0][1].name
        *others, last = names.items()
        result = Code(literal(last[0]))
        for name, yes in reversed(others):
            rest = [s for s, _p in occs if all(s is not t for t in yes)]
            result = Code(choice=(Code(literal(name)), condition(gen, yes, rest, "name"), result))
        return result
