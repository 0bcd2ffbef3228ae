"""Channels flowing between children: what a child reads (`in_c`, the
child before it, `Bottleneck.out_channels(width)`) and a block
instance's call with its arguments (a mixin of `ModuleGen`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from archspec import ast
from archspec.blocks import Seq

from ...torch.plan import BlockPlan, LayerPlan, Plan
from ..channelflow import PARENT_INPUT, UNKNOWN, passes_channels
from ..codetree import Code
from ..pysource import NotExpressible, literal
from .classes import ClassGen, signature
from .values import (
    INPUTS,
    INST,
    LOOP,
    Mismatch,
    Own,
    ParamKind,
    anywhere,
    entry,
    expr_cand,
)


@dataclass(frozen=True)
class Reading:
    """The channels a child reads, as Python, and what that text relies on:
    the classes whose `out_channels` formula it calls and those whose `out_c`
    attribute it reads. Finding a reading changes nothing; the classes learn
    that they must write the formula or attribute only once the text is used
    (an alternative tried and dropped leaves no `out_channels` behind)."""

    text: str
    formulas: tuple[ClassGen, ...] = ()
    attributes: tuple[ClassGen, ...] = ()


class ChannelFlow:
    """How `ModuleGen` writes the channels a child reads and a block call."""

    def input_channels(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> str | None:
        """Python for the channels one child reads in every occurrence: the
        output of the child before it, or the block's `in_c`; in a loop the
        first copy reads what precedes the loop and the others the copy
        before (`64 if i == 1 else unit.out_channels(64)`). None: unknown."""
        try:
            found = self._loop_reads(gen, occs)
        except (Mismatch, NotExpressible):
            return None
        if found is None:
            return None
        for cls in found.formulas:
            cls.formula_used = True
        for cls in found.attributes:
            cls.out_c_used = True
        return found.text

    def _loop_reads(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> Reading | None:
        if not any(LOOP in scope for scope, _p in occs):
            return self._reads(gen, occs)
        first = [(scope, p) for scope, p in occs if scope["i"] == 1]
        later = [(scope, p) for scope, p in occs if scope["i"] != 1]
        a = self._reads(gen, first) if first else None
        b = self._reads(gen, later) if later else a
        if a is None or b is None:
            return None
        if a.text == b.text:
            return a
        text = f"{a.text} if i == 1 else {b.text}"
        return Reading(text, a.formulas + b.formulas, a.attributes + b.attributes)

    def _reads(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> Reading | None:
        sources = [self.sources.get(id(p), UNKNOWN) for _s, p in occs]
        if all(src is PARENT_INPUT for src in sources):
            parents = [self.parents.get(id(p)) for _s, p in occs]
            mine = {id(plan) for plan, _scope in gen.instances}
            if all(parent is not None and id(parent) in mine for parent in parents):
                if gen.bdef is not None:
                    return Reading(gen.input_param(0))
                channels = {p.node.inputs[0].c for _s, p in occs}  # the network's input
                return Reading(literal(channels.pop())) if len(channels) == 1 else None
            if any(parent is None or id(parent) in mine for parent in parents):
                return None
            return self._reads(gen, [(s, q) for (s, _p), q in zip(occs, parents, strict=True)])
        if any(isinstance(src, str) for src in sources):
            return None
        return self.output_channels(gen, [(s, q) for (s, _p), q in zip(occs, sources, strict=True)])

    def output_channels(self, gen: ClassGen, occs: list[tuple[dict, Any]]) -> Reading | None:
        """Python for the output channels of one child in every occurrence."""
        first = occs[0][1]
        if any(type(p) is not type(first) or entry(p.node) != entry(first.node) for _s, p in occs):
            return None
        if isinstance(first, LayerPlan):
            width = next((e for tag, e in self.own_exprs(first) if tag == "out"), None)
            if width is not None:
                text = gen.try_cand(expr_cand(width), [(s, p.node.output.c) for s, p in occs])
                return Reading(text) if text is not None else None
            if all(passes_channels(p) for _s, p in occs):
                return self._reads(gen, occs)
            return None
        if first.node.block:
            return self.formula_call(gen, occs)
        if isinstance(first.node, Seq) and all(p.children for _s, p in occs):
            return self.output_channels(gen, [(s, p.children[-1]) for s, p in occs])
        return None

    def formula_call(self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]]) -> Reading | None:
        """`Bottleneck.out_channels(width)` for block instances, where every
        class involved has an output formula that does not read its input."""
        keys = sorted({self.class_key(p.node) for _s, p in occs}, key=repr)
        classes = [self.class_for(k) for k in keys]
        formulas = [f for c in classes if (f := c.out_formula()) is not None]
        if len(formulas) < len(classes) or any(f[0] != formulas[0][0] for f in formulas):
            return self.out_c_attribute(gen, occs, classes)
        reads = formulas[0][0]
        func, texts = self.instance_args(gen, occs, only=set(reads))
        args = []
        for name in reads:
            param = next(p for p in signature(classes[0]) if p.spec == name)
            args.append(texts.get(name, param.default or ""))
        if not all(args):
            return None
        return Reading(f"{func}.out_channels({', '.join(args)})", formulas=tuple(classes))

    def out_c_attribute(
        self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]], classes: list[ClassGen]
    ) -> Reading | None:
        """`self.dense_block_1.out_c`: the channels a child of this class
        (built by a statement before) records, where its output depends on
        its input, as torchvision's DenseNet counts `num_features`."""
        mine = {id(plan) for plan, _scope in gen.instances}
        names = {p.name for _s, p in occs}
        if (
            len(classes) != 1
            or len(names) != 1
            or any(LOOP in s for s, _p in occs)
            or not all(id(self.parents.get(id(p))) in mine for _s, p in occs)
            or classes[0].input_formula() is None
        ):
            return None
        return Reading(f"self.{names.pop()}.out_c", attributes=(classes[0],))

    def instance(self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]]) -> Code:
        """A call of a spec block's class with its arguments."""
        func, _texts, args = self._instance(gen, occs, None)
        return Code(func=func, args=args)

    def instance_args(
        self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]], only: set[str]
    ) -> tuple[str, dict[str, str]]:
        """The class a call names and the expressions of the arguments in `only`."""
        func, texts, _args = self._instance(gen, occs, only)
        return func, texts

    def _instance(
        self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]], only: set[str] | None
    ) -> tuple[str, dict[str, str], list[tuple[str | None, Code]]]:
        keys = {self.class_key(p.node) for _s, p in occs}
        classes = [self.class_for(k) for k in sorted(keys, key=repr)]
        sig = [(p.kind, p.spec, p.default is None) for p in signature(classes[0])]
        if any([(p.kind, p.spec, p.default is None) for p in signature(c)] != sig for c in classes):
            raise Mismatch("blocks with different parameters")
        if len(classes) == 1:
            func = classes[0].name
        else:  # the block a parameter names (a family's `unit`)
            heads = [p.node.call.head if p.node.call else None for _s, p in occs]
            head = heads[0]
            if not all(h == head for h in heads) or not isinstance(head, str):
                raise Mismatch("block chosen by an expression")
            items = [(s, p.node.block) for s, p in occs]
            found = gen.try_cand(expr_cand(ast.Var(head)), items)
            if found is None:
                raise Mismatch("block chosen by an unknown name")
            func = found
        cls = classes[0]
        inner = [self.inst_scope[id(p)] for _s, p in occs]
        given_by = [dict(p.node.given) for _s, p in occs]  # what each call wrote
        args: list[tuple[str | None, Code]] = []
        texts: dict[str, str] = {}
        for param in signature(cls):
            if only is not None and param.spec not in only:
                continue
            own: list[Own] = []
            role = reads = None
            if param.kind is ParamKind.INPUT:
                role = "in"
                index = param.index
                items = [(s, i[INPUTS][index]) for (s, _p), i in zip(occs, inner, strict=True)]
                if index == 0:
                    reads = partial(self.input_channels, gen, occs)
            elif param.kind is ParamKind.DECISION:
                if len(classes) > 1:
                    raise Mismatch("a family's blocks with decisions")
                # an instance that never reads it (a child it lacks) passes any value
                fill = next(iter(param.values.values()))
                items = [
                    (s, param.values.get(i[INST], fill))
                    for (s, _p), i in zip(occs, inner, strict=True)
                ]
            else:
                items = [(s, i[param.spec]) for (s, _p), i in zip(occs, inner, strict=True)]
                given = [written.get(param.spec) for written in given_by]
                if param.spec in gen.module.globals_ and not (
                    cls.bdef and param.spec in [p.name for p in cls.bdef.params]
                ):
                    own = anywhere([ast.Var(param.spec)])
                elif given[0] is not None and all(g == given[0] for g in given):
                    own = anywhere([given[0]])
                if (
                    param.default is not None
                    and all(g is None for g in given)
                    and all(literal(v) == param.default for _s, v in items)
                ):
                    continue
            text = gen.value(items, own, f"{occs[0][1].name}_{param.py}", role, reads=reads)
            if param.spec:
                texts[param.spec] = text
            if param.default is None and not param.kwonly:
                args.append((None, Code(text)))
            elif text != param.default:
                args.append((param.py, Code(text)))
        return func, texts, args
