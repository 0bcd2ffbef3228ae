"""Issue 12 through real subprocesses: one shape order, what defaults did,
graphs readable in text, the CLI's rough edges, `archspec diff`; and the
notebook-facing objects (`summary()` as str + HTML, node reprs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import archspec

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "archspec", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=env,
    )


PRE_POST_LINEAR = """
name: three_convs
input: 64x8x8
layers:
  - conv1-128 (bn=true, act=relu)
  - conv1-128 (bn=true, act=relu, order=pre)
  - conv1-128
"""


# ---------------------------------------------------------------- one shape order


def test_summary_prints_chw_by_default_and_hwc_on_request() -> None:
    chw = run("summary", "googlenet", "--depth", "1").stdout
    hwc = run("summary", "googlenet", "--depth", "1", "--shape-order", "hwc").stdout
    assert "output C×H×W" in chw and "256×28×28" in chw
    assert "output H×W×C" in hwc and "28×28×256" in hwc and "256×28×28" not in hwc


# ---------------------------------------------------------------- what defaults did


def test_three_conv1_128_read_differently(tmp_path: Path) -> None:
    spec = tmp_path / "three_convs.yaml"
    spec.write_text(PRE_POST_LINEAR, encoding="utf-8")
    text = run("summary", str(spec)).stdout
    rows = [line for line in text.splitlines() if line[:5] in ("conv1", "conv2", "conv3")]
    ops = [line.split("  ")[1].strip() for line in rows]
    assert ops == ["conv1-128 +bn +relu", "bn+relu → conv1-128", "conv1-128"]
    layers = json.loads(run("summary", str(spec), "--json").stdout)["layers"]
    post, pre, linear = layers
    assert post["attrs"]["bn"] is True and post["attrs"]["act"] == "relu"
    assert (post["attrs"]["order"], pre["attrs"]["order"]) == ("post", "pre")
    assert post["params_by_part"] == {"conv": 64 * 128, "bn": 2 * 128}
    assert pre["params_by_part"] == {"conv": 128 * 128, "bn": 2 * 128}  # BN on the input
    assert linear["params_by_part"] == {"conv": 128 * 128 + 128}
    assert linear["attrs"]["bn"] is False
    assert post["file"] == "three_convs.yaml" and post["line"] == 5


def test_totals_split_params_and_estimate_training_memory() -> None:
    one = run("summary", "resnet50").stdout
    assert "25,557,032 trainable, 0 non-trainable" in one
    assert "97.5 MiB at fp32" in one
    assert "buffers 53,120" in one  # BN running mean and variance
    data1 = json.loads(run("summary", "resnet50", "--json").stdout)
    data32 = json.loads(run("summary", "resnet50", "--json", "--batch", "32").stdout)
    assert data1["trainable_params"] == 25_557_032 and data1["buffers"] == 53_120
    assert data32["batch"] == 32
    per_sample = data1["training_saved_elements_per_sample"]
    assert per_sample > data1["activation_elements"]  # BN and ReLU outputs are kept too
    weights = 2 * data1["params"] * 4 / 2**20
    assert data32["training_mib"] == pytest.approx(per_sample * 32 * 4 / 2**20 + weights, 1e-3)
    assert "training memory  ~" in run("summary", "resnet50", "--batch", "32").stdout


# ---------------------------------------------------------------- graphs in text


def test_cells_show_what_they_read() -> None:
    text = run("summary", "nasnet_a_mobile", "--depth", "2").stdout
    header = next(line for line in text.splitlines() if line.startswith("layer"))
    assert header.split()[:3] == ["layer", "op", "from"]
    row = next(line for line in text.splitlines() if line.strip().startswith("c3 "))
    assert "c3a, c1" in row
    data = json.loads(run("summary", "nasnet_a_mobile", "--json").stdout)
    c0 = next(r for r in data["layers"] if r["name"] == "stem0.c0")
    assert c0["from"] == ["c0a", "c0b"] and len(c0["input"]) == 2


# ---------------------------------------------------------------- CLI rough edges


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"archspec {archspec.__version__}"


def test_head_ends_quietly() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        f"'{sys.executable}' -m archspec summary resnet152 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.stdout.startswith("resnet152")
    assert done.stderr == ""


@pytest.mark.parametrize("command", ["summary", "draw"])
def test_depth_zero_is_an_error(command: str) -> None:
    result = run(command, "vgg_e", "--depth", "0")
    assert result.returncode == 2
    assert "--depth: must be at least 1" in result.stderr
    assert result.stdout == ""


def test_output_suffix_and_format_must_agree(tmp_path: Path) -> None:
    out = tmp_path / "out.svg"
    result = run("draw", "vgg_e", "-o", str(out), "--format", "png")
    assert result.returncode == 1 and not out.exists()
    assert f"-o {out} says .svg but --format says png" in result.stderr
    noext = tmp_path / "noext"
    result = run("draw", "vgg_e", "-o", str(noext))
    assert result.returncode == 1 and not noext.exists()
    assert "cannot tell the format" in result.stderr
    result = run("draw", "vgg_e", "-o", str(noext), "--format", "dot")
    assert result.returncode == 0 and noext.read_text().startswith("digraph")


def test_local_spec_comes_first_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "resnet50.yaml").write_text(PRE_POST_LINEAR, encoding="utf-8")
    result = run("check", "resnet50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "three_convs" in result.stdout
    assert "using resnet50.yaml (the bundled spec resnet50 has the same name)" in result.stderr
    alone = run("check", "resnet18", cwd=tmp_path)
    assert "using" not in alone.stderr and "resnet18" in alone.stdout


def test_missing_spec_suggests_close_names() -> None:
    result = run("summary", "resnet5")
    assert result.returncode == 1
    assert result.stderr.startswith("archspec: no such spec: resnet5 — did you mean ")
    assert "resnet50" in result.stderr and "Traceback" not in result.stderr


def test_list_is_a_table() -> None:
    lines = run("list").stdout.splitlines()
    assert lines[0].split() == ["spec", "paper", "input", "params", "MACs"]
    row = next(line for line in lines if line.startswith("resnet50 "))
    assert "ResNet (He et al. 2016)" in row and "3×224×224" in row
    assert row.split()[-2:] == ["25,557,032", "3.86G"]


def test_check_json(tmp_path: Path) -> None:
    data = json.loads(run("check", "alexnet", "--json").stdout)
    assert data["ok"] is True and data["params"] == 60_965_224 and data["warnings"] == []
    assert data["file"].endswith("alexnet.yaml")
    spec = tmp_path / "uneven.yaml"
    spec.write_text("name: uneven\ninput: 3x224x224\nlayers:\n  - conv11/4-96\n")
    data = json.loads(run("check", str(spec), "--json").stdout)
    assert data["warnings"][0]["line"] == 4 and "divide evenly" in data["warnings"][0]["message"]


def test_json_rows_carry_file_and_line() -> None:
    data = json.loads(run("summary", "resnet18", "--json").stdout)
    row = next(r for r in data["layers"] if r["name"] == "conv2_x.basic1.residual.conv1")
    assert (row["file"], row["line"]) == ("_resnet.yaml", 19)
    assert data["file"].endswith("resnet18.yaml")


# ---------------------------------------------------------------- diff


def test_diff_resnet50_v1_against_v15() -> None:
    v15 = str(FIXTURES / "resnet50_v15.yaml")
    text = run("diff", "resnet50", v15, "--changed").stdout
    assert "params  25,557,032 → 25,557,032 (0, +0.00%)" in text
    assert "MACs    3,857,973,248 → 4,089,184,256 (+231,211,008" in text
    row = next(line for line in text.splitlines() if "conv1/2-128 +bn +relu" in line)
    assert row.startswith("~") and "128×28×28" in row and "128×56×56" in row
    data = json.loads(run("diff", "resnet50", v15, "--json").stdout)
    assert data["params_delta"] == 0 and data["macs_delta"] == 231_211_008
    conv = next(r for r in data["layers"] if r["name"] == "conv3_x.bottleneck1.residual.conv1")
    assert conv["status"] == "changed"
    assert (conv["a"]["output"], conv["b"]["output"]) == ([128, 28, 28], [128, 56, 56])
    assert conv["macs_delta"] == 128 * 256 * (56 * 56 - 28 * 28)


def test_diff_vgg16_against_vgg16_bn() -> None:
    bn = str(FIXTURES / "vgg_d_bn.yaml")
    data = json.loads(run("diff", "vgg_d", bn, "--json").stdout)
    assert data["b"]["params"] == 138_365_992  # torchvision's vgg16_bn
    assert data["params_delta"] == 2 * (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6)
    statuses = {r["name"]: r["status"] for r in data["layers"]}
    assert statuses["conv1"] == "changed" and statuses["maxpool1"] == "same"
    text = run("diff", "vgg_d", bn).stdout
    assert text.splitlines()[0] == "vgg_d → vgg_d_bn"
    assert "conv3-64 +relu" in text and "conv3-64 +bn +relu" in text


def test_diff_variants_of_one_family() -> None:
    family = str(REPO / "specs" / "_resnet.yaml")
    data = json.loads(run("diff", f"{family}@resnet18", f"{family}@resnet34", "--json").stdout)
    assert data["params_delta"] == 21_797_672 - 11_689_512
    added = [r["name"] for r in data["layers"] if r["status"] == "added"]
    assert "conv3_x.basic3" in added


# ---------------------------------------------------------------- notebook objects


def test_summary_is_todays_text_and_an_html_table() -> None:
    net = archspec.load("googlenet")
    summary = net.summary()
    assert isinstance(summary, str)
    assert summary == run("summary", "googlenet").stdout.rstrip("\n")
    assert str(summary) == summary and summary + "\n" == str(summary) + "\n"
    html = summary._repr_html_()
    assert html.count("<details>") == sum(1 for row in net.rows() if row.is_block) - sum(
        1 for row in net.rows() if row.is_block and not net.find(row.name).children
    )
    assert 'class="num"' in html and "text-align: right" in html
    assert "inception (3a)" in html


def test_find_reads_as_a_row() -> None:
    net = archspec.load("googlenet")
    text = repr(net.find("inception_3a"))
    assert text.startswith("<Concat inception_3a inception (3a): 192×28×28 → 256×28×28, ")
    assert "163,696 params" in text and "googlenet.yaml:" in text
    layer = repr(net.find("inception_3a.branch2.conv2"))
    assert layer.startswith("<Layer conv2 conv3-128 +relu: 96×28×28 → 128×28×28, 110,720 params")
    for kind in archspec.load("nasnet_a_mobile").root.children:
        assert repr(kind).startswith(f"<{type(kind).__name__} ")


def test_network_card_escapes_the_spec() -> None:
    net = archspec.loads(HOSTILE)
    card = net._repr_html_()
    assert "<script>alert(1)</script>" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "params" in card and "receptive field" in card


HOSTILE = """
name: evil
title: "<script>alert(1)</script> \\"quoted\\" 'single'"
input: 3x32x32
layers:
  - conv3-8
  - gap
  - FC-10
"""
