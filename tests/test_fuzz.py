"""A spec is untrusted input: whatever the text, archspec answers with an
`ArchSpecError` (a file:line:col message), never another exception; and a spec
that loads also reports, draws (DOT) and compiles to Python source that parses.
Mutations of real specs, random layer expressions, random text, and random
YAML structures built from the spec language's own keys."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import ArchSpecError

SPECS = {
    path.stem: path.read_text(encoding="utf-8")
    for path in archspec.bundled_specs()
    if "base:" not in path.read_text(encoding="utf-8")
}
SPEC_DIR = Path(archspec.bundled_specs()[0]).parent
# Characters that matter to YAML and to the layer grammar, and some that do not.
ALPHABET = st.sampled_from(
    list("{}[](),:-/x×=*+ \n#'\"0123456789abcdefghijklmnopqrstuvwxyz_.%!&|<>@\t")
)


def check(text: str, backends: bool = True) -> None:
    try:
        net = archspec.loads(text, "fuzz.yaml", base_dir=SPEC_DIR)
    except ArchSpecError as error:
        assert error.format().startswith("fuzz.yaml:") or "/" in error.format().split(":")[0]
        return
    net.summary()  # a spec that loads also reports
    if not backends:
        return
    assert net.draw().source.startswith("digraph ")
    try:
        source = net.source()
    except ArchSpecError:  # an op with no torch form: a located refusal is fine
        return
    compile(source, "generated.py", "exec")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SPECS)), data=st.data())
def test_mutated_specs_fail_cleanly(name: str, data: st.DataObject) -> None:
    text = SPECS[name]
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = data.draw(st.text(ALPHABET, min_size=1, max_size=6))
        if kind == "insert":
            text = text[:position] + chunk + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + len(chunk) :]
        else:
            text = text[:position] + chunk + text[position + len(chunk) :]
    check(text)


@settings(max_examples=200, deadline=None)
@given(layer=st.text(ALPHABET, min_size=1, max_size=30))
def test_any_layer_expression_fails_cleanly(layer: str) -> None:
    check(f"name: f\ninput: 3x32x32\nlayers:\n  - {layer}\n")
    check(f"name: f\ninput: 3x32x32\nlayers:\n  - {layer!r}\n")


@settings(max_examples=200, deadline=None)
@given(text=st.text(ALPHABET, max_size=80))
def test_any_text_fails_cleanly(text: str) -> None:
    check(text)


# Random YAML documents made of the spec language's keys and values.
KEYS = st.sampled_from(
    ["name", "input", "layers", "blocks", "params", "variants", "defaults", "concat",
     "residual", "dense", "scale", "mean", "times", "shortcut", "then", "from", "head",
     "join", "when", "if", "else", "conv", "x", "b", "inputs", "columns", "doc"]
)  # fmt: skip
SCALARS = st.one_of(
    st.sampled_from(["conv3-8", "relu", "maxpool", "gap", "fc-10", "b", "x", "add", "3x16x16",
                     "{n+1}", "conv1-{w}", "identity", "true", "auto", "2"]),
    st.integers(-3, 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=DOCUMENTS)
def test_any_yaml_structure_fails_cleanly(body: object) -> None:
    import yaml

    document = {"name": "f", "input": "3x16x16", "layers": body}
    check(yaml.safe_dump(document))
    if isinstance(body, dict):
        check(yaml.safe_dump({"name": "f", "input": "3x16x16", **body}))
