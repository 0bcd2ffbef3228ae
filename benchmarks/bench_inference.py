"""CPU forward time of archspec's inference build against torchvision, as ratios
to torchvision eager, and spec → initialised module build time.

    python benchmarks/bench_inference.py                    # the five nets, batch 8
    python benchmarks/bench_inference.py --nets resnet50_v1_5 --runs 25
    python benchmarks/bench_inference.py --compile          # + torch.compile (slow to build)
    python benchmarks/bench_inference.py --ablation         # fold without act fusion / NHWC

Per net: archspec's plain build (eval), its inference build (`build(inference=True)`),
optionally both ablations and `build(inference=True, compile=True)`, torchvision's
model eager, and torchvision + `torch.fx.experimental.optimization.fuse` +
channels_last. All get the same NCHW float32 input, under `torch.inference_mode()`;
each timed call is one forward at batch `--batch`; the variants are timed in
rotation (a different order each round) so load from other processes falls on all
alike; figures are medians of `--runs` rounds after `--warmup` untimed ones.
torchvision is imported through ../shared/reference/torchvision_shim.py (or a
plain import); without it only archspec's figures print. Never asserts.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import archspec  # noqa: E402
from archspec.compiler.torch.inference import fold  # noqa: E402

HERE = Path(__file__).resolve().parent
SHIM = REPO.parent / "shared" / "reference" / "torchvision_shim.py"

# name → (spec name or path, torchvision factory, its kwargs)
NETS: dict[str, tuple[str, str, dict]] = {
    "resnet50_v1_5": (str(HERE / "specs" / "resnet50_v1_5.yaml"), "resnet50", {}),
    "densenet121": ("densenet121", "densenet121", {}),
    "inception_v3": ("inception_v3", "inception_v3", {"aux_logits": False, "init_weights": True}),
    "vgg16": ("vgg_d", "vgg16", {}),
    "mobilenet_v2": (str(HERE / "specs" / "mobilenet_v2.yaml"), "mobilenet_v2", {}),
}


def torchvision_models() -> object | None:
    """`torchvision.models`, via the shim where the wheel's operators do not load."""
    for candidate in (SHIM,):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("torchvision_shim", candidate)
            if spec and spec.loader:
                try:
                    spec.loader.exec_module(importlib.util.module_from_spec(spec))
                except Exception:
                    continue
            break
    try:
        from torchvision import models  # type: ignore[import-not-found]
    except Exception:
        return None
    return models


def fx_fuse_channels_last(model: nn.Module) -> nn.Module | None:
    from torch.fx.experimental.optimization import fuse

    try:
        fused = fuse(copy.deepcopy(model).eval())
    except Exception as exc:  # fx cannot trace the model
        print(f"  (fx fuse failed: {type(exc).__name__}: {exc})")
        return None
    fused = fused.to(memory_format=torch.channels_last)
    return _ChannelsLastInput(fused)


class _ChannelsLastInput(nn.Module):
    """The reference recipe converts its input to NHWC; so does our pre-hook."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.contiguous(memory_format=torch.channels_last))


def variants(name: str, args: argparse.Namespace, models: object | None) -> dict[str, nn.Module]:
    spec, factory, kwargs = NETS[name]
    net = archspec.load(spec)
    out: dict[str, nn.Module] = {"archspec plain": net.build().eval()}
    out["archspec inference"] = fold(copy.deepcopy(out["archspec plain"]))
    if args.ablation:
        out["  without act fusion"] = fold(copy.deepcopy(out["archspec plain"]), fuse_act=False)
        out["  without NHWC"] = fold(copy.deepcopy(out["archspec plain"]), channels_last=False)
    if args.compile:
        out["archspec inference + compile"] = torch.compile(
            fold(copy.deepcopy(out["archspec plain"]))
        )
    if models is not None:
        reference = getattr(models, factory)(**kwargs).eval()
        out["torchvision eager"] = reference
        fused = fx_fuse_channels_last(reference)
        if fused is not None:
            out["torchvision fuse+NHWC"] = fused
    return out


def bench(models: dict[str, nn.Module], x: torch.Tensor, runs: int, warmup: int) -> dict:
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    with torch.inference_mode():
        for _ in range(warmup):
            for model in models.values():
                model(x)
        for round_ in range(runs):
            k = round_ % len(names)
            for name in names[k:] + names[:k]:  # rotate the order each round
                start = time.perf_counter()
                models[name](x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def build_time(repeat: int, models: object | None) -> None:
    """Spec file → initialised nn.Module, against torchvision's constructor."""
    entries: dict[str, Callable[[], object]] = {
        "archspec load + build": lambda: archspec.load("densenet121").build(),
        "archspec build (loaded)": (lambda n: lambda: n.build())(archspec.load("densenet121")),
        "archspec load only": lambda: archspec.load("densenet121"),
    }
    if models is not None:
        entries["torchvision densenet121()"] = lambda: models.densenet121()
    times: dict[str, list[float]] = {name: [] for name in entries}
    for _ in range(repeat):
        for name, fn in entries.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print("\nbuild time, DenseNet-121 (median of", repeat, "runs)")
    base = statistics.median(times.get("torchvision densenet121()", [float("nan")]))
    for name, t in times.items():
        median = statistics.median(t)
        print(f"  {name:<28} {median * 1000:8.1f} ms   {median / base:5.2f}× torchvision")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="add torch.compile (slow)")
    parser.add_argument("--ablation", action="store_true", help="fold without each trick")
    parser.add_argument("--build-runs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    models = torchvision_models()
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, batch {args.batch}, "
        f"median of {args.runs}; torchvision: {'yes' if models else 'not importable'}"
    )
    for name in args.nets:
        found = variants(name, args, models)
        shape = archspec.load(NETS[name][0]).input.as_list()
        x = torch.randn(args.batch, *shape)
        medians = bench(found, x, args.runs, args.warmup)
        base = medians.get("torchvision eager")
        print(f"\n{name} ({args.batch}×{'×'.join(map(str, shape))})")
        for label, seconds in medians.items():
            ratio = f"{seconds / base:5.2f}× tv eager" if base else ""
            print(f"  {label:<30} {seconds * 1000:9.1f} ms   {ratio}", flush=True)
    build_time(args.build_runs, models)


if __name__ == "__main__":
    main()
