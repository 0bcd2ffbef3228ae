"""What keeps the static tools fast: the parser's tables come from Lark's
cache and parse like a fresh build, the static commands import no heavy
library, `check` takes many specs at once. (Timings themselves are in
benchmarks/bench_specs.py, never asserted.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import archspec
from archspec import cli, grammar
from archspec.yamlspan import YList, YMap, YScalar, load_yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_cached_parser_is_the_grammars(tmp_path: Path, monkeypatch) -> None:
    """A cache file is written once and read back; a cache made for another
    grammar is never used (its name carries the grammar's hash)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = grammar._cache_file()
    assert isinstance(path, str) and path.startswith(str(tmp_path))
    monkeypatch.setattr(grammar, "_parser", None)
    grammar.layer_parser()
    assert Path(path).is_file()


def _strings(node) -> list[str]:
    if isinstance(node, YScalar):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, YList):
        return [s for item in node.items for s in _strings(item)]
    if isinstance(node, YMap):
        return [s for k, v in node.entries for s in _strings(k) + _strings(v)]
    return []


def _canonical(tree) -> object:
    """A tree as plain tuples, so two Lark builds' trees compare equal."""
    if hasattr(tree, "data"):
        meta = tree.meta
        span = (getattr(meta, "line", None), getattr(meta, "column", None),
                getattr(meta, "end_column", None))  # fmt: skip
        return (str(tree.data), span, tuple(_canonical(c) for c in tree.children))
    return (tree.type, str(tree), tree.line, tree.column)


def _outcome(parser, text: str, start: str) -> object:
    try:
        return _canonical(parser.parse(text, start=start))
    except Exception as exc:  # both must fail alike, at the same place
        return (type(exc).__name__, getattr(exc, "line", None), getattr(exc, "column", None))


def test_cached_parser_parses_like_a_fresh_build() -> None:
    """Every layer string of every bundled spec: the cached tables and tables
    built now give the same trees (or the same error at the same place)."""
    from lark import Lark

    fresh = Lark(grammar.grammar_text(), start=list(grammar.START), parser="lalr",
                 propagate_positions=True, maybe_placeholders=False)  # fmt: skip
    cached = grammar.layer_parser()
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        for text in _strings(load_yaml(path.read_text(encoding="utf-8"), path.name)):
            for start in grammar.START:
                assert _outcome(cached, text, start) == _outcome(fresh, text, start), text


def test_check_takes_several_specs_and_globs(capsys) -> None:
    pattern = str(ROOT / "specs" / "resnet[12]*.yaml")  # quoted: the CLI expands it
    assert cli.main(["check", "vgg_a", pattern, str(ROOT / "specs" / "nin.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [line.split(": ok")[0].rsplit("/", 1)[-1] for line in out]
    assert names[0] == "vgg_a.yaml" and names[-1] == "nin.yaml"
    assert {"resnet18.yaml", "resnet101.yaml", "resnet110.yaml", "resnet152.yaml"} <= set(names)


def test_check_reports_every_failure_and_exits_1(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninput: 3x32x32\nlayers:\n  - cnov3-8\n", encoding="utf-8")
    assert cli.main(["check", str(bad), "resnet20", "no_such_spec"]) == 1
    captured = capsys.readouterr()
    assert "resnet20.yaml: ok" in captured.out
    assert "bad.yaml:4:5: error" in captured.err
    assert "no such spec: no_such_spec" in captured.err


def test_every_bundled_spec_in_one_check(capsys) -> None:
    assert cli.main(["check", str(ROOT / "specs" / "[!_]*.yaml")]) == 0
    assert capsys.readouterr().out.count(": ok") == len(archspec.bundled_specs())


def test_summary_imports_no_heavy_library() -> None:
    """A fresh interpreter: `archspec summary` needs neither torch nor
    graphviz nor jinja2."""
    code = (
        "import sys, io, contextlib\n"
        "from archspec import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main(['summary', 'resnet50']) == 0\n"
        "    assert cli.main(['check', 'googlenet']) == 0\n"
        "heavy = {'torch', 'graphviz', 'jinja2', 'numpy'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
