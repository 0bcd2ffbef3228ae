"""`archspec summary` / `check` / `list` through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import archspec

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archspec", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_summary_table_has_every_row_and_totals() -> None:
    result = run("summary", str(REPO / "specs" / "vgg_e.yaml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("vgg_e")
    # the op column says what the defaults fused in (VGG's convs are conv→ReLU)
    assert any(line.split()[:4] == ["conv1", "conv3-64", "+relu", "64×224×224"] for line in lines)
    assert any(line.startswith("fc1 ") and "FC-4096" in line for line in lines)
    assert "params           143,667,240" in result.stdout
    assert "MACs             19,632,062,464" in result.stdout
    assert "multiply-accumulate" in result.stdout  # the convention is stated


def test_bundled_spec_by_name_from_any_directory(tmp_path: Path) -> None:
    result = run("summary", "resnet50", "--depth", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[5:15]]
    assert names[:6] == ["conv1", "maxpool1", "conv2_x", "conv3_x", "conv4_x", "conv5_x"]


def test_depth_collapses_blocks() -> None:
    full = run("summary", "googlenet").stdout
    top = run("summary", "googlenet", "--depth", "1").stdout
    assert "branch2" in full and "branch2" not in top
    row = next(line for line in top.splitlines() if line.startswith("inception_3a"))
    assert row.split()[1:5] == ["inception", "(3a)", "256×28×28", "163,696"]


def test_json_has_every_block_and_layer() -> None:
    result = run("summary", "googlenet", "--json")
    data = json.loads(result.stdout)
    net = archspec.load("googlenet")
    assert data["name"] == "googlenet"
    assert data["input"] == [3, 224, 224]
    assert data["output"] == [1000]
    assert (data["params"], data["macs"]) == (net.params, net.macs)
    assert len(data["layers"]) == len(net.rows())
    row = next(r for r in data["layers"] if r["name"] == "inception_3a")
    assert (row["op"], row["depth"], row["output"]) == ("inception (3a)", 1, [256, 28, 28])
    assert round(row["macs"] / 1e6) == 128
    leaf = next(r for r in data["layers"] if r["name"] == "inception_3a.branch2.conv2")
    assert (leaf["op"], leaf["depth"], leaf["output"], leaf["params"]) == (
        "conv3-128 +relu",
        3,
        [128, 28, 28],
        96 * 128 * 9 + 128,
    )


def test_json_lists_several_outputs() -> None:
    data = json.loads(run("summary", "googlenet_aux", "--json").stdout)
    assert data["output"] == [[1000], [1000], [1000]]


def test_check_prints_ok() -> None:
    result = run("check", "densenet121")
    assert result.returncode == 0
    assert "ok — densenet121: 3×224×224 → 1000, 7,978,856 params" in result.stdout


def test_missing_spec_is_one_line() -> None:
    result = run("summary", "no_such_network")
    assert result.returncode == 1
    assert result.stderr.strip() == "archspec: no such spec: no_such_network"


def test_list_names_bundled_specs() -> None:
    names = run("list").stdout.split()
    assert {"vgg_e", "googlenet", "resnet152", "densenet201"} <= set(names)
    assert not any(name.startswith("_") for name in names)


@pytest.mark.parametrize("command", ["summary", "check"])
def test_summary_and_check_do_not_import_torch(command: str) -> None:
    code = (
        "import sys\n"
        "from archspec.cli import main\n"
        f"main([{command!r}, 'resnet152'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
