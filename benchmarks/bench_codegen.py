"""How long writing generated source takes: `archspec compile` against a bare
`import torch`, side by side, and every bundled spec compiled in one process.

    python benchmarks/bench_codegen.py [--repeat 5] [--spec resnet50]

Targets (issue 19): `archspec compile resnet50` ≤ 1.3× the wall time of
`python -c "import torch"`; compiling all bundled specs (the parametric form,
as `archspec compile` writes it) in one process ≤ 10 s. The processes are
started in alternation (torch, compile, --unrolled, torch, …) so that load from
elsewhere on the machine falls on all of them alike; medians are printed, and
nothing is asserted (timings are not tests).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import archspec  # noqa: E402


def _env() -> dict[str, str]:
    # This checkout first, whatever an editable install points at.
    extra = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, extra))}


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=_env(), capture_output=True)
    return time.perf_counter() - start


def commands(spec: str, out: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "python -c 'import torch'": [python, "-c", "import torch"],
        f"archspec compile {spec}": [python, "-m", "archspec", "compile", spec, "-o", str(out)],
        f"archspec compile {spec} --unrolled": [
            *(python, "-m", "archspec", "compile", spec, "--unrolled", "-o", str(out))
        ],
    }


def interleaved(argvs: dict[str, list[str]], repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for argv in argvs.values():  # warm the file cache once, untimed
        _wall(argv)
    for _ in range(repeat):
        for name, argv in argvs.items():
            times[name].append(_wall(argv))
    return {name: statistics.median(ts) for name, ts in times.items()}


def all_specs_in_one_process() -> tuple[float, int]:
    """Seconds to load and compile every bundled spec as `archspec compile`
    does (after importing torch and the backend, which one `compile` pays
    once), and how many there are. (That each gets the parametric form is a
    test: tests/test_parametric.py.)"""
    from archspec.compiler.source.codegen import generate_source  # imports torch

    specs = archspec.bundled_specs()
    start = time.perf_counter()
    for path in specs:
        generate_source(archspec.load(path).model)
    return time.perf_counter() - start, len(specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spec", default="resnet50")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        walls = interleaved(commands(args.spec, Path(tmp) / "out.py"), args.repeat)
    base = next(iter(walls.values()))
    print(f"wall, median of {args.repeat} (interleaved):")
    for name, seconds in walls.items():
        print(f"  {name:<44} {seconds:6.2f} s  {seconds / base:5.2f}×")
    seconds, count = all_specs_in_one_process()
    print(f"all {count} bundled specs loaded and compiled in one process: {seconds:.2f} s")


if __name__ == "__main__":
    main()
