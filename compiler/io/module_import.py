"""PyTorch module → spec: trace with torch.fx, map every call to an archspec op.

`from_module(module, input_shape)` traces the module symbolically, runs one
zero input through it to learn every tensor's shape (`ShapeProp`), and turns
each leaf module and functional call into a node of the importer's graph
(`archspec.importers.graph.LayerGraph`); the folding and writing are shared with the Caffe
importer. A call with no archspec equivalent is refused with its module path.

DenseNet concatenates all earlier feature maps at every layer; since
cat(x0, …, xk) = cat(cat(x0, …, xk−1), xk), such a cat is rewired onto the
previous one, which turns the block into a chain of `concat: [identity, …]`
regions the folder understands.
"""

from __future__ import annotations

import inspect
import operator
import re
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from archspec.errors import Span
from archspec.importers.graph import ImportError_, LayerGraph
from archspec.importers.write import write_spec
from archspec.ops import ACTIVATIONS

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# The registry's activations that take no arguments (archspec/ops/activations.py),
# by their torch module class and their functional forms (`F.relu`, `torch.tanh`).
_PLAIN_ACTS = [name for name, form in ACTIVATIONS.items() if not (form.args or form.kwargs)]
ACT_MODULES: dict[type[nn.Module], str] = {
    getattr(nn, ACTIVATIONS[name].cls): name for name in _PLAIN_ACTS
}
ACT_FUNCTIONS: dict[Any, str] = {
    fn: name
    for name in _PLAIN_ACTS
    for fn in (getattr(F, name, None), getattr(torch, name, None))
    if callable(fn)
}
# Models whose torchvision builder needs arguments to be a plain classifier.
TORCHVISION_KWARGS = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


class _Skip:
    """Marks a call that is the identity at evaluation (nn.Identity, a 1-way cat)."""


def from_module(module: nn.Module, input_shape: tuple[int, ...] | list[int],
                name: str | None = None) -> str:  # fmt: skip
    """The spec text of `module` (evaluated in eval mode) for a C×H×W input."""
    label = name or type(module).__name__
    span = Span(f"<{label}>", 1, 1)
    module = module.eval()
    try:
        traced = fx.symbolic_trace(module)
    except Exception as exc:  # torch.fx raises many kinds; the user needs one line
        raise ImportError_(f"torch.fx cannot trace this module: {exc}", span) from None
    ShapeProp(traced).propagate(torch.zeros(1, *input_shape))
    graph = LayerGraph(label, tuple(input_shape), names_help=False)
    input_id = _Tracer(traced, module, graph, span).run()
    rewire_prefix_concats(graph)
    return write_spec(graph, input_id, label, span)


def from_torchvision(name: str, input_shape: tuple[int, ...]) -> str:
    """`archspec import torchvision:NAME`: only functions of `torchvision.models`."""
    span = Span(f"torchvision:{name}", 1, 1)
    models = _torchvision_models(span)
    builder = getattr(models, name, None) if re.fullmatch(r"[a-z][a-z0-9_]*", name) else None
    listed = getattr(models, "list_models", lambda: [name])()
    if builder is None or not inspect.isfunction(builder) or name not in listed:
        raise ImportError_(f"`{name}` is not a model function of torchvision.models", span)
    module = builder(weights=None, **TORCHVISION_KWARGS.get(name, {}))
    return from_module(module, input_shape, name)


def _torchvision_models(span: Span) -> types.ModuleType:
    try:
        import torchvision.models as models
    except ImportError:
        raise ImportError_("torchvision is not installed", span) from None
    except Exception:
        # A torchvision wheel built for another torch fails registering its
        # compiled operators; the model definitions need none of them.
        for key in [k for k in sys.modules if k.startswith("torchvision")]:
            del sys.modules[key]
        stub = types.ModuleType("torchvision._meta_registrations")
        sys.modules.setdefault("torchvision._meta_registrations", stub)
        import torchvision.models as models
    return models


class _Tracer:
    def __init__(
        self, traced: fx.GraphModule, root: nn.Module, graph: LayerGraph, span: Span
    ) -> None:
        self.traced = traced
        self.root = root
        self.graph = graph
        self.span = span
        self.ids: dict[fx.Node, int] = {}

    def run(self) -> int:
        input_id = -1
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":
                if input_id >= 0:
                    raise ImportError_("modules with one input are supported", self.span)
                input_id = self.graph.add("input", "input", {}, [], self.graph.input_shape)
                self.ids[node] = input_id
            elif node.op == "output":
                if not isinstance(node.args[0], fx.Node):
                    raise ImportError_("modules with one tensor output are supported", self.span)
            elif node.op in ("call_module", "call_function", "call_method"):
                self._call(node)
            else:
                raise ImportError_(f"unsupported `{node.op}` node `{node.target}`", self.span)
        return input_id

    def _call(self, node: fx.Node) -> None:
        if node.op == "call_module":
            path = str(node.target)
            mapped = _module_op(self.traced.get_submodule(path), self._in_shape(node))
            what = f"module `{path}` ({type(self.traced.get_submodule(path)).__name__})"
        else:
            path = f"{self._owner(node)}.{node.name}".lstrip(".")
            mapped = _function_op(node, self._in_shape(node))
            what = f"call `{_callee(node)}` in `{self._owner(node) or 'forward'}`"
        if mapped is None:
            raise ImportError_(f"unsupported {what}", self.span)
        tensors = [a for a in _flat_args(node) if isinstance(a, fx.Node)]
        if isinstance(mapped, _Skip):
            self.ids[node] = self.ids[tensors[0]]
            return
        op, attrs = mapped
        shape = tuple(node.meta["tensor_meta"].shape[1:])
        inputs = [self.ids[t] for t in tensors]
        self.ids[node] = self.graph.add(path, op, attrs, inputs, shape, hint=self._hint(path))

    def _in_shape(self, node: fx.Node) -> tuple[int, ...]:
        first = next((a for a in _flat_args(node) if isinstance(a, fx.Node)), None)
        meta = first.meta.get("tensor_meta") if first is not None else None
        return tuple(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else ()

    def _owner(self, node: fx.Node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        return str(list(stack.values())[-1][0]) if stack else ""

    def _hint(self, path: str) -> str:
        """The class of the shallowest non-container module around `path`."""
        parts = path.split(".")
        for depth in range(1, len(parts)):
            try:
                owner = self.root.get_submodule(".".join(parts[:depth]))
            except AttributeError:
                return ""
            if not isinstance(owner, CONTAINERS):
                return type(owner).__name__
        return ""


def _flat_args(node: fx.Node) -> list[Any]:
    out: list[Any] = []
    for arg in node.args:
        out += list(arg) if isinstance(arg, list | tuple) else [arg]
    return out


def _callee(node: fx.Node) -> str:
    target = node.target
    return str(target) if isinstance(target, str) else getattr(target, "__name__", str(target))


Mapped = tuple[str, dict[str, Any]] | _Skip | None


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _module_op(mod: nn.Module, shape: tuple[int, ...]) -> Mapped:
    if isinstance(mod, nn.Identity):
        return _Skip()
    if type(mod) in ACT_MODULES:
        return (ACT_MODULES[type(mod)], {}) if _at_defaults(mod) else None
    if isinstance(mod, nn.Conv2d | nn.ConvTranspose2d):
        return _conv(mod, shape)
    if isinstance(mod, nn.BatchNorm2d | nn.BatchNorm1d):
        if not (mod.affine and mod.track_running_stats):
            return None
        return "bn", {"eps": float(mod.eps)}
    if isinstance(mod, nn.MaxPool2d | nn.AvgPool2d):
        return _pool(mod, shape)
    if isinstance(mod, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return _adaptive(mod.output_size, shape, isinstance(mod, nn.AdaptiveMaxPool2d))
    if isinstance(mod, nn.Linear):
        if len(shape) != 1:
            return None
        return "fc", {"out": mod.out_features, "bias": mod.bias is not None}
    if isinstance(mod, nn.Dropout):
        return "dropout", {"p": float(mod.p)}
    if isinstance(mod, nn.Flatten) and mod.start_dim == 1 and mod.end_dim == -1:
        return "flatten", {}
    if isinstance(mod, nn.Softmax) and mod.dim in (1, -1 if len(shape) == 1 else 1):
        return "softmax", {}
    if isinstance(mod, nn.LocalResponseNorm):
        return "lrn", {"size": mod.size, "alpha": mod.alpha, "beta": mod.beta, "k": mod.k}
    return None


def _conv(mod: nn.Conv2d | nn.ConvTranspose2d, shape: tuple[int, ...]) -> Mapped:
    stride, dilation = _pair(mod.stride), _pair(mod.dilation)
    if mod.padding_mode != "zeros" or stride[0] != stride[1] or dilation[0] != dilation[1]:
        return None
    if isinstance(mod.padding, str):
        if mod.padding != "valid":
            return None
        padding = (0, 0)
    else:
        padding = _pair(mod.padding)
    attrs = {"out": mod.out_channels, "kernel": _pair(mod.kernel_size), "stride": stride[0],
             "pad": padding, "dilation": dilation[0], "groups": mod.groups,
             "bias": mod.bias is not None}  # fmt: skip
    if isinstance(mod, nn.ConvTranspose2d):
        extra = _pair(mod.output_padding)
        if extra[0] != extra[1]:
            return None
        attrs["output_padding"] = extra[0]
        return "deconv", attrs
    return "conv", attrs


def _pool(mod: nn.MaxPool2d | nn.AvgPool2d, shape: tuple[int, ...]) -> Mapped:
    kernel = _pair(mod.kernel_size)
    stride = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
    if stride[0] != stride[1]:
        return None
    attrs = {"kernel": kernel, "stride": stride[0], "pad": _pair(mod.padding),
             "round": "ceil" if mod.ceil_mode else "floor"}  # fmt: skip
    if isinstance(mod, nn.MaxPool2d):
        return ("maxpool", attrs) if _pair(mod.dilation) == (1, 1) else None
    if mod.divisor_override is not None:
        return None
    attrs["count_pad"] = bool(mod.count_include_pad)
    return "avgpool", attrs


def _adaptive(size: Any, shape: tuple[int, ...], is_max: bool) -> Mapped:
    """Global pooling; an output equal to the input is the identity (VGG at 224)."""
    if len(shape) != 3:
        return None
    out = _pair(size if size is not None else shape[1])
    if out == (1, 1):
        return ("gmp" if is_max else "gap"), {}
    if out == shape[1:]:
        return _Skip()
    return None


def _at_defaults(act: nn.Module) -> bool:
    """An activation module set as archspec builds it (`nn.GELU()`, not
    `nn.GELU(approximate="tanh")`); whether it runs in place does not matter."""

    def settings(module: nn.Module) -> str:
        return re.sub(r",?\s*inplace=(True|False)", "", module.extra_repr()).strip(", ")

    return settings(act) == settings(type(act)())


def _plain_call(extra: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
    """An activation called with nothing but its tensor and an in-place flag."""
    return all(isinstance(a, bool) for a in extra) and set(kwargs) <= {"inplace"}


def _function_op(node: fx.Node, shape: tuple[int, ...]) -> Mapped:
    target, args, kwargs = node.target, node.args, node.kwargs
    if node.op == "call_method":
        if target == "flatten" and _arg(args, kwargs, 1, "start_dim", 0) == 1:
            return "flatten", {}
        name = str(target).rstrip("_")  # `x.relu_()` as `x.relu()`
        if name in ACT_MODULES.values() and _plain_call(args[1:], kwargs):
            return name, {}
        return None
    if target in ACT_FUNCTIONS and _plain_call(args[1:], kwargs):
        return ACT_FUNCTIONS[target], {}  # type: ignore[index]
    if target is torch.flatten:
        ok = (
            _arg(args, kwargs, 1, "start_dim", 0) == 1
            and _arg(args, kwargs, 2, "end_dim", -1) == -1
        )
        return ("flatten", {}) if ok else None
    if target is torch.cat:
        if _arg(args, kwargs, 1, "dim", 0) not in (1, -3):
            return None
        return _Skip() if len(args[0]) == 1 else ("concat", {})  # type: ignore[arg-type]
    if target in (operator.add, operator.iadd, torch.add):
        both = all(isinstance(a, fx.Node) for a in args[:2]) and kwargs.get("alpha", 1) == 1
        return ("add", {}) if both else None
    if target in (operator.mul, torch.mul):
        return ("mul", {}) if all(isinstance(a, fx.Node) for a in args[:2]) else None
    if target is F.adaptive_avg_pool2d or target is F.adaptive_max_pool2d:
        return _adaptive(_arg(args, kwargs, 1, "output_size", None), shape,
                         target is F.adaptive_max_pool2d)  # fmt: skip
    if target in (F.avg_pool2d, F.max_pool2d):
        return _functional_pool(target, args, kwargs)
    if target is F.dropout:
        return "dropout", {"p": float(_arg(args, kwargs, 1, "p", 0.5))}
    return None


def _functional_pool(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Mapped:
    if target is F.max_pool2d:
        mod: nn.Module = nn.MaxPool2d(
            _arg(args, kwargs, 1, "kernel_size", None), _arg(args, kwargs, 2, "stride", None),
            _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 4, "dilation", 1),
            ceil_mode=_arg(args, kwargs, 5, "ceil_mode", False),
        )  # fmt: skip
    else:
        mod = nn.AvgPool2d(
            _arg(args, kwargs, 1, "kernel_size", None), _arg(args, kwargs, 2, "stride", None),
            _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 4, "ceil_mode", False),
            _arg(args, kwargs, 5, "count_include_pad", True),
            _arg(args, kwargs, 6, "divisor_override", None),
        )  # fmt: skip
    return _pool(mod, ())  # type: ignore[arg-type]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, key: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(key, default)


def rewire_prefix_concats(graph: LayerGraph) -> None:
    """cat(x0, …, xk) → cat(c, xk) where c = cat(x0, …, xk−1) already exists."""
    by_inputs: dict[tuple[int, ...], int] = {}
    for node in graph.nodes.values():
        if node.op != "concat":
            continue
        original = tuple(node.inputs)
        prefix = by_inputs.get(original[:-1]) if len(original) > 2 else None
        if prefix is not None:
            node.inputs = [prefix, original[-1]]
        by_inputs[original] = node.id
