"""Wall time of `archspec draw`, as a user sees it: a fresh process each run.

    python benchmarks/bench_draw.py [--runs 5] [--out benchmarks/results_draw.txt]

Times GoogLeNet at the default depth and DenseNet-201 at full depth (every
block expanded), to SVG and PNG, and reports the median of the runs. The time
to build the DOT source in-process (no Graphviz) is shown beside it, so the
share spent in `dot` itself is visible.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import archspec  # noqa: E402
from archspec.diagram import diagram, height  # noqa: E402

CASES = [("googlenet", None), ("densenet201", "full")]
FORMATS = ("svg", "png")


def depth_args(spec: str, depth: str | None) -> list[str]:
    if depth is None:
        return []
    return ["--depth", str(height(archspec.load(spec).model))]  # the full tree


def time_cli(spec: str, depth: str | None, fmt: str, runs: int) -> float:
    """Median wall seconds of `python -m archspec draw` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / f"{spec}.{fmt}"
        command = [
            sys.executable,
            "-m",
            "archspec",
            "draw",
            spec,
            "--format",
            fmt,
            "-o",
            str(output),
            *depth_args(spec, depth),
        ]
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=REPO)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_dot_source(spec: str, depth: str | None, runs: int) -> float:
    net = archspec.load(spec)
    level = None if depth is None else height(net.model)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        diagram(net.model, depth=level).source  # noqa: B018 - building the source is the point
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def graphviz_version() -> str:
    if shutil.which("dot") is None:
        return "dot not found"
    result = subprocess.run(["dot", "-V"], capture_output=True, text=True)
    return (result.stderr or result.stdout).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results_draw.txt"))
    args = parser.parse_args()

    lines = [
        "archspec draw — wall time of `python -m archspec draw` (fresh process, "
        f"median of {args.runs} runs)",
        f"python {platform.python_version()} on {platform.platform()}; {graphviz_version()}",
        "",
        f"{'spec':<12} {'depth':<8} {'format':<6} {'wall s':>7}   {'DOT source only s':>17}",
    ]
    for spec, depth in CASES:
        source_time = time_dot_source(spec, depth, args.runs)
        for fmt in FORMATS:
            wall = time_cli(spec, depth, fmt, args.runs)
            label = depth or "default"
            lines.append(f"{spec:<12} {label:<8} {fmt:<6} {wall:>7.2f}   {source_time:>17.3f}")
    lines.append("")
    lines.append("command: python benchmarks/bench_draw.py --runs " + str(args.runs))
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
