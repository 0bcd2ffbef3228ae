"""Bad input to `archspec import`, through the real command line.

Every case must give one located `file:line:col: error: …`, exit status 1, no
traceback, and leave nothing at `-o`. The cases are small files written for
this purpose in tests/import_cases/ (the binary one is made here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import archspec

CASES = Path(__file__).resolve().parent / "import_cases"
ROOT = Path(__file__).resolve().parents[1]

# case → (line, col, the message's start)
EXPECTED = {
    "truncated": (14, 19, "unexpected end of file"),
    "unknown_type": (9, 9, "unsupported layer type Crop"),
    "missing_bottom": (10, 11, "bottom `dta` is never produced"),
    "cycle": (11, 11, "`b` is read here but produced later, by layer `b` (line 18)"),
    "concat_mismatch": (18, 11, "Concat `cat` of different sizes"),
    "empty": (1, 1, "empty file"),
    "v1_layers": (7, 1, "old-style (V1) `layers` entries are not supported"),
    "eltwise_max": (7, 25, "Eltwise MAX has no archspec join"),
    "stray_brace": (6, 58, "unexpected `}`: no `{` is open"),
    "binary": (1, 8, "not a text file"),
}


def _run(source: Path, output: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "archspec", "import", str(source), "-o", str(output)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, object]]:
    tmp = tmp_path_factory.mktemp("import")
    binary = tmp / "binary.prototxt"
    binary.write_bytes(b"name\x00\x01\x02\xff\xfe garbage \x89PNG\r\n")
    out = {}
    for case in EXPECTED:
        source = binary if case == "binary" else CASES / f"{case}.prototxt"
        target = tmp / f"{case}.yaml"
        out[case] = (source, target, _run(source, target))
    return out


@pytest.mark.parametrize("case", EXPECTED)
def test_bad_input_is_one_located_error(results, case: str) -> None:
    source, target, proc = results[case]
    line, col, message = EXPECTED[case]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"{source}:{line}:{col}: error: {message}"), first
    assert proc.stderr.count(": error: ") == 1
    assert not target.exists()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    proc = _run(tmp_path / "nope.prototxt", tmp_path / "out.yaml")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot read" in proc.stderr and not (tmp_path / "out.yaml").exists()


def test_hostile_layer_names_cannot_inject(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    proc = _run(CASES / "hostile_names.prototxt", target)
    assert proc.returncode == 0, proc.stderr
    text = target.read_text()
    body = text.split("\n", 1)[1]  # below the header comment
    for bad in ("!!", "__import__", "os.system", "{x", "'", '"'):
        assert bad not in body
    net = archspec.loads(text, filename="out.yaml")
    assert (net.params, net.output.as_list()) == (3 * 9 * 8 + 8 + 8 * 16 * 16 * 10 + 10, [10])
    assert text.splitlines()[1:] == [
        "name: evil_x_1_n_oops",
        "input: 3x16x16",
        "defaults:",
        "  conv: {pad: same}",
        "layers:",
        "  - conv1_python_object_apply_os_system_true: conv3-8",
        "  - import_os: FC-10",
    ]
