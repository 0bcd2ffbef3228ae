"""A real notebook, executed by nbclient on an ipykernel: the network's card,
the summary table and a found node come back as the MIME bundles Jupyter
shows; the outputs are then rendered in headless Chromium and screenshotted."""

from __future__ import annotations

import os
import shutil
import sys
from html import escape
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import browser, chromium  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
CELLS = [
    f"import sys; sys.path.insert(0, {str(REPO)!r})\nimport archspec\n"
    'net = archspec.load("googlenet")\nnet',
    "net.summary(depth=2)",
    'net.find("inception_3a")',
    "print(net.summary(depth=1).splitlines()[0])",
]


@pytest.fixture(scope="module")
def executed() -> object:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3")
    client.execute()
    return notebook


def _result(cell: object) -> dict[str, str]:
    outputs = [o for o in cell.outputs if o.output_type == "execute_result"]  # type: ignore[attr-defined]
    assert len(outputs) == 1, cell.outputs  # type: ignore[attr-defined]
    return dict(outputs[0].data)


def test_network_shows_a_card_with_the_diagram(executed: object) -> None:
    bundle = _result(executed.cells[0])  # type: ignore[attr-defined]
    html = bundle["text/html"]
    assert 'class="archspec-card"' in html and "<h3>googlenet</h3>" in html
    for text in ("3×224×224 → 1000", "6,998,552", "1.58G", "MiB", "receptive field"):
        assert text in html
    if shutil.which("dot"):
        assert "<svg" in html and "inception (3a)" in html
    assert bundle["text/plain"].startswith("<Network googlenet:")


def test_summary_is_a_table_in_html_and_text_in_plain(executed: object) -> None:
    import archspec

    bundle = _result(executed.cells[1])  # type: ignore[attr-defined]
    html = bundle["text/html"]
    assert "<details>" in html and 'class="num"' in html and "text-align: right" in html
    assert 'data-path="inception_3a.branch2"' in html
    assert bundle["text/plain"] == archspec.load("googlenet").summary(depth=2)


def test_found_node_reads_as_a_row(executed: object) -> None:
    bundle = _result(executed.cells[2])  # type: ignore[attr-defined]
    assert bundle["text/plain"].startswith(
        "<Concat inception_3a inception (3a): 192×28×28 → 256×28×28, 163,696 params"
    )
    printed = executed.cells[3].outputs[0]["text"]  # type: ignore[attr-defined]
    assert printed.strip() == "googlenet — GoogLeNet (Szegedy et al. 2015), Table 1"


def render_outputs(notebook: object) -> str:
    """A minimal HTML page of the notebook: each cell's source and its
    richest output, as Jupyter would show it."""
    parts = ['<html><head><meta charset="utf-8"></head><body style="font-family:sans-serif">']
    for cell in notebook.cells:  # type: ignore[attr-defined]
        parts.append(f'<pre style="background:#f5f5f5;padding:6px">{escape(cell.source)}</pre>')
        for output in cell.outputs:
            data = output.get("data", {})
            if "text/html" in data:
                parts.append(f"<div>{data['text/html']}</div>")
            elif "text/plain" in data:
                parts.append(f"<pre>{escape(data['text/plain'])}</pre>")
            elif "text" in output:
                parts.append(f"<pre>{escape(output['text'])}</pre>")
    return "".join([*parts, "</body></html>"])


@pytest.mark.skipif(chromium() is None, reason="needs Chromium")
def test_notebook_renders_in_a_browser(executed: object, tmp_path: Path) -> None:
    pytest.importorskip("websocket")
    page = tmp_path / "notebook.html"
    page.write_text(render_outputs(executed), encoding="utf-8")
    with browser() as tab:
        tab.open(page.as_uri())
        assert tab.js("document.querySelectorAll('.archspec-card svg').length") == (
            1 if shutil.which("dot") else 0
        )
        details = "document.querySelectorAll('.archspec-summary details')"
        assert tab.js(f"{details}.length") == 9  # the inception modules
        tab.js(f"{details}[0].open = true")  # a block opened, as a reader would
        align = "getComputedStyle(document.querySelector('.archspec-summary .num')).textAlign"
        assert tab.js(align) == "right"
        shot = tmp_path / "notebook.png"
        tab.screenshot(shot, height=1500)
        assert shot.stat().st_size > 10_000
        if os.environ.get("ARCHSPEC_UPDATE_DOCS") == "1":
            tab.screenshot(DOCS / "notebook.png", width=1200, height=1500)
