"""Parse a spec: safe YAML for the structure, the Lark grammar for each layer
expression. Produces the `ast.Spec`, collecting every syntax error it meets.

Structure of a spec file (see README for the full language):

    name, title, input            network identity and input shape (3x224x224)
    defaults: {op: {arg: value}}  per-op default arguments
    params / variants             named constants; a variant overrides them
    blocks: {name: {params, inputs, <body>}}
    layers: [entry, …]            the network body

An entry is a layer expression string, or a one-key mapping: `name: body`
(a named layer), `block label: args` (a block row like `inception 3a: [64,…]`)
or a combinator `concat | residual | dense | scale | mean | if`; graph entries
use `from:`, `head:` and `join: add | concat | mean | mul` over `from: [a, b]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import ast
from .ast import IDENTIFIER
from .bases import merge_base
from .errors import Diagnostics, Span, SpecSyntaxError, SpecValueError, did_you_mean
from .expressions import parse_expression
from .limits import MAX_CHANNELS, MAX_SPATIAL
from .yamlspan import YList, YMap, YNode, YScalar, load_yaml

TAP_KEYS = ("from", "head", "join", "split")
TOP_KEYS = (
    "name",
    "title",
    "paper",
    "input",
    "defaults",
    "params",
    "variants",
    "variant",
    "base",
    "blocks",
    "layers",
    "weights",
)
BLOCK_KEYS = ("params", "inputs", "columns", "doc", "layers", "graph", "if")


# ------------------------------------------------------------------ structure


class _SpecReader:
    """Turns the YAML tree into ast nodes; records errors instead of stopping."""

    def __init__(
        self,
        diagnostics: Diagnostics,
        combinators: Mapping[str, ast.Syntax],
        joins: Sequence[str],
    ) -> None:
        self.diag = diagnostics
        self.combinators = combinators
        self.joins = joins

    def error(self, exc: SpecSyntaxError | SpecValueError) -> None:
        self.diag.error(exc)

    # --- values
    def expr(self, node: YNode) -> ast.Expr | None:
        """A scalar field that holds a number, a word or an expression."""
        if isinstance(node, YScalar):
            value = node.value
            if isinstance(value, bool):
                return ast.Num(int(value), span=node.span)
            if isinstance(value, int | float):
                return ast.Num(value, span=node.span)
            if value is None:
                return ast.Str("none", span=node.span)
            text = str(value).strip()
            if text.startswith("{") and text.endswith("}"):
                text, span = text[1:-1], node.span.shifted(1, len(text) - 2)
            else:
                span = node.span
            if IDENTIFIER.match(text) and text not in ("true", "false"):
                return ast.Str(text, span=span)
            try:
                return parse_expression(text, span, start="expr")
            except SpecSyntaxError as exc:
                self.error(exc)
                return None
        if isinstance(node, YList):
            items = [self.expr(item) for item in node.items]
            return ast.ListLit(tuple(i for i in items if i is not None), span=node.span)
        self.error(SpecSyntaxError("expected a value, found a mapping", node.span))
        return None

    def args(self, node: YNode) -> tuple[ast.Arg, ...]:
        """Arguments of a block row: a list (positional), a mapping, or one value."""
        if isinstance(node, YMap):
            out = []
            for key, value in node.entries:
                expr = self.expr(value)
                if expr is not None:
                    out.append(ast.Arg(str(key.value), expr, span=key.span))
            return tuple(out)
        if isinstance(node, YScalar) and node.value is None:
            return ()  # `transition 1:` — a row with no values
        items = node.items if isinstance(node, YList) else (node,)
        out = []
        for item in items:
            expr = self.expr(item)
            if expr is not None:
                out.append(ast.Arg(None, expr, span=item.span))
        return tuple(out)

    # --- bodies
    def body(self, node: YNode, label: str | None = None) -> ast.Node | None:
        """A list of entries, one entry, or an expression string."""
        if isinstance(node, YList):
            items = [self.entry(item) for item in node.items]
            return ast.Seq(tuple(i for i in items if i is not None), label, span=node.span)
        entry = self.entry(node)
        if label is not None and entry is not None:
            return _with_label(entry, label)
        return entry

    def entry(self, node: YNode) -> ast.Node | None:
        if isinstance(node, YScalar):
            if not isinstance(node.value, str):
                self.error(SpecSyntaxError(f"expected a layer, found `{node.value}`", node.span))
                return None
            try:
                return parse_expression(node.value, node.span)
            except SpecSyntaxError as exc:
                self.error(exc)
                return None
        if isinstance(node, YList):
            return self.body(node)
        return self.mapping_entry(node)

    def mapping_entry(self, node: YMap) -> ast.Node | None:
        keys = node.keys()
        if "if" in keys:
            return self.conditional(node, None)
        if keys and keys[0] in self.combinators:
            return self.combinator(node, None)
        if any(k in keys for k in TAP_KEYS):
            return self.tap(node, None)
        if len(node.entries) != 1:
            self.error(
                SpecSyntaxError(
                    "an entry is `name: layers` or a combinator; "
                    f"found several keys: {', '.join(keys)}",
                    node.span,
                )
            )
            return None
        key, value = node.entries[0]
        return self.labelled(key, value)

    def labelled(self, key: YScalar, value: YNode) -> ast.Node | None:
        """`conv1: conv7/2-64`, `inception 3a: [64, …]`, `stage: {concat: …}`."""
        words = str(key.value).split()
        if len(words) > 1:
            # A block row as the paper prints it: `inception 3a: [64, 96, …]`.
            label = " ".join(words)
            return ast.Call(words[0], args=self.args(value), label=label, span=key.span)
        label = words[0] if words else ""
        if not IDENTIFIER.match(label):
            self.error(SpecSyntaxError(f"`{label}` is not a valid layer name", key.span))
            return None
        if isinstance(value, YMap):
            keys = value.keys()
            if "if" in keys:
                return self.conditional(value, label)
            if keys and keys[0] in self.combinators:
                return self.combinator(value, label)
            if keys == ["layers"]:  # `stem: {layers: [...]}` names a sequence
                return self.body(value.entries[0][1], label)
            if any(k in keys for k in (*TAP_KEYS, "layers")):
                return self.tap(value, label)
            # `bottleneck: {width: 64}` — a block called with keyword args
            return ast.Call(label, args=self.args(value), span=key.span)
        if isinstance(value, YList):
            self.error(self.unknown_key(key, label))
            return None
        return self.body(value, label)

    def unknown_key(self, key: YScalar, label: str) -> SpecSyntaxError:
        """A list under a key that is neither a combinator nor a block: a typo'd
        combinator (`concta:`) more often than a name."""
        keys = [*self.combinators, *TAP_KEYS, "if"]
        return SpecSyntaxError(
            f"unknown combinator `{label}`{did_you_mean(label, keys)} (combinators: "
            f"{', '.join(self.combinators)}); to name a list of layers, write "
            f"`{label}: {{layers: [...]}}`",
            key.span,
        )

    def combinator(self, node: YMap, label: str | None) -> ast.Node | None:
        (kind_key, first), *rest = node.entries
        kind = str(kind_key.value)
        syntax = self.combinators[kind]
        if syntax.branches == "list":
            if not isinstance(first, YList):
                self.error(SpecSyntaxError(f"`{kind}` takes a list of branches", first.span))
                return None
            branches = tuple(b for b in (self.entry(item) for item in first.items) if b)
        else:
            body = self.body(first)
            branches = (body,) if body is not None else ()
        forms = dict(syntax.options)
        options = []
        for key, value in rest:
            name = str(key.value)
            if name not in forms:
                hint = f" (allowed: {', '.join(forms)})" if forms else ""
                self.error(SpecSyntaxError(f"`{kind}` has no option `{name}`{hint}", key.span))
                continue
            parsed = self.option(forms[name], value)
            if parsed is not None:
                options.append((name, parsed, key.span))
        for needed in syntax.required:
            if not any(name == needed for name, _, _ in options):
                self.error(SpecSyntaxError(f"`{kind}` needs `{needed}: …`", kind_key.span))
        return ast.Combine(kind, branches, tuple(options), label, span=kind_key.span)

    def option(self, form: str, value: YNode) -> ast.Expr | ast.Node | None:
        """A combinator option read as its kind declares (see `ast.Syntax`)."""
        if form == "body" or (form == "mode-or-body" and not _is_shortcut_mode(value)):
            return self.body(value)
        if form == "mode-or-body":
            assert isinstance(value, YScalar)
            return ast.Str(str(value.value), span=value.span)
        return self.expr(value)

    def conditional(self, node: YMap, label: str | None) -> ast.Node | None:
        extra = [k for k in node.keys() if k not in ("if", "then", "else")]  # noqa: SIM118
        for key, _ in node.entries:
            if str(key.value) in extra:
                self.error(SpecSyntaxError(f"`if` has no key `{key.value}`", key.span))
        test_node, then_node = node.get("if"), node.get("then")
        if then_node is None:
            self.error(SpecSyntaxError("`if` needs a `then:` body", node.span))
            return None
        test = self.expr(test_node) if test_node is not None else None
        then = self.body(then_node)
        else_node = node.get("else")
        otherwise = self.body(else_node) if else_node is not None else None
        if test is None or then is None:
            return None
        return ast.If(test, then, otherwise, label, span=node.span)

    def tap(self, node: YMap, name: str | None) -> ast.Node | None:
        sources: list[str] = []
        body: ast.Node | None = None
        join: str | None = None
        is_head = False
        when = drop_path = None
        split: tuple[tuple[str, ast.Expr], ...] = ()
        for key, value in node.entries:
            field_name = str(key.value)
            if field_name == "from":
                sources = self.names(value)
            elif field_name in ("layers", "head"):
                body = self.body(value)
                is_head = field_name == "head"
            elif field_name == "join":
                join = str(value.value) if isinstance(value, YScalar) else ""
                if join not in self.joins:
                    self.error(
                        SpecSyntaxError(
                            f"`join` is one of {', '.join(self.joins)}, not `{join}`", value.span
                        )
                    )
            elif field_name == "when":
                when = self.expr(value)
            elif field_name == "drop_path":
                drop_path = self.expr(value)
            elif field_name == "split":
                split = self.groups(value)
                if not split:
                    return None  # reported; a broken split is no layer entry either
            elif field_name == "name" and isinstance(value, YScalar):
                name = str(value.value)
            else:
                self.error(
                    SpecSyntaxError(
                        f"unknown key `{field_name}` in a graph entry "
                        "(use from, layers, head, join, split, drop_path or when)",
                        key.span,
                    )
                )
        if join and body is not None:
            self.error(SpecSyntaxError(f"a `{join}` join takes no layers", node.span))
        if join and len(sources) < 2:
            self.error(SpecSyntaxError(f"`{join}` joins two or more tensors", node.span))
        if drop_path is not None and join != "mean":
            self.error(SpecSyntaxError("`drop_path` applies to a `join: mean`", node.span))
        if split and (body is not None or join or name):
            self.error(
                SpecSyntaxError("a `split` entry names its parts and takes no layers", node.span)
            )
        return ast.Tap(
            name, tuple(sources), body, join, is_head, when, drop_path, split, span=node.span
        )

    def groups(self, node: YNode) -> tuple[tuple[str, ast.Expr], ...]:
        """`split: {a: 24, b: in.c - 24}`: tensor names and their channel counts."""
        if not isinstance(node, YMap) or not node.entries:
            self.error(
                SpecSyntaxError(
                    "`split` maps each part's name to its channels: `split: {a: 24, b: 24}`",
                    node.span,
                )
            )
            return ()
        out = []
        for key, value in node.entries:
            expr = self.expr(value)
            if not IDENTIFIER.match(str(key.value)):
                self.error(SpecSyntaxError("expected a tensor name", key.span))
            elif expr is not None:
                out.append((str(key.value), expr))
        return tuple(out)

    def names(self, node: YNode) -> list[str]:
        items = node.items if isinstance(node, YList) else (node,)
        out = []
        for item in items:
            text = str(item.value) if isinstance(item, YScalar) else ""
            if not IDENTIFIER.match(text):
                self.error(SpecSyntaxError("expected a tensor name", item.span))
                continue
            out.append(text)
        return out


def _is_shortcut_mode(node: YNode) -> bool:
    return isinstance(node, YScalar) and node.value in ("auto", "identity", "projection")


def _with_label(node: ast.Node, label: str) -> ast.Node:
    if isinstance(node, ast.Call | ast.Seq | ast.Combine | ast.If):
        return type(node)(**{**_fields(node), "label": label})
    return ast.Seq((node,), label, span=node.span)


def _fields(node) -> dict:
    return {name: getattr(node, name) for name in node.__dataclass_fields__}


# ------------------------------------------------------------------ files


def parse_input_shape(node: YNode | None, diag: Diagnostics, span: Span) -> tuple[int, ...]:
    if node is None:
        diag.error(SpecSyntaxError("missing `input:` (e.g. `input: 3x224x224`)", span))
        return (3, 224, 224)
    text = str(node.value) if isinstance(node, YScalar) else ""
    match = re.fullmatch(r"\s*(\d{1,9})\s*[x×]\s*(\d{1,9})\s*[x×]\s*(\d{1,9})\s*", text)
    if not match:
        diag.error(
            SpecSyntaxError(f"input must read CxHxW, e.g. 3x224x224, not `{text}`", node.span)
        )
        return (3, 224, 224)
    shape = tuple(int(g) for g in match.groups())
    if min(shape) <= 0:
        diag.error(SpecValueError("input sizes must be positive", node.span))
        return (3, 224, 224)
    if shape[0] > MAX_CHANNELS or max(shape[1:]) > MAX_SPATIAL:
        diag.error(
            SpecValueError(
                f"input sizes are limited to {MAX_CHANNELS:,} channels and "
                f"{MAX_SPATIAL:,} pixels a side",
                node.span,
            )
        )
        return (3, 224, 224)
    return shape


def read_spec(
    text: str,
    filename: str,
    diag: Diagnostics,
    base_dir: Path | None = None,
    *,
    combinators: Mapping[str, ast.Syntax],
    joins: Sequence[str],
    bundled: Sequence[Path] = (),
) -> ast.Spec:
    """The spec's AST. `combinators` are the block kinds' spec keys and how
    each is written (`archspec.blocks.SYNTAX`) and `joins` the ops a graph
    entry's `join:` may name (the op registry's joins), handed in so that
    syntax does not depend on the stages above it; `bundled` are the folders where
    `base: vgg_d` finds a bundled spec.

    `name` is the file's own `name:` (never its base's), or "" when it has
    none (the API then names it after its variant or its file)."""
    root = load_yaml(text, filename)
    if not isinstance(root, YMap):
        raise SpecSyntaxError(
            "a spec is a YAML mapping with `name`, `input` and `layers`", root.span
        )
    own_name = root.get("name")
    root = merge_base(root, base_dir, tuple(bundled), 0)
    reader = _SpecReader(diag, combinators, joins)
    for key, _ in root.entries:
        if str(key.value) not in TOP_KEYS:
            diag.error(
                SpecSyntaxError(
                    f"unknown top-level key `{key.value}`{did_you_mean(str(key.value), TOP_KEYS)}",
                    key.span,
                )
            )
    name = str(own_name.value) if isinstance(own_name, YScalar) else ""
    title_node = root.get("title") or root.get("paper")
    title = str(title_node.value) if isinstance(title_node, YScalar) else ""
    shape = parse_input_shape(root.get("input"), diag, root.span)
    defaults = _read_defaults(root.get("defaults"), reader)
    blocks = _read_blocks(root.get("blocks"), reader)
    constants = _read_constants(root.get("params"), reader)
    variants = _read_variants(root.get("variants"), reader)
    weights = _read_weights(root.get("weights"), reader)
    layers = root.get("layers")
    if layers is None:
        diag.error(SpecSyntaxError("missing `layers:`", root.span))
        body = ast.Seq((), span=root.span)
    else:
        parsed = reader.body(layers)
        body = parsed if isinstance(parsed, ast.Seq) else ast.Seq((parsed,) if parsed else ())
    variant_node = root.get("variant")
    if isinstance(variant_node, YScalar):
        chosen = str(variant_node.value)
        constants = (*constants, ("variant", ast.Str(chosen, span=variant_node.span)))
    return ast.Spec(
        name, title, shape, defaults, blocks, body, constants, variants, filename, span=root.span,
        weights=weights,
    )  # fmt: skip


WEIGHTS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_.-]+\Z")


def _read_weights(node: YNode | None, reader: _SpecReader) -> tuple[str, ...]:
    """`weights: torchvision.resnet50` (or a list): the library models whose
    checkpoints this spec's architecture takes, tensor for tensor."""
    if node is None:
        return ()
    items = node.items if isinstance(node, YList) else (node,)
    names = []
    for item in items:
        value = str(item.value) if isinstance(item, YScalar) else ""
        if not WEIGHTS_NAME.match(value):
            reader.error(SpecSyntaxError("`weights` names library models (torchvision.resnet50)",
                                         item.span))  # fmt: skip
            continue
        names.append(value)
    return tuple(names)


def _read_defaults(node: YNode | None, reader: _SpecReader) -> tuple:
    if node is None:
        return ()
    if not isinstance(node, YMap):
        reader.error(SpecSyntaxError("`defaults` maps an op to its default arguments", node.span))
        return ()
    out = []
    for key, value in node.entries:
        if not isinstance(value, YMap):
            reader.error(
                SpecSyntaxError(f"defaults for `{key.value}` must be a mapping", value.span)
            )
            continue
        out.append((str(key.value), reader.args(value)))
    return tuple(out)


def _read_constants(node: YNode | None, reader: _SpecReader) -> tuple:
    if node is None:
        return ()
    if not isinstance(node, YMap):
        reader.error(SpecSyntaxError("`params` maps names to values", node.span))
        return ()
    out = []
    for key, value in node.entries:
        if not isinstance(key.value, str) or not IDENTIFIER.match(key.value):
            written = key.span.source_line[key.span.col - 1 :][: key.span.length] or key.value
            reader.error(SpecSyntaxError(f"`{written}` is not a name", key.span))
            continue
        if key.value in ast.BUILTIN_NAMES:
            reader.error(_builtin(key.value, key.span))
            continue
        expr = reader.expr(value)
        if expr is not None:
            out.append((str(key.value), expr))
    return tuple(out)


def _builtin(name: str, span: Span) -> SpecValueError:
    return SpecValueError(f"`{name}` has a fixed meaning in expressions; choose another name", span)


def _read_variants(node: YNode | None, reader: _SpecReader) -> tuple:
    if node is None:
        return ()
    if not isinstance(node, YMap):
        reader.error(SpecSyntaxError("`variants` maps a variant name to its values", node.span))
        return ()
    out = []
    for key, value in node.entries:
        if not isinstance(value, YMap):
            message = f"variant `{key.value}` maps names to values (`{{stages: [2, 2, 2, 2]}}`)"
            reader.error(SpecSyntaxError(message, value.span))
            continue
        out.append((str(key.value), _read_constants(value, reader)))
    return tuple(out)


def _read_blocks(node: YNode | None, reader: _SpecReader) -> tuple[ast.BlockDef, ...]:
    if node is None:
        return ()
    if not isinstance(node, YMap):
        reader.error(SpecSyntaxError("`blocks` maps a block name to its definition", node.span))
        return ()
    return tuple(b for b in (_read_block(k, v, reader) for k, v in node.entries) if b)


def _read_block(key: YScalar, node: YNode, reader: _SpecReader) -> ast.BlockDef | None:
    name = str(key.value)
    if not IDENTIFIER.match(name):
        reader.error(SpecSyntaxError(f"`{name}` is not a valid block name", key.span))
        return None
    if not isinstance(node, YMap):
        body = reader.body(node)
        return ast.BlockDef(name, (), ("x",), body, span=key.span) if body else None
    params: list[ast.Param] = []
    columns: list[str] = []
    inputs: tuple[str, ...] = ("x",)
    body: ast.Node | None = None
    for field_key, value in node.entries:
        field_name = str(field_key.value)
        if field_name == "params":
            params += _read_params(value, reader)
        elif field_name == "columns":
            params += _read_columns(value, reader, columns)
        elif field_name == "inputs":
            inputs = tuple(reader.names(value))
        elif field_name == "doc":
            continue
        elif field_name in ("layers", "graph"):
            body = reader.body(value)
        elif field_name in (*reader.combinators, "if"):
            rest = YMap(
                tuple(
                    (k, v)
                    for k, v in node.entries
                    if str(k.value) not in ("params", "columns", "inputs", "doc")
                ),
                node.span,
            )
            body = reader.mapping_entry(rest)
            break
        else:
            reader.error(
                SpecSyntaxError(
                    f"unknown key `{field_name}` in block `{name}`"
                    f"{did_you_mean(field_name, [*BLOCK_KEYS, *reader.combinators])}",
                    field_key.span,
                )
            )
    if body is None:
        reader.error(SpecSyntaxError(f"block `{name}` has no body (layers, concat, …)", key.span))
        return None
    return ast.BlockDef(name, _unique(params, reader), inputs, body, tuple(columns), span=key.span)


def _unique(params: list[ast.Param], reader: _SpecReader) -> tuple[ast.Param, ...]:
    """The parameters, each name once (`params: [w, w=8]` is an error)."""
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            reader.error(SpecValueError(f"parameter `{param.name}` is declared twice", param.span))
        seen.add(param.name)
    return tuple(p for i, p in enumerate(params) if p.name not in {q.name for q in params[:i]})


def _read_params(node: YNode, reader: _SpecReader) -> list[ast.Param]:
    items = node.items if isinstance(node, YList) else (node,)
    out = []
    for item in items:
        text = str(item.value) if isinstance(item, YScalar) else ""
        name, _, default = text.partition("=")
        name = name.strip()
        if not IDENTIFIER.match(name):
            reader.error(
                SpecSyntaxError(
                    f"`{text}` is not a parameter (`name` or `name=default`)", item.span
                )
            )
            continue
        if name in ast.BUILTIN_NAMES:
            reader.error(_builtin(name, item.span))
            continue
        default_expr = None
        if default.strip():
            offset = text.index("=") + 1
            try:
                default_expr = parse_expression(default, item.span.shifted(offset), start="expr")
            except SpecSyntaxError as exc:
                reader.error(exc)
        out.append(ast.Param(name, default_expr, span=item.span))
    return out


def _read_columns(node: YNode, reader: _SpecReader, labels: list[str]) -> list[ast.Param]:
    """`columns: {n1x1: "#1×1", r3: "#3×3 reduce"}` — parameters that are the
    paper's table columns, with the column headings kept for summaries."""
    if isinstance(node, YMap):
        pairs = [
            (k, str(v.value) if isinstance(v, YScalar) else str(k.value)) for k, v in node.entries
        ]
    elif isinstance(node, YList):
        pairs = [(item, str(item.value)) for item in node.items if isinstance(item, YScalar)]
    else:
        reader.error(
            SpecSyntaxError("`columns` is a list or mapping of parameter names", node.span)
        )
        return []
    out = []
    for key, label in pairs:
        name = str(key.value)
        if not IDENTIFIER.match(name):
            reader.error(SpecSyntaxError(f"`{name}` is not a parameter name", key.span))
            continue
        labels.append(label)
        out.append(ast.Param(name, None, span=key.span))
    return out
