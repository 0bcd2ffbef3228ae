"""The bad-spec corpus: every mistake is reported as `file:line:col: message`
with the offending line and a caret, and the CLI exits 1 without a traceback.

Each file in tests/bad_specs/ starts with `# expect: LINE:COL: MESSAGE`; the
message must appear, at that position, among the errors archspec reports.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.errors import ArchSpecError, SpecErrors

CORPUS = sorted((Path(__file__).parent / "bad_specs").glob("*.yaml"))


def expectation(path: Path) -> tuple[int, int, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# expect: (\d+):(\d+): (.+)", first)
    assert match, f"{path.name} needs an `# expect: LINE:COL: MESSAGE` first line"
    return int(match[1]), int(match[2]), match[3]


def reported(path: Path) -> list[ArchSpecError]:
    with pytest.raises(ArchSpecError) as caught:
        archspec.load(path)
    error = caught.value
    return error.errors if isinstance(error, SpecErrors) else [error]


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_spec_reports_its_message_at_its_place(path: Path) -> None:
    line, col, message = expectation(path)
    errors = reported(path)
    found = [(e.span.line, e.span.col, e.message) for e in errors]
    assert any((e.span.line, e.span.col) == (line, col) and message in e.message for e in errors), (
        f"expected {line}:{col}: {message}\ngot {found}"
    )


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_formatted_error_has_location_line_and_caret(path: Path) -> None:
    line, col, _message = expectation(path)
    error = next(e for e in reported(path) if (e.span.line, e.span.col) == (line, col))
    text = error.format().splitlines()
    assert text[0].startswith(f"{path}:{line}:{col}: error: ")
    source_line = path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert text[1].endswith(source_line)
    caret_column = text[2].index("^") - (len(text[1]) - len(source_line))
    assert caret_column == col - 1


def test_all_errors_of_a_file_are_collected() -> None:
    text = """name: several
input: 3x32x32
layers:
  - cnov3-16
  - conv3-16 (strid=2)
  - maxpool2-16
  - fc-{flor(2)}
"""
    with pytest.raises(SpecErrors) as caught:
        archspec.loads(text, "several.yaml")
    places = [(e.span.line, e.span.col) for e in caught.value.errors]
    assert places == [(4, 5), (5, 15), (6, 14), (7, 9)]
    assert caught.value.format().endswith("4 errors found")


@pytest.mark.parametrize("name", ["unknown_op", "concat_spatial", "yaml_syntax", "arity_columns"])
def test_cli_reports_errors_without_traceback(name: str) -> None:
    path = Path(__file__).parent / "bad_specs" / f"{name}.yaml"
    line, col, message = expectation(path)
    for command in ("summary", "check"):
        result = subprocess.run(
            [sys.executable, "-m", "archspec", command, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert f"{path}:{line}:{col}: error: " in result.stderr
        assert message in result.stderr
        assert "^" in result.stderr


def test_warning_names_the_line() -> None:
    # AlexNet's first layer at 224 instead of 227: the last input rows are never seen.
    net = archspec.loads("name: w\ninput: 3x224x224\nlayers:\n  - conv11/4-96\n", "w.yaml")
    assert len(net.warnings) == 2  # rows and columns
    warning = net.warnings[0]
    assert (warning.span.line, warning.span.col) == (4, 5)
    assert "does not divide evenly" in warning.message
    assert archspec.loads("name: w\ninput: 3x227x227\nlayers:\n  - conv11/4-96\n").warnings == []


def test_check_command_prints_warnings_and_succeeds(tmp_path: Path) -> None:
    spec = tmp_path / "alexnet_224.yaml"
    spec.write_text("name: w\ninput: 3x224x224\nlayers:\n  - conv11/4-96\n")
    result = subprocess.run(
        [sys.executable, "-m", "archspec", "check", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert (
        f"{spec}:4:5: warning: conv11/4-96: input size 224 does not divide evenly" in result.stderr
    )
    assert "2 warnings" in result.stdout
