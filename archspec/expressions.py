"""Layer expressions (`conv7/2-64`, `inception(64, 96, 128, 16, 32, 32)`,
`{floor(theta * in.c)}`) → AST, with the Lark grammar in `layers.lark`.

Each distinct text is parsed once per place on a line: a spec written as
thousands of `conv3-64` lines repeats a few texts. The size and nesting of one
expression are bounded (`archspec/limits.py`) so no input can exhaust the stack.
"""

from __future__ import annotations

from . import ast
from .errors import Span, SpecSyntaxError
from .grammar import (
    Token,
    Transformer,
    Tree,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    layer_parser,
    v_args,
)
from .limits import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH


class _ToAst(Transformer):
    """Lark tree → ast nodes, with spans made absolute from the YAML scalar's span."""

    def __init__(self, base: Span) -> None:
        super().__init__()
        self.base = base

    def _span(self, meta_or_token: object) -> Span:
        line = getattr(meta_or_token, "line", None)
        col = getattr(meta_or_token, "column", None)
        if line is None or col is None:
            return self.base
        end = getattr(meta_or_token, "end_column", col + 1) or col + 1
        length = end - col if getattr(meta_or_token, "end_line", line) == line else 1
        if line != 1:  # folded multi-line scalar: point at the scalar itself
            return self.base
        return self.base.shifted(col - 1, length)

    # --- layer expressions
    @v_args(meta=True)
    def sequence(self, meta, items):
        if len(items) == 1:
            return items[0]
        return ast.Seq(tuple(items), span=self._span(meta))

    @v_args(meta=True)
    def item(self, meta, children):
        call = children[0]
        if len(children) == 2:
            return ast.Repeat(call, children[1], span=self._span(meta))
        return call

    def repeat(self, children):
        return children[1]

    @v_args(meta=True)
    def call(self, meta, children):
        head, stride, width, args = children[0], None, None, []
        if isinstance(head, tuple):  # `conv{k}/{s}-{c}`: a braced kernel against the name
            head, kernel = head
            args.append(ast.Arg("kernel", kernel, span=kernel.span))
        for child in children[1:]:
            tag, value = child
            if tag == "stride":
                stride = value
            elif tag == "width":
                width = value
            elif tag == "positional":
                args.append(ast.Arg(None, value, span=value.span))
            else:
                args.extend(value)
        return ast.Call(head, stride, width, tuple(args), span=self._span(meta))

    def named_head(self, children):
        return str(children[0])

    def kernel_head(self, children):
        return (str(children[0]), children[1])

    def computed_head(self, children):
        return children[0]

    def stride(self, children):
        return ("stride", children[0])

    def width(self, children):
        return ("width", children[0])

    def positional(self, children):
        token = children[0]
        if not isinstance(token, Token):  # a braced expression: `drop_path {p * i / n}`
            return ("positional", token)
        span = self._span(token)
        if token.type == "PERCENT":
            return ("positional", ast.Num(float(token[:-1]) / 100, span=span))
        return ("positional", ast.Num(_number(token), span=span))

    def arglist(self, children):
        return ("args", list(children))

    @v_args(meta=True)
    def keyword_arg(self, meta, children):
        return ast.Arg(str(children[0]), _as_word(children[1]), span=self._span(meta))

    @v_args(meta=True)
    def positional_arg(self, meta, children):
        return ast.Arg(None, _as_word(children[0]), span=self._span(meta))

    def word(self, children):
        return ast.Str(str(children[0]), span=self._span(children[0]))

    def brace(self, children):
        return children[0]

    # --- expressions
    def number(self, children):
        return ast.Num(_number(children[0]), span=self._span(children[0]))

    def negative_number(self, children):
        return ast.Num(-_number(children[0]), span=self._span(children[0]))

    def string(self, children):
        return ast.Str(str(children[0])[1:-1], span=self._span(children[0]))

    def variable(self, children):
        return ast.Var(str(children[0]), span=self._span(children[0]))

    @v_args(meta=True)
    def function(self, meta, children):
        return ast.Func(str(children[0]), tuple(children[1:]), span=self._span(meta))

    @v_args(meta=True)
    def list_literal(self, meta, children):
        return ast.ListLit(tuple(children), span=self._span(meta))

    @v_args(meta=True)
    def index(self, meta, children):
        return ast.Index(children[0], children[1], span=self._span(meta))

    @v_args(meta=True)
    def attribute(self, meta, children):
        return ast.Attr(children[0], str(children[1]), span=self._span(meta))

    def _binary(op):
        @v_args(meta=True)
        def build(self, meta, children):
            return ast.BinOp(op, children[0], children[1], span=self._span(meta))

        return build

    add, sub, mul = _binary("+"), _binary("-"), _binary("*")
    truediv, floordiv, mod = _binary("/"), _binary("//"), _binary("%")

    @v_args(meta=True)
    def or_test(self, meta, children):  # n-ary chains fold left
        return _fold("or", children, self._span(meta))

    @v_args(meta=True)
    def and_test(self, meta, children):
        return _fold("and", children, self._span(meta))

    @v_args(meta=True)
    def comparison(self, meta, children):
        left, op, right = children
        return ast.BinOp(str(op), left, right, span=self._span(meta))

    @v_args(meta=True)
    def test(self, meta, children):
        then, test, otherwise = children
        return ast.IfExpr(test, then, otherwise, span=self._span(meta))

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.UnaryOp("-", children[0], span=self._span(meta))

    @v_args(meta=True)
    def not_op(self, meta, children):
        return ast.UnaryOp("not", children[0], span=self._span(meta))

    def unary(self, children):
        return children[0]


def _as_word(value: ast.Expr) -> ast.Expr:
    """A bare name as an argument (`act=relu`, `ceil`) is a word: the value of
    a parameter of that name if there is one, else the word itself."""
    return ast.Str(value.name, span=value.span) if isinstance(value, ast.Var) else value


def _fold(op: str, items: list, span: Span):
    result = items[0]
    for item in items[1:]:
        result = ast.BinOp(op, result, item, span=span)
    return result


def _number(token: Token | str) -> int | float:
    text = str(token)
    return float(text) if any(c in text for c in ".eE") else int(text)


def _syntax_error(exc: UnexpectedInput, text: str, base: Span) -> SpecSyntaxError:
    col = getattr(exc, "column", None)
    span = base.shifted(col - 1) if isinstance(col, int) and col > 0 else base
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        hint = ""
        if text.count("(") > text.count(")") or text.count("{") > text.count("}"):
            hint = (
                " (a YAML `[…]` list splits at every comma: write this entry as a"
                " comma-separated string or a `- item` list)"
            )
        return SpecSyntaxError(f"incomplete expression `{text}`{hint}", base.shifted(len(text)))
    if isinstance(exc, UnexpectedCharacters):
        char = text[col - 1] if 0 < col <= len(text) else "?"
        return SpecSyntaxError(f"unexpected character `{char}` in `{text}`", span)
    token = getattr(exc, "token", "")
    return SpecSyntaxError(f"unexpected `{token}` in `{text}`", span)


def parse_expression(text: str, span: Span, start: str = "sequence"):
    """Parse a layer expression (`start="sequence"`) or a braced-style
    expression (`start="expr"`); raises SpecSyntaxError pointing into `text`.

    Each distinct text is parsed once per place on a line (a spec written as
    thousands of `conv3-64` lines repeats a few texts): later occurrences get
    the first one's AST with its spans moved to their own line."""
    key = (text, start, span.file, span.col, span.length, span.source_line)
    cached = _PARSED.get(key)
    if cached is not None:
        return _on_line(cached, span.line)
    if not text.strip():
        raise SpecSyntaxError("empty expression", span)
    if len(text) > MAX_EXPRESSION_CHARS:
        raise SpecSyntaxError(
            f"an expression of {len(text):,} characters; the limit is {MAX_EXPRESSION_CHARS:,}",
            span,
        )
    try:
        tree = layer_parser().parse(text, start=start)
        if _depth(tree) > MAX_EXPRESSION_DEPTH:
            raise RecursionError
        node = _ToAst(span).transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, span) from None
    except RecursionError:
        raise SpecSyntaxError(
            f"an expression nested more than {MAX_EXPRESSION_DEPTH} deep", span
        ) from None
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = node
    return node


_PARSED: dict[tuple, object] = {}
_PARSED_MAX = 65_536


def _depth(tree: Tree) -> int:
    """The nesting depth of a parse tree, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack += [(child, depth + 1) for child in node.children if isinstance(child, Tree)]
    return deepest


def _on_line(node, line: int):
    """`node` (an AST, or a tuple of them) with every span moved to `line`.
    All spans of one parse share its scalar's line, so nothing else changes."""
    if isinstance(node, Span):
        return Span(node.file, line, node.col, node.length, node.source_line)
    if isinstance(node, tuple):
        return tuple(_on_line(item, line) for item in node)
    fields = getattr(node, "__dataclass_fields__", None)
    if fields is None:
        return node  # str, int, float, None
    return type(node)(**{name: _on_line(getattr(node, name), line) for name in fields})
