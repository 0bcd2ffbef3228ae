"""Residual: out = post(scale · residual(x) + shortcut(x)). The shortcut is the
identity, a 1×1 projection where the body changes the shape (`auto`), or any
layers the spec gives; `then:` layers follow the sum (ResNet's ReLU)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import ast
from ..errors import ShapeError, Span, SpecValueError
from ..ir import Cost, Field, Layer, Node, Shape
from ..ops import REGISTRY, Geometry, Style
from .base import Context, Endpoint, Flow, Kind, Pen, Scope, Syntax, assemble, join_id
from .seq import Seq, seq_notation

SHORTCUT_MODES = ("auto", "identity", "projection")


@dataclass(frozen=True, slots=True, repr=False)
class Residual(Kind):
    scale: float = 1.0
    projection: bool = False  # a `shortcut` child (projection or custom) rather than identity
    post: str | None = None  # the child applied after the sum

    KIND: ClassVar[str] = "residual"
    DOC: ClassVar[str] = "out = post(scale * residual(x) + shortcut(x)); identity shortcut if none."
    SYNTAX: ClassVar[Syntax] = Syntax(
        "residual", options=(("shortcut", "mode-or-body"), ("scale", "expr"), ("then", "body"))
    )
    STYLE: ClassVar[Style] = Style("residual block", "#f6d3c8")
    TORCH: ClassVar[str] = "Residual"

    @classmethod
    def elaborate(
        cls, ctx: Context, item: ast.Combine, flow: Flow, scope: Scope, name: str
    ) -> tuple[Kind, Flow] | None:
        made = ctx.named(item.branches[0], flow, scope, "residual")
        if made is None:
            return None
        body, out = made
        children: list[Node] = [body]
        shortcut = _shortcut(ctx, item, flow, out, scope)
        if shortcut is False:
            return None
        if shortcut is not None:
            children.append(shortcut)
        scale = _scale(ctx, item, scope)
        result = out
        post = None
        then = item.option("then")
        if then is not None:
            made_then = _then(ctx, then, item.span, out, scope)
            if made_then is None:
                return None
            post, result = made_then
            children.append(post)
        own = Cost(other_ops=out.shape.numel * (2 if scale != 1.0 else 1), memory=out.shape.numel)
        result = Flow(result.shape, Field(max(out.field.size, flow.field.size), out.field.jump))
        block = assemble(
            cls,
            name,
            children,
            [flow],
            [result],
            "residual",
            item.span,
            own,
            scale=scale,
            projection=shortcut is not None,
            post=post.name if post is not None else None,
        )
        return block, result

    def torch_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.scale != 1.0:
            out["scale_"] = self.scale
        if self.post is not None:
            out["post_"] = self.post
        return out

    def after_join(self) -> tuple[str, ...]:
        return (self.post,) if self.post else ()

    def problems(self) -> list[str]:
        names = [child.name for child in self.children]
        expected = ["residual", *(["shortcut"] if self.projection else [])]
        expected += [self.post] if self.post else []
        return [] if names == expected else [f"children {names}, expected {expected}"]

    def draw(
        self, pen: Pen, path: tuple[str, ...], depth: int, sources: list[Endpoint], g: Any
    ) -> list[Endpoint]:
        by_name = {item.node.name: item for item in pen.items(self, path, depth)}
        main = pen.item(by_name["residual"], g, sources)[0]
        shortcut = pen.item(by_name["shortcut"], g, sources)[0] if self.projection else sources[0]
        caption = f"×{self.scale:g} +" if self.scale != 1.0 else ""
        ident = pen.join(g, join_id(path, "add"), "add", [main], shortcut, caption)
        flow: list[Endpoint] = [(ident, main[1])]
        if self.post:
            flow = pen.item(by_name[self.post], g, flow)[:1]
        return flow


def _scale(ctx: Context, item: ast.Combine, scope: Scope) -> float:
    """`scale: 0.17` (Inception-ResNet); a number, or a spec error."""
    written = item.option("scale")
    if not isinstance(written, ast.Expr):
        return 1.0
    value = ctx.eval(written, scope)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecValueError(f"`scale` must be a number, got `{value}`", written.span)
    return float(value)


def _shortcut(
    ctx: Context, item: ast.Combine, flow: Flow, out: Flow, scope: Scope
) -> Node | bool | None:
    """The shortcut child (None: identity; False: it failed, already reported)."""
    written = item.option("shortcut")
    if isinstance(written, ast.Str):
        mode = written.value
    else:
        mode = "custom" if written is not None else "auto"
    if mode == "auto":
        mode = "identity" if out.shape == flow.shape else "projection"
    if mode == "identity":
        if out.shape != flow.shape:
            raise ShapeError(
                f"add of different shapes: the residual gives {out.shape}, "
                f"the identity shortcut carries {flow.shape}",
                item.span,
            )
        return None
    if mode == "projection":
        return projection(ctx, flow, out.shape, item.span)
    made = ctx.named(written, flow, scope, "shortcut")  # type: ignore[arg-type]  # a body here
    if made is None:
        return False
    if made[1].shape != out.shape:
        raise ShapeError(
            f"add of different shapes: the residual gives {out.shape}, "
            f"the shortcut gives {made[1].shape}",
            item.span,
        )
    return made[0]


def projection(ctx: Context, flow: Flow, target: Shape, span: Span) -> Layer:
    """The 1×1 projection shortcut used where the residual changes the shape."""
    x = flow.shape
    if x.h is None or target.h is None:
        raise ShapeError(f"no projection shortcut from {x} to {target}", span)
    stride = max(1, x.h // target.h)
    if -(-x.h // stride) != target.h:
        raise ShapeError(
            f"add of different shapes: {x} cannot be projected to {target} by a strided 1×1 conv",
            span,
        )
    values = dict(ctx.defaults.get("conv", {}))
    values.update(act="none", pad=0, groups=1, dilation=1, order="post")
    conv = REGISTRY.ops["conv"]
    layer, _ = ctx.layer(conv, values, Geometry((1, 1), stride, target.c), [flow], "shortcut", span)
    assert isinstance(layer, Layer)
    return layer


def _then(
    ctx: Context, then: ast.Node, span: Span, out: Flow, scope: Scope
) -> tuple[Node, Flow] | None:
    """The layers after the sum: one child under its own name, or a `post` sequence."""
    names = ctx.namespace((), avoid=("residual", "shortcut"))
    made = ctx.expand(then, out, scope, names)
    if not made or any(flow is None for _, flow in made):
        return None
    flows = [flow for _, flow in made if flow is not None]
    nodes = [node for node, _ in made]
    if len(made) == 1:
        return nodes[0], flows[0]
    post = assemble(Seq, "post", nodes, [out], [flows[-1]], seq_notation(nodes), span)
    return post, flows[-1]
