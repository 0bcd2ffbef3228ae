"""Hostile specs (tests/hostile/): whatever a spec holds, every command answers
with a located error or a correct result. No traceback, nothing executed,
nothing written where the spec chooses, and every string escaped for the
format it lands in (DOT, SVG, Python source, the terminal).

`expected.json` gives, for each file that must be refused, the exact
`LINE:COL: MESSAGE` of its first error; the files in `valid/` load and must
come out of every backend intact.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import archspec
from archspec import cli
from archspec.errors import ArchSpecError, SpecErrors

HERE = Path(__file__).resolve().parent / "hostile"
EXPECTED: dict[str, str] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
VALID = sorted((HERE / "valid").glob("*.yaml"))
COMMANDS = {
    "check": [],
    "summary": ["--json"],
    "draw-dot": ["--format", "dot", "-o", "out.dot"],
    "draw-svg": ["-o", "out.svg"],
    "compile": ["-o", "out.py"],
}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """`archspec ARGS` in this process (the real CLI code path), captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def test_corpus_covers_every_class() -> None:
    assert len(EXPECTED) + len(VALID) >= 60
    assert sorted(p.name for p in HERE.glob("*.yaml")) == sorted(EXPECTED)
    prefixes = {name.split("_")[0] for name in EXPECTED}
    assert {"yaml", "expr", "enc", "num", "wrong", "budget", "block"} <= prefixes


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_with_its_message_by_every_command(
    name: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(HERE / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    verb = command.split("-")[0]
    code, out, err = run_cli([verb, name, *COMMANDS[command]])
    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == f"{name}:{EXPECTED[name].replace(': ', ': error: ', 1)}"
    assert "Traceback" not in err and "\x1b" not in err and "\x00" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "nothing may be written"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_by_the_api_before_anything_is_built(name: str) -> None:
    with pytest.raises(ArchSpecError) as caught:
        archspec.load(HERE / name)
    error = caught.value
    first = error.errors[0] if isinstance(error, SpecErrors) else error
    assert f"{first.span.line}:{first.span.col}: {first.message}" == EXPECTED[name]


def test_a_real_process_reports_every_file(tmp_path: Path) -> None:
    """One `archspec check` over the whole corpus: exit 1, one located error
    per file, no traceback, and a terminal never sees a control character."""
    done = subprocess.run(
        [sys.executable, "-m", "archspec", "check", *sorted(EXPECTED)],
        cwd=HERE,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 1
    err = done.stderr.decode("utf-8")
    assert "Traceback" not in err
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", err)
    for name, message in EXPECTED.items():
        assert f"{name}:{message.replace(': ', ': error: ', 1)}" in err


# ---------------------------------------------------------------- valid but hostile

# What archspec's own SVG is made of: anything else came from a spec.
# (`<a xlink:title>` is how Graphviz writes a node's tooltip; it never has a link.)
SVG_ELEMENTS = {"svg", "g", "title", "polygon", "polyline", "path", "ellipse", "text", "desc", "a"}
SVG_ATTRIBUTES = {
    "id", "class", "width", "height", "viewBox", "transform", "fill", "stroke", "points",
    "d", "cx", "cy", "rx", "ry", "x", "y", "text-anchor", "font-family", "font-size",
    "font-weight", "stroke-width", "stroke-dasharray", "xmlns", "xmlns:xlink", "version",
    "fill-opacity", "stroke-opacity", "font-style", "text-decoration", "baseline-shift",
    "title",
}  # fmt: skip


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def scan_svg(svg: str) -> None:
    """Well-formed, no processing instruction but the XML declaration, only
    the elements and attributes Graphviz writes for our diagrams, no link."""
    body = re.sub(r"^<\?xml [^>]*\?>", "", svg.lstrip())
    assert "<?" not in body, "a processing instruction reached the SVG"
    assert "<!ENTITY" not in body
    root = ElementTree.fromstring(svg.encode("utf-8"))
    for element in root.iter():
        assert _local(element.tag) in SVG_ELEMENTS, f"unexpected <{element.tag}>"
        for attribute in element.attrib:
            assert _local(attribute) in SVG_ATTRIBUTES, f"unexpected attribute {attribute}"
    assert "javascript:" not in svg.lower().replace("&quot;", '"').split("<title>", 1)[0]


def scan_dot(dot: str) -> None:
    """One graph, named by an identifier, every spec string inside a label."""
    first = dot.splitlines()[0]
    assert re.fullmatch(r"digraph [A-Za-z_][A-Za-z0-9_]* \{", first), first
    assert dot.count("\ndigraph") == 0 and dot.rstrip().endswith("}")
    done = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(re.findall(r"^digraph ", done.stdout.decode(), re.MULTILINE)) == 1


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_hostile_spec_draws_safely(path: Path, tmp_path: Path) -> None:
    code, _out, err = run_cli(["draw", str(path), "--format", "dot", "-o", str(tmp_path / "d.dot")])
    assert code == 0, err
    dot = (tmp_path / "d.dot").read_text(encoding="utf-8")
    if shutil.which("dot"):
        scan_dot(dot)
        code, _out, err = run_cli(["draw", str(path), "-o", str(tmp_path / "d.svg")])
        assert code == 0, err
        scan_svg((tmp_path / "d.svg").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_hostile_spec_compiles_runs_and_matches_the_build(path: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = archspec.load(path)
    target = tmp_path / "generated.py"
    code, _out, err = run_cli(["compile", str(path), "-o", str(target)])
    assert code == 0, err
    compile(target.read_text(encoding="utf-8"), str(target), "exec")  # the parser accepts it
    spec = importlib.util.spec_from_file_location("generated", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for k, v in vars(module).items() if isinstance(v, type) and k[:1].isupper()]
    twin = classes[-1]().eval()  # the network class comes last
    built = net.build().eval()
    twin.load_state_dict(built.state_dict())
    x = torch.randn(1, *net.input.as_list())
    ours, theirs = built(x), twin(x)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


@needs_dot
def test_default_output_stays_in_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run_cli(["draw", str(HERE / "valid" / "name_path.yaml")])
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["tmp_pwned.svg"]


def test_base_through_a_symlink_is_refused_and_never_echoed(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:secret line\n", encoding="utf-8")
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "family.yaml").symlink_to(secret)
    (folder / "net.yaml").write_text("base: family.yaml\nname: n\n", encoding="utf-8")
    code, _out, err = run_cli(["check", str(folder / "net.yaml")])
    assert code == 1
    assert "`base: family.yaml` leaves this spec's folder; a base must sit inside it" in err
    assert "root:x" not in err and "secret" not in err
    (folder / "family.yaml").unlink()
    (folder / "_alias.yaml").symlink_to(secret)  # a bundled-style name, symlinked out
    (folder / "net.yaml").write_text("base: alias\nname: n\n", encoding="utf-8")
    code, _out, err = run_cli(["check", str(folder / "net.yaml")])
    assert code == 1 and "root:x" not in err and "names no bundled spec" in err


def test_the_size_budget_refuses_a_large_file_at_once(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("name: x\ninput: 3x8x8\nlayers:\n" + "  - relu\n" * 600_000, encoding="utf-8")
    code, _out, err = run_cli(["check", str(big)])
    assert code == 1
    assert err.startswith(f"{big}:1:1: error: the spec is 5,400,029 bytes; the limit is 4,000,000")


def test_thousands_of_errors_are_capped_and_counted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    lines = "".join(f"  - cnov{i}-8\n" for i in range(20_000))
    bad.write_text(f"name: x\ninput: 3x8x8\nlayers:\n{lines}", encoding="utf-8")
    code, _out, err = run_cli(["check", str(bad)])
    assert code == 1
    assert err.rstrip().endswith("20000 errors found (19800 not shown)")
    assert err.count(": error: ") == 200
