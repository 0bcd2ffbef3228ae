"""IR + AST → source that reads like torchvision: one class per spec block,
whose `__init__` takes the block's parameters, loops for repetitions, one
constructor call per row.

How it stays exact. Generation is driven by the IR (every instance expanded,
with its values) and checked against it: the instances of a spec block are
grouped, and every value their modules are built with (a conv's channels, a
stride, a repeat count, a child block's arguments) becomes one Python
expression that gives, for *every* instance, the value the builder used. The
expressions tried are the spec's own (`{4*width}`, `{floor(theta*in.c)}`,
`if:` tests, repeat counts, emitted from the evaluator's AST by
`pysource.py`), the block's parameters and input channels (`in_c`), and
`a + (i - 1) * b` in a loop (a dense block's growing input). A value no
expression gives becomes a constructor argument the caller passes (an
instance's decision); a child some instances have and others not is built
under the condition that tells them apart. Module names come from the plan,
so state_dict keys are the builder's. Anything this cannot express raises
`Unsupported` and the caller writes the unrolled form instead.
"""

from __future__ import annotations

import ast as pyast
import builtins
import inspect
import keyword
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from functools import partial
from pathlib import PurePath
from typing import Any

from torch import nn

from archspec import ast
from archspec.blocks import Graph, Seq
from archspec.elaborate.scope import BUILTINS
from archspec.errors import ArchSpecError
from archspec.expr import ShapeValue, evaluate
from archspec.ir import Block
from archspec.naming import Namespace, camel
from archspec.ops import REGISTRY

from ..torch import layers
from ..torch.forms import part_class
from ..torch.plan import BlockPlan, CompileError, LayerPlan, Plan
from .channelflow import PARENT_INPUT, UNKNOWN, Source, link, passes_channels
from .codetree import LINE, Code, as_code, render
from .layerforms import (
    LayerForm,
    deciding_options,
    definition,
    find_forms,
    keyword_defaults,
    pattern_of,
    positional_name,
    slot_roles,
)
from .pysource import NotExpressible, literal, negated, to_python, uses_math, walk


class Unsupported(CompileError):
    """The parametric form cannot express this network (the unrolled one can)."""


class Mismatch(Exception):
    """These occurrences do not share one structure."""


# ---------------------------------------------------------------- values


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (True is not 1, 2.0 is not 2)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Cand:
    """A candidate expression: its value in an occurrence's scope, and its source."""

    value: Callable[[dict], Any]
    source: Callable[[ClassGen], str]


def expr_cand(expr: ast.Expr) -> Cand:
    return Cand(lambda scope: evaluate(expr, scope), lambda gen: gen.python(expr))


class Key(StrEnum):
    """An occurrence's scope entries beside the spec's names, which no spec
    name can be (`#` starts none): the instance's number, the channels of its
    inputs, and whether the occurrence is a copy in a loop."""

    INSTANCE = "#inst"
    INPUTS = "#inputs"
    LOOP = "#loop"


INST, INPUTS, LOOP = Key.INSTANCE, Key.INPUTS, Key.LOOP


def value_exprs(node: Any) -> list[tuple[ast.Expr, str]]:
    """Every expression a spec body holds where a value is written, in order,
    each with its role ("value", "count" or "test")."""
    out: list[tuple[ast.Expr, str]] = []

    def visit(item: Any, role: str = "value") -> None:
        if isinstance(
            item,
            ast.Num
            | ast.Str
            | ast.Var
            | ast.Attr
            | ast.Index
            | ast.Func
            | ast.ListLit
            | ast.BinOp
            | ast.UnaryOp
            | ast.IfExpr,
        ):
            out.append((item, role))
            return
        if isinstance(item, tuple):
            for sub in item:
                visit(sub, role)
            return
        if isinstance(item, ast.Repeat):
            visit(item.body)
            visit(item.count, "count")
            return
        if isinstance(item, ast.If):
            visit(item.test, "test")
            visit(item.then)
            visit(item.otherwise)
            return
        if isinstance(item, ast.Combine):
            visit(item.branches)
            for key, value, _span in item.options:
                visit(value, "count" if key == "times" else "value")
            return
        if isinstance(item, ast.Tap):
            visit(item.body)
            visit(item.when, "test")
            visit(item.drop_path)
            return
        if is_dataclass(item) and not isinstance(item, type):
            for f in fields(item):
                if f.name != "span":
                    visit(getattr(item, f.name), role)

    visit(node)
    return out


def entry(node: Any) -> tuple[str, int, int]:
    """The spec entry that made an IR node, by where it starts: the nodes
    one entry makes may span different lengths of it."""
    return (node.span.file, node.span.line, node.span.col)


_NUMBERED = re.compile(r"^(.*?)(\d+)$")

# Names a generated constructor's parameters never take.
LOCAL_RESERVED = frozenset(
    {"self", "torch", "nn", "math", "x", "i", "super", "l", "O", "I", *dir(builtins)}
)


# ---------------------------------------------------------------- classes


class ParamKind(Enum):
    """Where a generated constructor's parameter comes from."""

    INPUT = "input"  # the channels of the block's `index`-th input (`in_c`)
    SPEC = "spec"  # a parameter of the spec block (`width`)
    CONSTANT = "constant"  # a file constant the block reads (`k`)
    DECISION = "decision"  # a value no expression gives: each caller passes its own


@dataclass
class Param:
    kind: ParamKind
    spec: str  # the spec's name (SPEC, CONSTANT), else ""
    py: str
    default: str | None = None  # Python source of the default, None: required
    kwonly: bool = False
    index: int = 0  # which input (INPUT) or decision (DECISION)
    values: dict[int, Any] = field(default_factory=dict)  # instance → value (DECISION)


class ClassGen:
    """One generated class: a spec block (every instance of it), or the network."""

    def __init__(
        self,
        module: ModuleGen,
        name: str,
        key: Any,
        bdef: ast.BlockDef | None,
        instances: list[tuple[BlockPlan, dict]],
    ) -> None:
        self.module = module
        self.name = name
        self.key = key
        self.bdef = bdef
        self.instances = instances
        self.node: Block = instances[0][0].node
        self.locals = Namespace(LOCAL_RESERVED | module.reserved)
        self.params: list[Param] = []
        self.spec_params: dict[str, str] = {}
        if bdef is not None:
            for p in bdef.params:
                py = self.locals.fresh(p.name, key=("param", p.name))
                self.spec_params[p.name] = py
        self.network_params: dict[str, str] = {}  # the network's (a family's variant keys)
        self.inputs = self.node.input_names if isinstance(self.node, Graph) else ("x",)
        self.input_params: dict[int, str] = {}
        self.globals_used: dict[str, str] = {}
        self.extra: list[Param] = []
        self.in_loop = 0
        body = bdef.body if bdef is not None else module.spec.body
        found = value_exprs(body)
        self.body_exprs = [e for e, role in found if role == "value"]
        self.counts = [e for e, role in found if role == "count"]
        self.tests = [e for e, role in found if role == "test"]
        self.lines: list[str] = []
        self.formula_used = False  # another class's code calls `out_channels`
        self._formulas: dict[str, Any] = {}  # sought once: "out", "input" → formula or None
        self.out_c_used = False  # another class's code reads `self.<child>.out_c`

    def out_formula(self) -> tuple[list[str], str] | None:
        """The block's output channels as an expression of the parameters it
        reads, (those parameters, the expression), where one gives every
        instance's and reads neither the input nor a file constant
        (`4 * width` for a bottleneck)."""
        if "out" not in self._formulas:
            self._formulas["out"] = self._out_formula()
        return self._formulas["out"]

    def _out_formula(self) -> tuple[list[str], str] | None:
        if self.bdef is None:
            return None
        items = [(scope, plan.node.output.c) for plan, scope in self.instances]
        for expr in [*(ast.Var(p) for p in self.spec_params), *self.body_exprs]:
            names = {e.name for e in walk(expr) if isinstance(e, ast.Var)}
            names |= {e.value for e in walk(expr) if isinstance(e, ast.Str)}
            if any(isinstance(e, ast.Attr) for e in walk(expr)):
                continue  # `in.c`: the caller would need the input's channels
            if names & self.module.globals_ - set(self.spec_params):
                continue
            text = self.try_cand(expr_cand(expr), items)
            if text is not None:
                return [p for p in self.spec_params if p in names], text
        return None

    def input_formula(self) -> str | None:
        """The block's output channels as an expression that reads its input
        channels (`in_c + n * k` for a dense block, `math.floor(theta * in_c)`
        for a transition), for `self.out_c`; only for a class that already
        takes `in_c` and has no child of that name."""
        if "input" not in self._formulas:
            self._formulas["input"] = self._input_formula()
        return self._formulas["input"]

    def _input_formula(self) -> str | None:
        named_out_c = any(c.name == "out_c" for plan, _s in self.instances for c in plan.children)
        if self.bdef is None or 0 not in self.input_params or named_out_c:
            return None
        items = [(scope, plan.node.output.c) for plan, scope in self.instances]
        inputs = self.input_cand(0)
        params = [expr_cand(ast.Var(p)) for p in [*self.spec_params, *self.module.globals_]]
        grown = [  # a dense block: its input and `n` layers of `k` channels
            Cand(
                lambda s, a=a, b=b: s[INPUTS][0] + a.value(s) * b.value(s),
                lambda g, a=a, b=b: f"{g.input_param(0)} + {a.source(g)} * {b.source(g)}",
            )
            for a in params
            for b in params
            if a is not b
        ]
        with_input = [e for e in self.body_exprs if any(isinstance(x, ast.Attr) for x in walk(e))]
        for cand in [inputs, *(expr_cand(e) for e in with_input), *grown]:
            text = self.try_cand(cand, items)
            if text is not None:
                return text
        return None

    # ------------------------------------------------------------ names
    def resolve(self, name: str) -> str | None:
        if name == "i":
            if not self.in_loop:
                raise NotExpressible("`i` outside a loop")
            return "i"
        if name.startswith("in."):
            if name != "in.c":
                raise NotExpressible(f"`{name}` is not a constructor argument")
            return self.input_param(0)
        if name in self.spec_params:
            return self.spec_params[name]
        if name in BUILTINS:
            return literal(BUILTINS[name])
        if name in self.module.globals_:
            if self.bdef is None:
                if name in self.network_params:
                    return self.network_params[name]
                values = [scope[name] for _plan, scope in self.instances]
                if all(same(v, values[0]) for v in values):
                    return literal(values[0])  # a constant of this network
                raise NotExpressible(f"`{name}` differs between variants")
            if name not in self.globals_used:
                self.globals_used[name] = self.locals.fresh(name, key=("global", name))
            return self.globals_used[name]
        return None

    def python(self, expr: ast.Expr) -> str:
        text = to_python(expr, self.resolve)
        if uses_math(expr):
            self.module.math = True
        return text

    def input_param(self, index: int) -> str:
        if self.bdef is None:
            raise NotExpressible("the network takes no input channels")
        if index not in self.input_params:
            want = "in_c" if len(self.inputs) == 1 else f"{self.inputs[index]}_c"
            self.input_params[index] = self.locals.fresh(want, key=("input", index))
        return self.input_params[index]

    # ------------------------------------------------------------ candidates
    def candidates(self, role: str | None = None) -> list[Cand]:
        """Expressions a value may be: the block's parameters, its input
        channels, the spec's expressions; the input channels first for a
        slot that carries a layer's input channels."""
        params = [expr_cand(ast.Var(p)) for p in self.spec_params]
        inputs = [self.input_cand(k) for k in range(len(self.inputs))]
        inputs = inputs if self.bdef is not None else []
        out = inputs + params if role == "in" else params + inputs
        out += [expr_cand(e) for e in self.body_exprs]
        if self.bdef is None:
            out += [expr_cand(ast.Var(p)) for p in self.network_params]
        return out

    def input_cand(self, k: int) -> Cand:
        """The channels of the block's `k`-th input (`in_c`)."""
        return Cand(lambda s: s[INPUTS][k], lambda g: g.input_param(k))

    def try_cand(self, cand: Cand, items: list[tuple[dict, Any]]) -> str | None:
        try:
            for scope, value in items:
                got = cand.value(scope)
                if not same(got, value):
                    return None
            return cand.source(self)
        except (ArchSpecError, NotExpressible, KeyError, TypeError, IndexError, ValueError):
            return None

    def value(
        self,
        items: list[tuple[dict, Any]],
        own: list[Own],
        name: str,
        role: str | None = None,
        slot: str = "",
        reads: Callable[[], str | None] | None = None,
    ) -> str:
        """One expression giving every occurrence's value. `own` are the
        expressions the spec wrote at this place, `role` says whether the
        value is a layer's input or output channels, `slot` names the torch
        argument it fills, `reads` gives the output channels of the layer
        before, for an input-channel slot (see `ModuleGen.input_channels`);
        it is asked only where the value is not a number of the network's.

        A value that varies is explained by whichever expression gives it
        everywhere. A value that is the same everywhere proves nothing by
        matching, so it is written as a literal unless the spec wrote an
        expression for this very argument (`conv1-{4*width}`'s width) or it
        is channels (a conv's input is `in_c`): Inception's stem at 3 input
        channels must not read `nn.Conv2d(in_c, 32, in_c)`."""
        first = items[0][1]
        constant = all(same(v, first) for _s, v in items)
        if self.bdef is None and constant:
            # the network's table: the numbers themselves, but in a family
            # module what the spec writes with the variant's values
            # (`dense_block(blocks[0])` even where every variant has 6)
            for tag, expr in own:
                if tag == "any" and reads_variant(expr, self.module.varying):
                    found = self.try_cand(expr_cand(expr), items)
                    if found is not None:
                        return found
            return literal(first)
        flow = reads() if reads is not None else None
        if flow is not None:  # what the layer before gives (the channel flow)
            return flow
        for tag, expr in own:
            if constant and not fits(tag, role, slot):
                continue
            found = self.try_cand(expr_cand(expr), items)
            if found is not None:
                return found
        if constant:
            for spec_name in self.spec_params:  # a block's `stride` for a `stride=`
                if slot and fits(spec_name, role, slot):
                    found = self.try_cand(expr_cand(ast.Var(spec_name)), items)
                    if found is not None:
                        return found
            if first in (0, 1, None) or isinstance(first, bool | str):
                return literal(first)
            if role is None and not isinstance(first, float):
                return literal(first)
            for cand in self.candidates(role):  # channels (or a scale) the block's values explain
                found = self.try_cand(cand, items)
                if found is not None:
                    return found
            return literal(first)
        for cand in self.candidates(role):
            found = self.try_cand(cand, items)
            if found is not None:
                return found
        if self.in_loop and all(isinstance(v, int) and not isinstance(v, bool) for _s, v in items):
            found = self.affine(items)
            if found is not None:
                return found
        return self.decision(items, name)

    def affine(self, items: list[tuple[dict, Any]]) -> str | None:
        """`a + (i - 1) * b` (a dense block's growing input)."""
        ints = [c for c in self.candidates()]
        firsts = [(s, v) for s, v in items if s["i"] == 1]
        steps: dict[int, int] = {}
        for s, v in items:
            steps.setdefault(s[INST], v)
        for a in ints:
            if self.try_cand(a, firsts) is None:
                continue
            for b in ints:
                cand = Cand(
                    lambda s, a=a, b=b: a.value(s) + (s["i"] - 1) * b.value(s),
                    lambda g, a=a, b=b: f"{a.source(g)} + (i - 1) * {b.source(g)}",
                )
                found = self.try_cand(cand, items)
                if found is not None:
                    return found
        return None

    def decision(self, items: list[tuple[dict, Any]], name: str) -> str:
        """A value no expression gives: a constructor argument, one per instance."""
        if (self.bdef is None and len(self.instances) == 1) or self.in_loop:
            raise Mismatch(f"no expression gives `{name}`")
        per: dict[int, Any] = {}
        for scope, value in items:
            if scope[INST] in per and not same(per[scope[INST]], value):
                raise Mismatch(f"`{name}` differs within one instance")
            per[scope[INST]] = value
        for param in self.extra:
            if all(same(param.values.get(k), v) for k, v in per.items()):
                return param.py
        py = self.locals.fresh(name, key=("extra", name, len(self.extra)))
        self.extra.append(Param(ParamKind.DECISION, "", py, index=len(self.extra), values=per))
        return py

    def condition(
        self, yes: list[dict], no: list[dict], name: str, own: list[Own] | None = None
    ) -> str:
        """A test true in the `yes` occurrences and false in the `no` ones:
        first the spec's own option picking the form (`act == "relu"` where
        a layer is written `(act=act)`), then the spec's `if:` tests, then
        a shape test (`in_c != 4 * width`), else a decision the caller passes."""
        items = [(s, True) for s in yes] + [(s, False) for s in no]
        bools = [test for _tag, expr in own or [] if (test := self.choice_test(expr, yes, no))]
        for test in self.tests:
            bools.append(
                Cand(lambda s, t=test: bool(evaluate(t, s)), lambda g, t=test: g.python(t))
            )
            bools.append(
                Cand(lambda s, t=test: not evaluate(t, s), lambda g, t=test: g.python(negated(t)))
            )
        if self.bdef is not None:
            channels = self.candidates()[len(self.spec_params) + len(self.inputs) :]
            channels = [*(expr_cand(ast.Var(p)) for p in self.spec_params), *channels]
            for c in channels:
                bools.append(
                    Cand(
                        lambda s, c=c: s[INPUTS][0] != c.value(s),
                        lambda g, c=c: f"{g.input_param(0)} != {c.source(g)}",
                    )
                )
        for cand in bools:
            found = self.try_cand(cand, items)
            if found is not None:
                return found
        return self.decision(items, f"with_{name}")

    def choice_test(self, expr: ast.Expr, yes: list[dict], no: list[dict]) -> Cand | None:
        """`expr == value` where `expr` has one value in every `yes`
        occurrence and another in every `no` one."""
        try:
            value = evaluate(expr, yes[0])
            if not all(same(evaluate(expr, s), value) for s in yes) or any(
                same(evaluate(expr, s), value) for s in no
            ):
                return None
            source = literal(value)
        except (ArchSpecError, NotExpressible, KeyError, TypeError, IndexError, ValueError):
            return None
        atomic = isinstance(expr, ast.Var | ast.Str)
        return Cand(
            lambda s: same(evaluate(expr, s), value),
            lambda g: f"{g.python(expr) if atomic else f'({g.python(expr)})'} == {source}",
        )


# (tag, expression): an expression the spec wrote at a layer's call, tagged
# with what it gives: "out" (its width), "stride", an option's name
# ("kernel", "groups"), "" (a positional option), "any" (an argument the
# spec passes to this very parameter).
Own = tuple[str, ast.Expr]

# A torch argument an option of the spec fills under another name.
_TORCH_NAMES = {"kernel": "kernel_size"}


def fits(tag: str, role: str | None, slot: str) -> bool:
    """Whether an expression tagged `tag` was written for this argument."""
    if tag == "any":
        return True
    if tag == "out":
        return role == "out"
    return bool(tag) and _TORCH_NAMES.get(tag, tag) == slot


def reads_variant(expr: ast.Expr, keys: set[str]) -> bool:
    """Whether `expr` reads a value that differs between a family's variants."""
    return any(isinstance(e, ast.Var) and e.name in keys for e in walk(expr))


def anywhere(exprs: list[ast.Expr]) -> list[Own]:
    return [("any", e) for e in exprs]


# ---------------------------------------------------------------- the module


class ModuleGen:
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
        self.math = False
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
                "in": _shape(root.node.inputs[0]),
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
            match = _NUMBERED.match(child.name)
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
                lines.append(f"{' ' * indent}if {gen.condition(yes, no, name)}:")
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
        starts = {_number(members[0].name) for _s, members in items}
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
            result = Code(choice=(Code(literal(name)), gen.condition(yes, rest, "name"), result))
        return result

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
                test = gen.condition([s for s, _p in part], rest, name, self.deciding(part, occs))
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
    def input_channels(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> str | None:
        """Python for the channels one child reads in every occurrence: the
        output of the child before it, or the block's `in_c`; in a loop the
        first copy reads what precedes the loop and the others the copy
        before (`64 if i == 1 else unit.out_channels(64)`). None: unknown."""
        try:
            if not any(LOOP in scope for scope, _p in occs):
                return self._reads(gen, occs)
            first = [(scope, p) for scope, p in occs if scope["i"] == 1]
            later = [(scope, p) for scope, p in occs if scope["i"] != 1]
            a = self._reads(gen, first) if first else None
            b = self._reads(gen, later) if later else a
            if a is None or b is None:
                return None
            return a if a == b else f"{a} if i == 1 else {b}"
        except (Mismatch, NotExpressible):
            return None

    def _reads(self, gen: ClassGen, occs: list[tuple[dict, Plan]]) -> str | None:
        sources = [self.sources.get(id(p), UNKNOWN) for _s, p in occs]
        if all(src is PARENT_INPUT for src in sources):
            parents = [self.parents.get(id(p)) for _s, p in occs]
            mine = {id(plan) for plan, _scope in gen.instances}
            if all(parent is not None and id(parent) in mine for parent in parents):
                if gen.bdef is not None:
                    return gen.input_param(0)
                channels = {p.node.inputs[0].c for _s, p in occs}  # the network's input
                return literal(channels.pop()) if len(channels) == 1 else None
            if any(parent is None or id(parent) in mine for parent in parents):
                return None
            return self._reads(gen, [(s, q) for (s, _p), q in zip(occs, parents, strict=True)])
        if any(isinstance(src, str) for src in sources):
            return None
        return self.output_channels(gen, [(s, q) for (s, _p), q in zip(occs, sources, strict=True)])

    def output_channels(self, gen: ClassGen, occs: list[tuple[dict, Any]]) -> str | None:
        """Python for the output channels of one child in every occurrence."""
        first = occs[0][1]
        if any(type(p) is not type(first) or entry(p.node) != entry(first.node) for _s, p in occs):
            return None
        if isinstance(first, LayerPlan):
            width = next((e for tag, e in self.own_exprs(first) if tag == "out"), None)
            if width is not None:
                return gen.try_cand(expr_cand(width), [(s, p.node.output.c) for s, p in occs])
            if all(passes_channels(p) for _s, p in occs):
                return self._reads(gen, occs)
            return None
        if first.node.block:
            return self.formula_call(gen, occs)
        if isinstance(first.node, Seq) and all(p.children for _s, p in occs):
            return self.output_channels(gen, [(s, p.children[-1]) for s, p in occs])
        return None

    def formula_call(self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]]) -> str | None:
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
        for cls in classes:
            cls.formula_used = True
        return f"{func}.out_channels({', '.join(args)})"

    def out_c_attribute(
        self, gen: ClassGen, occs: list[tuple[dict, BlockPlan]], classes: list[ClassGen]
    ) -> str | None:
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
        classes[0].out_c_used = True
        return f"self.{names.pop()}.out_c"

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


def loop_stop(count: str) -> str:
    """`range(1, STOP)`'s stop for a loop of `count` copies: `count + 1`,
    folded where that is plain (`7` → `8`, `stages[1] - 1` → `stages[1]`)."""
    if count.isdigit():
        return str(int(count) + 1)
    tree = pyast.parse(count, mode="eval").body
    if (
        isinstance(tree, pyast.BinOp)
        and isinstance(tree.op, pyast.Sub)
        and isinstance(tree.right, pyast.Constant)
        and tree.right.value == 1
        and type(tree.right.value) is int
    ):
        return count[: tree.left.end_col_offset]
    loose = isinstance(tree, pyast.IfExp | pyast.BoolOp | pyast.Compare) or (
        isinstance(tree, pyast.UnaryOp) and isinstance(tree.op, pyast.Not)
    )
    return f"({count}) + 1" if loose else f"{count} + 1"


def _number(name: str) -> int:
    """The copy number a child's name ends in (0: none)."""
    match = _NUMBERED.match(name)
    return int(match.group(2)) if match else 0


def members_name(items: list) -> str:
    return items[0][1][0].name


def fingerprint(plan: Plan) -> tuple:
    if isinstance(plan, LayerPlan):
        return ("layer", tuple((p.name, p.cls) for p in plan.parts))
    return (
        type(plan.node).__name__,
        plan.node.block,
        tuple((c.name, fingerprint(c)) for c in plan.children),
    )


def _shape(shape: Any) -> ShapeValue:
    return ShapeValue(shape.c, shape.h, shape.w)


def instance_scope(node: Block, constants: dict) -> dict:
    """The scope a spec block instance's body saw, from the IR's provenance:
    the file constants, `in`, every parameter's value; and its inputs' channels."""
    if node.definition is None:
        raise Unsupported(f"block `{node.block}` has no recorded definition")
    inner = {**constants, "in": _shape(node.inputs[0]), **dict(node.bound)}
    inner[INPUTS] = [shape.c for shape in node.inputs]
    return inner


def signature(self: ClassGen) -> list[Param]:
    """A class's constructor parameters: input channels, the spec's, the file
    constants it reads, then the decisions its callers pass."""
    out = [Param(ParamKind.INPUT, "", py, index=k) for k, py in sorted(self.input_params.items())]
    if self.bdef is not None:
        values = [scope for _plan, scope in self.instances]
        for p in self.bdef.params:
            default = None
            if p.default is not None and _constant(p.default):
                vals = [scope[p.name] for scope in values]
                default_value = evaluate(p.default, {**BUILTINS})
                if not isinstance(default_value, list):
                    default = literal(default_value)
                del vals
            out.append(Param(ParamKind.SPEC, p.name, self.spec_params[p.name], default))
        required_after = False
        for p in reversed(out):
            if p.default is None:
                required_after = True
            elif required_after:
                p.default = None  # Python wants defaults last
    for name, py in self.globals_used.items():
        vals = [scope[name] for _plan, scope in self.instances]
        default = None
        if all(same(v, vals[0]) for v in vals) and not isinstance(vals[0], list):
            default = literal(vals[0])
        out.append(Param(ParamKind.CONSTANT, name, py, default))
    for k, extra in enumerate(self.extra):
        out.append(Param(ParamKind.DECISION, "", extra.py, index=k, values=extra.values))
    seen_default = False
    for p in out:  # after a default, the rest are keyword-only
        p.kwonly = seen_default
        seen_default = seen_default or p.default is not None
    return out


def _constant(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Num | ast.Str) or (
        isinstance(expr, ast.Var) and expr.name in BUILTINS
    )


__all__ = ["ClassGen", "Code", "ModuleGen", "Unsupported", "nn", "render"]


# ---------------------------------------------------------------- the file


def module_names(nets: list[Any], family: bool) -> tuple[Namespace, str, list[str]]:
    """The file's namespace, its network class and (`family`) its factories."""
    from .codegen import MODULE_NAMES

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
    from ..torch.plan import make_plan
    from .codegen import MODULE_NAMES, _template_named, docstring, forward_source, safe_text

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
    return _template_named("parametric.py.j2").render(
        title=title,
        spec=where,
        usage=usage,
        output_doc=output_doc,
        math=mod.math,
        library=library,
        classes=classes,
        factories=factories,
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
    from .codegen import safe_text

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
