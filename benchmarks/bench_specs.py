"""Parse + infer time of every bundled spec, and the wall time of one
`archspec summary specs/resnet152.yaml` process.

    python benchmarks/bench_specs.py [--repeat 5]

Targets (issue 2): all bundled specs together under 1 s; one summary command
under 0.5 s wall. Prints medians; never asserts (timings are not tests).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import archspec

REPO = Path(__file__).resolve().parent.parent


def time_all_specs(repeat: int) -> tuple[float, dict[str, float]]:
    per_spec: dict[str, list[float]] = {}
    totals = []
    for _ in range(repeat):
        start_all = time.perf_counter()
        for path in archspec.bundled_specs():
            start = time.perf_counter()
            archspec.load(path)
            per_spec.setdefault(path.stem, []).append(time.perf_counter() - start)
        totals.append(time.perf_counter() - start_all)
    return statistics.median(totals), {k: statistics.median(v) for k, v in per_spec.items()}


def time_summary_command(repeat: int) -> float:
    spec = REPO / "specs" / "resnet152.yaml"
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "archspec", "summary", str(spec)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    total, per_spec = time_all_specs(args.repeat)
    for name, seconds in sorted(per_spec.items(), key=lambda kv: -kv[1]):
        print(f"{name:<28} {seconds * 1000:8.1f} ms")
    label = f"all {len(per_spec)} bundled specs"
    print(f"{label:<28} {total * 1000:8.1f} ms  (target < 1000 ms)")
    wall = time_summary_command(args.repeat)
    print(f"{'archspec summary resnet152':<28} {wall * 1000:8.1f} ms wall  (target < 500 ms)")


if __name__ == "__main__":
    main()
