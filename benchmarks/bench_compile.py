"""Forward and build time: archspec's built module vs its generated source vs
torchvision (when it imports), on the CPU.

    python benchmarks/bench_compile.py            # VGG-16, ResNet-50, GoogLeNet, DenseNet-121
    python benchmarks/bench_compile.py --runs 20 --nets resnet50

Eval mode, inference mode, batch 8 at the spec's input size; each figure is the
median of `--runs` timed calls after `--warmup` untimed ones. The backends are
timed in alternation (built, generated, torchvision, built, …) so that load
from other processes on the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archspec
from archspec.compiler.source.codegen import Generator

# Our spec → torchvision's constructor for the same architecture (where one exists).
TORCHVISION = {
    "vgg_d": ("vgg16", {}),
    "resnet50": ("resnet50", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": True}),
    "densenet121": ("densenet121", {}),
}


def generated_class(net: archspec.Network, folder: Path) -> type[nn.Module]:
    path = folder / f"{net.name}_generated.py"
    path.write_text(net.source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{net.name}_generated", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, Generator(net.model).cls)


def torchvision_model(name: str) -> Callable[[], nn.Module] | None:
    if name not in TORCHVISION:
        return None
    try:
        import torchvision  # type: ignore[import-not-found]
    except Exception:  # not installed, or built against another torch
        return None
    factory, kwargs = TORCHVISION[name]
    return lambda: getattr(torchvision.models, factory)(**kwargs)


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_forward(
    models: dict[str, nn.Module], x: torch.Tensor, runs: int, warmup: int
) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for _ in range(warmup):
            for model in models.values():
                model(x)
        for _ in range(runs):
            for name, model in models.items():
                start = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(TORCHVISION))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=10, help="timed runs (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--build-runs", type=int, default=3, help="timed builds (median)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} threads, batch {args.batch}, eval + inference_mode, "
        f"median of {args.runs} runs after {args.warmup} warm-up"
    )
    header = (
        f"{'network':<12} {'built ms':>9} {'generated ms':>12} {'built/gen':>9} "
        f"{'torchvision ms':>14} {'built/tv':>8} {'build s':>8} {'construct s':>11} "
        f"{'build/constr':>12}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for name in args.nets:
            net = archspec.load(name)
            cls = generated_class(net, Path(folder))
            build = median_seconds(lambda name=name: archspec.load(name).build(), args.build_runs)
            construct = median_seconds(cls, args.build_runs)
            built = net.build().eval()
            generated = cls().eval()
            generated.load_state_dict(built.state_dict())
            models: dict[str, nn.Module] = {"built": built, "generated": generated}
            make_tv = torchvision_model(name)
            if make_tv is not None:
                models["torchvision"] = make_tv().eval()
            x = torch.randn(args.batch, *net.input.as_list())
            times = bench_forward(models, x, args.runs, args.warmup)
            tv = times.get("torchvision")
            tv_ms = f"{tv * 1e3:14.1f}" if tv else f"{'n/a':>14}"
            tv_ratio = f"{times['built'] / tv:8.3f}" if tv else f"{'n/a':>8}"
            print(
                f"{name:<12} {times['built'] * 1e3:9.1f} {times['generated'] * 1e3:12.1f} "
                f"{times['built'] / times['generated']:9.3f} {tv_ms} {tv_ratio} "
                f"{build:8.3f} {construct:11.3f} {build / construct:12.3f}",
                flush=True,
            )
    print(
        "build s: spec text → parsed IR → nn.Module with initialised weights "
        "(archspec.load + build); construct s: the generated class's constructor."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
