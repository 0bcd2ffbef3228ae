"""`archspec draw --format html`: one self-contained page, driven in a real
headless Chromium (skipped where none is installed; `.ci/run` installs it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.html import page, page_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Page, browser, chromium

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
UPDATE_DOCS = os.environ.get("ARCHSPEC_UPDATE_DOCS") == "1"

try:
    import websocket  # noqa: F401

    HAS_CDP = True
except ImportError:
    HAS_CDP = False
needs_browser = pytest.mark.skipif(
    chromium() is None or not HAS_CDP, reason="needs Chromium and websocket-client"
)

HOSTILE = """
name: "x</script><script>alert(1)</script>"
title: "<img src=x onerror=alert(2)> \\"double\\" 'single' & `tick`"
input: 3x32x32
layers:
  - conv3-8
  - a: {from: [conv1], layers: "conv3-8"}
  - gap
  - FC-10
"""


def write(tmp_path: Path, spec: str, *extra: str) -> Path:
    out = tmp_path / f"{spec}.html"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "archspec",
            "draw",
            spec,
            "--format",
            "html",
            "-o",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_page_is_self_contained(tmp_path: Path) -> None:
    text = write(tmp_path, "googlenet").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", text)  # nothing fetched
    assert "<script" in text and "<style>" in text
    data = page_data(archspec.load("googlenet").model)
    assert {n["id"] for n in data["nodes"]} >= {"inception_3a.branch1", "inception_3a/concat"}


def test_spec_strings_are_escaped() -> None:
    net = archspec.loads(HOSTILE)
    text = page(net.model)
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert text.count("</script>") == 2  # the data's and the code's: nothing closes early
    start = text.index('id="archspec-data">') + len('id="archspec-data">')
    data = json.loads(text[start : text.index("</script>", start)])
    assert data["name"] == "x</script><script>alert(1)</script>"


@needs_browser
def test_hostile_spec_shows_as_text(tmp_path: Path) -> None:
    out = tmp_path / "hostile.html"
    out.write_text(page(archspec.loads(HOSTILE).model), encoding="utf-8")
    with browser() as tab:
        tab.open(out.as_uri())
        assert tab.js("document.querySelectorAll('script').length") == 2
        assert tab.js("document.querySelectorAll('img').length") == 0
        assert tab.js("document.getElementById('title').textContent").startswith(
            "x</script><script>alert(1)</script> — <img src=x"
        )
        assert tab.js("document.title").startswith("x</script>")


def _count(tab: Page, selector: str) -> int:
    return int(tab.js(f"document.querySelectorAll({selector!r}).length"))


def _click(tab: Page, selector: str) -> None:
    tab.js(
        f"document.querySelector({selector!r})"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )


@needs_browser
def test_expand_collapse_search_and_linked_table(tmp_path: Path) -> None:
    net = archspec.load("googlenet")
    out = write(tmp_path, "googlenet")
    with browser() as tab:
        seconds = tab.open(out.as_uri())
        assert seconds < 10
        _click(tab, "#collapse-all")
        top = _count(tab, "#graph .node.ir")
        assert top == len(net.root.children)
        # expanding a block replaces its node by its children, as the IR has them
        block = net.find("inception_3a")
        _click(tab, '#graph .node[data-id="inception_3a"]')
        assert _count(tab, "#graph .node.ir") == top - 1 + len(block.children)
        assert _count(tab, '#graph .cluster[data-id="inception_3a"]') == 1
        assert _count(tab, '#graph .node.join[data-id="inception_3a/concat"]') == 1
        branch = net.find("inception_3a.branch2")
        _click(tab, '#graph .node[data-id="inception_3a.branch2"]')
        expected = top - 1 + len(block.children) - 1 + len(branch.children)
        assert _count(tab, "#graph .node.ir") == expected
        # clicking a cluster's caption folds it again
        _click(tab, '#graph .cluster[data-id="inception_3a"] .caption')
        assert _count(tab, "#graph .node.ir") == top
        # clicking a node highlights its row
        _click(tab, '#graph .node[data-id="conv2"]')
        assert tab.js("document.querySelector('#table tr.sel').dataset.path") == "conv2"
        # hover details: notation, spec file:line, shapes, params, MACs, RF
        tab.js(
            "document.querySelector('#graph .node[data-id=\"conv2\"]')"
            ".dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: 50, clientY: 50}))"
        )
        tip = tab.js("document.getElementById('tip').textContent")
        for text in ("conv1-64 +relu", "googlenet.yaml:", "64×56×56", "4,160", "RF11"):
            assert text in tip, (text, tip)
        # search finds a layer by name, opens its blocks and highlights node and row
        tab.js(
            "const s = document.getElementById('search'); s.value = 'inception_4c.branch3.conv2';"
            "s.dispatchEvent(new Event('input'))"
        )
        assert tab.js("document.getElementById('found').textContent") == "1 of 1"
        assert _count(tab, '#graph .node.sel[data-id="inception_4c.branch3.conv2"]') == 1
        assert _count(tab, '#table tr.sel[data-path="inception_4c.branch3.conv2"]') == 1
        # clicking a row reveals and highlights its node
        _click(tab, '#table tr[data-path="inception_5b.branch4.conv1"]')
        assert _count(tab, '#graph .node.sel[data-id="inception_5b.branch4.conv1"]') == 1
        shot = tmp_path / "page.png"
        tab.screenshot(shot)
        assert shot.stat().st_size > 10_000
        if UPDATE_DOCS:
            tab.js("archspec.reveal('inception_3b.branch2.conv2'); archspec.select('conv2')")
            tab.js("document.getElementById('tip').hidden = true")
            tab.js("document.getElementById('diagram').scrollTop = 0")
            tab.screenshot(DOCS / "html_page.png")


@needs_browser
@pytest.mark.parametrize("name", ["resnet152", "densenet201"])
def test_big_networks_load_and_expand_fully(tmp_path: Path, name: str) -> None:
    out = write(tmp_path, name)
    size = out.stat().st_size
    assert size < 2_000_000, size
    layers = sum(1 for _ in archspec.load(name).layers())
    with browser() as tab:
        seconds = tab.open(out.as_uri())
        start = tab.js("performance.now()")
        _click(tab, "#expand-all")
        expand_ms = tab.js("performance.now()") - start
        assert _count(tab, "#graph .node.ir") == layers
        print(f"{name}: {size / 1024:.0f} KiB, load {seconds:.2f} s, expand all {expand_ms:.0f} ms")
        assert seconds < 10 and expand_ms < 10_000
