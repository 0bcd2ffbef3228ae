"""Parse + infer time of every bundled spec, the wall time of one
`archspec summary specs/resnet152.yaml` process, and (issue 14) the CLI's wall
times against a bare interpreter, per-layer scaling and the import breakdown.

    python benchmarks/bench_specs.py [--repeat 5] [--no-scaling]

Targets (issue 2): all bundled specs together under 1 s; one summary command
under 0.5 s wall. Issue 14: `archspec summary resnet50` ≤ 60 ms wall and ≤ 3×
`python -c pass`; `archspec check` of every bundled spec ≤ 1 s; a spec of N
written layer lines ≤ 25 µs and ≤ 1 KB per line at 10k and 50k. Prints
medians; never asserts (timings are not tests).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import archspec  # noqa: E402


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
    return wall([sys.executable, "-m", "archspec", "summary", str(spec)], repeat)


def _env() -> dict[str, str]:
    # This checkout first, whatever an editable install points at.
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def wall(argv: list[str], repeat: int) -> float:
    """Median wall time of a fresh process (interleaving is the caller's job)."""
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=_env())
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def cli_walls(repeat: int) -> None:
    """The static commands against `python -c pass`, interleaved round by round."""
    specs = [str(p) for p in archspec.bundled_specs()]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import archspec'": [sys.executable, "-c", "import archspec"],
        "archspec summary resnet50": [sys.executable, "-m", "archspec", "summary", "resnet50"],
        "archspec check <every spec>": [sys.executable, "-m", "archspec", "check", *specs],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            times[name].append(wall(argv, 1))
    base = statistics.median(times["python -c pass"])
    print(f"\nCLI wall time (median of {repeat}, interleaved)")
    for name, t in times.items():
        median = statistics.median(t)
        print(f"  {name:<30} {median * 1000:8.1f} ms  {median / base:5.2f}× python -c pass")
    print("  targets: summary ≤ 60 ms and ≤ 3× python -c pass; check of all specs ≤ 1000 ms")


# A fresh interpreter loads a spec of N written lines and reports its own time
# and peak RSS, against the same interpreter having loaded a 10-line spec.
_SCALING_CHILD = """
import resource, sys, time
import archspec
text = open(sys.argv[1]).read()
small = open(sys.argv[2]).read()
archspec.loads(small)  # warm: parser and caches built
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
net = archspec.loads(text)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(seconds, (after - before) * 1024)
"""


def spec_of(lines: int) -> str:
    body = "\n".join("  - conv3-16" for _ in range(lines))
    return ("name: long\ninput: 3x32x32\ndefaults:\n  conv: {pad: same, bn: true, act: relu}\n"
            f"layers:\n{body}\n  - gap\n  - FC-10\n")  # fmt: skip


def per_layer_scaling(sizes: tuple[int, ...], repeat: int) -> None:
    print("\nper written layer line (`- conv3-16` ×N; fresh process, median of", repeat, "runs)")
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.yaml"
        small.write_text(spec_of(10), encoding="utf-8")
        for n in sizes:
            path = Path(tmp) / f"n{n}.yaml"
            path.write_text(spec_of(n), encoding="utf-8")
            runs = []
            for _ in range(repeat):
                out = subprocess.run(
                    [sys.executable, "-c", _SCALING_CHILD, str(path), str(small)],
                    check=True, capture_output=True, text=True, env=_env(),
                ).stdout.split()  # fmt: skip
                runs.append((float(out[0]), int(out[1])))
            seconds = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            print(f"  {n:>6} lines  {seconds * 1000:8.1f} ms  {seconds / n * 1e6:6.1f} µs/line  "
                  f"peak RSS +{rss / 2**20:6.1f} MiB  {rss / n:7.0f} B/line")  # fmt: skip
    print("  targets: ≤ 25 µs/line, linear; ≤ 1 KB/line")


def import_breakdown(top: int = 15) -> None:
    """`python -X importtime -m archspec summary resnet50`: the costliest imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "archspec", "summary", "resnet50"],
        check=True, capture_output=True, text=True, env=_env(),
    )  # fmt: skip
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (.*)", line)
        if match:
            rows.append((int(match[2]), int(match[1]), match[3].rstrip()))
    print(f"\nimports of `archspec summary resnet50` (cumulative / self µs, top {top})")
    for cumulative, self_us, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative:>8} {self_us:>8}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1k/10k/50k runs")
    args = parser.parse_args()
    total, per_spec = time_all_specs(args.repeat)
    for name, seconds in sorted(per_spec.items(), key=lambda kv: -kv[1]):
        print(f"{name:<28} {seconds * 1000:8.1f} ms")
    label = f"all {len(per_spec)} bundled specs"
    print(f"{label:<28} {total * 1000:8.1f} ms  (target < 1000 ms)")
    wall = time_summary_command(args.repeat)
    print(f"{'archspec summary resnet152':<28} {wall * 1000:8.1f} ms wall  (target < 500 ms)")
    cli_walls(max(args.repeat, 9))
    if not args.no_scaling:
        per_layer_scaling((1_000, 10_000, 50_000), args.repeat)
    import_breakdown()


if __name__ == "__main__":
    main()
