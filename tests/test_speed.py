"""What keeps the static tools fast: the pre-built parser is the grammar's,
the static commands import no heavy library, `check` takes many specs at once.
(Timings themselves are in benchmarks/bench_specs.py, never asserted.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec import _layers_parser, cli, grammar
from archspec.yamlspan import YList, YMap, YScalar, load_yaml

ROOT = Path(__file__).resolve().parent.parent


def test_standalone_parser_is_built_from_the_grammar() -> None:
    """Edit layers.lark → run `python -m archspec.grammar --write`."""
    assert grammar.grammar_text() == _layers_parser.GRAMMAR
    assert grammar._module is _layers_parser  # the fast path is the one in use


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


def test_standalone_parser_parses_like_lark() -> None:
    """Every string in every bundled spec, as a layer sequence and as an
    expression, gives the same tree (or the same error) from both parsers."""
    pytest.importorskip("lark")
    lark_parser = grammar._build_with_lark()
    fast = grammar.layer_parser()
    texts = {"conv3/2-{2*k} (act=none), maxpool", "a if b else c", "conv3-", "((", "x[1]"}
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        texts.update(_strings(load_yaml(path.read_text(encoding="utf-8"), str(path))))
    assert len(texts) > 300
    for text in sorted(texts):
        for start in grammar.START:
            assert _outcome(fast, text, start) == _outcome(lark_parser, text, start), text


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
    graphviz, jinja2 or lark (the parser is pre-built)."""
    code = (
        "import sys, io, contextlib\n"
        "from archspec import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main(['summary', 'resnet50']) == 0\n"
        "    assert cli.main(['check', 'googlenet']) == 0\n"
        "heavy = {'torch', 'graphviz', 'jinja2', 'lark', 'numpy'}\n"
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
