"""The code of one child across a class's occurrences: a layer's modules
or layer-form call, a combinator, a run of copies that differ (a mixin
of `ModuleGen`)."""

from __future__ import annotations

import keyword
from functools import partial
from typing import Any

from archspec import ast
from archspec.blocks import Graph
from archspec.ops import REGISTRY

from ...torch import layers
from ...torch.forms import part_class
from ...torch.plan import BlockPlan, LayerPlan, Plan
from ..codetree import Code, as_code
from ..layerforms import (
    LayerForm,
    deciding_options,
    keyword_defaults,
    pattern_of,
    positional_name,
    slot_roles,
)
from .classes import ClassGen
from .conditions import condition
from .values import (
    Mismatch,
    Own,
    Unsupported,
    fingerprint,
    same,
)


class LayerCode:
    """How `ModuleGen` writes one child across occurrences."""

    def unrolled(self, gen: ClassGen, items: list) -> list[tuple[str, Code]]:
        """A run whose copies differ (`conv3-64 x2` reads 3, then 64 channels)."""
        count = len(items[0][1])
        if any([m.name for m in members] != [m.name for m in items[0][1]] for _s, members in items):
            raise Mismatch("copies named differently")
        out = []
        for j in range(count):
            occs = [({**s, "i": j + 1}, members[j]) for s, members in items]
            out.append((items[0][1][j].name, self.choose(gen, occs, items[0][1][j].name)))
        return out

    def choose(self, gen: ClassGen, occs: list[tuple[dict, Plan]], name: str) -> Code:
        """The code of one child across occurrences; where they differ in
        structure, the condition that picks each form."""
        try:
            return self.code(gen, occs)
        except Mismatch:
            forms: dict[Any, list] = {}
            for s, p in occs:
                forms.setdefault(fingerprint(p), []).append((s, p))
            if len(forms) == 1:
                raise
            parts = list(forms.values())
            result = self.code(gen, parts[-1])
            for part in reversed(parts[:-1]):
                rest = [s for s, _p in occs if all(s is not t for t, _q in part)]
                then = self.code(gen, part)
                if then.flat() == result.flat():
                    continue  # forms that differ only where the code is the same
                test = condition(gen, [s for s, _p in part], rest, name, self.deciding(part, occs))
                result = Code(choice=(then, test, result))
            return result

    def deciding(self, part: list[tuple[dict, Plan]], occs: list[tuple[dict, Plan]]) -> list[Own]:
        """The spec's expressions at a layer whose forms differ, those for the
        options that decide the form first."""
        first = part[0][1]
        if not isinstance(first, LayerPlan):
            return []
        others = [
            p for _s, p in occs if isinstance(p, LayerPlan) and pattern_of(p) != pattern_of(first)
        ]
        keys = deciding_options(first, others[0]) if others else set()
        own = self.own_exprs(first)
        return [o for o in own if o[0] in keys] + [o for o in own if o[0] not in keys]

    def code(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> Code:
        first = occs[0][1]
        if isinstance(first, LayerPlan):
            if not all(
                isinstance(p, LayerPlan)
                and len(p.parts) == len(first.parts)
                and [q.name for q in p.parts] == [q.name for q in first.parts]
                for _s, p in occs
            ):
                raise Mismatch("different layers")
            form = self.forms.get(pattern_of(first))
            if form is not None:
                return self.form_call(gen, occs, form)
            calls = [
                self.part(gen, [(s, p, p.parts[k]) for s, p in occs], k)
                for k in range(len(first.parts))
            ]
            if len(calls) == 1:
                return calls[0]
            self.used.add(layers.Sequential)
            names = [part.name for part in first.parts]
            return Code(func="Sequential", args=list(zip(names, calls, strict=True)))
        if not all(
            isinstance(p, BlockPlan)
            and type(p.node) is type(first.node)
            and bool(p.node.block) == bool(first.node.block)
            for _s, p in occs
        ):
            raise Mismatch("different blocks")
        if first.node.block:
            return self.instance(gen, occs)
        if isinstance(first.node, Graph):
            raise Unsupported("an anonymous graph block")
        base = layers.COMBINATORS[first.node.TORCH]
        self.used.add(base)
        keys = list(first.node.torch_kwargs())
        if any(list(p.node.torch_kwargs()) != keys for _s, p in occs):
            raise Mismatch("combinator options differ")
        args: list[tuple[str | None, Code]] = []
        for k in keys:
            items = [(s, p.node.torch_kwargs()[k]) for s, p in occs]
            args.append((k, Code(gen.value(items, [], k.rstrip("_")))))
        for _present, key, items in self.children_code(gen, occs):  # type: ignore[arg-type]
            if len(items) != len(occs):
                raise Mismatch("optional child of an anonymous block")
            code, name = self.segment_code(gen, key, items)
            if isinstance(name, Code):  # a name of the variant's: `**{f"{unit.spec_name}1": …}`
                args.append(("**", Code(comp=(name.flat(), code, ""))))
                continue
            if isinstance(code, list):
                args += code
            else:
                args.append(("**", code) if code.comp is not None else (name, code))
        return Code(func=base.__name__, args=args)

    def part(self, gen: ClassGen, occs: list[tuple[dict, LayerPlan, Any]], index: int) -> Code:
        """One module of a layer (its `index`-th part) across occurrences."""
        _s, plan0, part0 = occs[0]
        if any(
            q.cls != part0.cls or q.library != part0.library or len(q.args) != len(part0.args)
            for _s, _p, q in occs
        ):
            raise Mismatch("different modules")
        cls = part_class(part0, plan0.node)
        func = f"nn.{part0.cls}" if part0.library == "nn" else cls.__name__
        if part0.library != "nn":
            self.used.add(cls)
        defaults = keyword_defaults(cls)
        own = self.own_exprs(plan0)
        roles = slot_roles(plan0)
        reads = partial(self.input_channels, gen, [(s, p) for s, p, _q in occs])
        args: list[tuple[str | None, Code]] = []
        for k in range(len(part0.args)):
            items = [(s, q.args[k]) for s, _p, q in occs]
            role = roles.get((index, k))
            flow = reads if role == "in" else None
            text = gen.value(
                items, own, f"{plan0.name}_arg{k}", role, positional_name(cls, k), flow
            )
            args.append((None, as_code(text, items)))
        keys = list(dict.fromkeys(k for _s, _p, q in occs for k, _v in q.kwargs))
        position = {k: n for n, k in enumerate(defaults)}
        keys.sort(key=lambda k: position.get(k, len(position)))
        for key in keys:
            if not key.isidentifier() or keyword.iskeyword(key):
                raise Unsupported(f"bad keyword argument `{key}`")
            items = []
            for s, _p, q in occs:
                given = dict(q.kwargs)
                if key not in given and key not in defaults:
                    raise Mismatch(f"`{key}` without a default")
                items.append((s, given.get(key, defaults.get(key))))
            if key == "inplace":  # in place only where every instance may
                if all(v is True for _s, v in items):
                    args.append((key, Code("True")))
                continue
            if key in defaults and all(same(v, defaults[key]) for _s, v in items):
                continue
            role = roles.get((index, key))
            flow = reads if role == "in" else None
            text = gen.value(items, own, f"{plan0.name}_{key}", role, key, flow)
            args.append((key, as_code(text, items)))
        return Code(func=func, args=args)

    def form_call(self, gen: ClassGen, occs: list[tuple[dict, Plan]], form: LayerForm) -> Code:
        """A layer written as a call of its pattern's function:
        `conv_bn_relu(in_c, 96, 1)`, keyword arguments only where they
        differ from the function's defaults."""
        plan0 = occs[0][1]
        assert isinstance(plan0, LayerPlan)
        self.forms_used.add(form.name)
        self.used.add(layers.Sequential)
        self.used |= {cls for _name, cls, library in form.parts if library != "nn"}
        own = self.own_exprs(plan0)
        args: list[tuple[str | None, Code]] = []
        reads = partial(self.input_channels, gen, occs)
        for param in form.params:
            k, key = param.slots[0]
            items = [(s, form.value_in(p, k, key)) for s, p in occs]  # type: ignore[arg-type]
            if key == "inplace":  # in place only where every instance may
                items = [(s, all(v is True for _s, v in items)) for s, _v in items]
            if param.has_default and all(same(v, param.default) for _s, v in items):
                continue
            flow = reads if param.role == "in" else None
            text = gen.value(items, own, f"{plan0.name}_{param.py}", param.role, param.py, flow)
            args.append((param.py if param.has_default else None, as_code(text, items)))
        return Code(func=form.name, args=args)

    def own_exprs(self, plan: LayerPlan) -> list[Own]:
        """The expressions the spec wrote in this layer's call (the layer's
        provenance), tagged with what each gives (see `Own`)."""
        node = plan.node
        op = REGISTRY.ops.get(node.op)
        found: list[Own] = [
            ("out" if name == "width" else name, expr)
            for name, expr in node.written
            if name != "width" or (op is not None and op.takes_width)
        ]
        written = dict(found)
        kernel, dilation = written.get("kernel"), written.get("dilation")
        if kernel is not None:  # `same` padding of a kernel the spec computes (`conv{k}`)
            reach = ast.BinOp("-", kernel, ast.Num(1))
            found.append(("padding", ast.BinOp("//", reach, ast.Num(2))))
            if dilation is not None:  # and of a dilated one (`d * (k - 1) // 2`)
                spread = ast.BinOp("*", dilation, reach)
                found.append(("padding", ast.BinOp("//", spread, ast.Num(2))))
        return found

    # ------------------------------------------------------------ channel flow
