"""The shape of the code: stages whose imports point down, one registry of
block kinds that every backend handles, one naming authority, one error
hierarchy, and IR invariants checked on every load."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import archspec
from archspec import blocks
from archspec.blocks import KINDS, Kind, Seq
from archspec.compiler import names
from archspec.compiler.torch import layers
from archspec.diagram import DiagramError
from archspec.errors import ArchSpecError, ToolError
from archspec.ir import IRError, Shape, verify
from archspec.ops import ShapeRuleError

ROOT = Path(__file__).resolve().parent.parent

# The torch-free core, stage by stage; a module may import only from its own
# stage or the ones before it (package names stand for all their modules).
STAGES: list[tuple[str, list[str]]] = [
    ("foundation", ["limits", "errors", "numbers", "naming", "files"]),
    ("syntax", ["yamlspan", "ast", "grammar", "expressions", "bases", "parser"]),
    ("expressions", ["expr"]),
    ("ir", ["ir"]),
    ("ops and blocks", ["ops", "blocks"]),
    ("elaboration", ["elaborate"]),
    ("views", ["report", "diagram_style", "scene", "diagram", "diff", "html", "assets"]),
    ("notebook", ["notebook"]),
    ("api", ["network", "compiler", "compiler.names"]),
    ("import and cli", ["importers", "cli", "zoo", "__main__"]),
]
RANK = {module: rank for rank, (_stage, modules) in enumerate(STAGES) for module in modules}


def rank_of(module: str) -> int:
    """`archspec.blocks.seq` → the rank of `blocks`; the package itself is 0."""
    parts = module.split(".")[1:]
    for length in range(len(parts), 0, -1):
        key = ".".join(parts[:length])
        if key in RANK:
            return RANK[key]
    assert not parts, f"{module} is in no stage: add it to STAGES"
    return 0


def core_modules() -> list[str]:
    found = ["archspec.compiler.names"]
    for path in sorted((ROOT / "archspec").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.parts[1] == "compiler":  # the link to the torch backend, not the core
            continue
        dotted = ".".join(rel.parts)
        if not dotted.endswith("__main__"):  # running it is the CLI, tested elsewhere
            found.append(dotted.removesuffix(".__init__"))
    return found


@pytest.mark.parametrize("module", core_modules())
def test_a_stage_pulls_in_only_what_is_below_it(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "graphviz", "jinja2")]
    mine = rank_of(module)
    above = [m for m in loaded if m.startswith("archspec.") and rank_of(m) > mine]
    assert above == [], f"{module} (stage {STAGES[mine][0]}) imports {above}"


def package_modules() -> dict[str, Path]:
    """Every module of the installed package, the torch backend included
    (`compiler/` is `archspec.compiler`), by dotted name."""
    found: dict[str, Path] = {}
    for folder, package in (
        (ROOT / "archspec", "archspec"),
        (ROOT / "compiler", "archspec.compiler"),
    ):
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            if package == "archspec" and rel.parts[0] == "compiler":
                continue  # the link to compiler/, walked as its own folder
            found[".".join((package, *rel.parts)).removesuffix(".__init__")] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:`, which never run."""
    return {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }


def _imports(path: Path, package: str) -> set[str]:
    """Modules of archspec a file imports anywhere it runs: at its top level and
    inside functions (an import deferred to call time is still an edge), but
    not under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("archspec"):
                # `from . import calls` imports the submodule, not its package
                out |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        elif isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.startswith("archspec")}
    return out


def test_import_graph_has_no_cycles() -> None:
    """The whole package, the torch backend included, and imports deferred into
    functions too: a cycle hidden by a lazy import is still a cycle."""
    files = package_modules()
    graph = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        imported = _imports(path, package)
        # a submodule's own packages are initialised before it; no edge back
        graph[module] = {
            m
            for m in imported
            if m in files and m != module and not (module + ".").startswith(m + ".")
        }
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == 2:
            return
        assert state.get(module) != 1, f"import cycle: {' → '.join([*trail, module])}"
        state[module] = 1
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        state[module] = 2

    for module in sorted(graph):
        visit(module, [])


MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 300


@pytest.mark.parametrize("module", sorted(package_modules()))
def test_no_module_over_700_lines_and_no_class_over_300(module: str) -> None:
    path = package_modules()[module]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path}: split it by job"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert long == [], f"{path}: {', '.join(long)}"


# ---------------------------------------------------------------- block kinds


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
def test_every_block_kind_is_declared_for_every_backend(kind: type[Kind]) -> None:
    assert kind.KIND and kind.DOC, "a kind names itself and says what it does"
    assert kind.draw is not Kind.draw, f"{kind.KIND}: no diagram wiring (Kind.draw)"
    assert kind.TORCH in layers.COMBINATORS, f"{kind.KIND}: no torch form {kind.TORCH!r}"
    if kind.SYNTAX is not None:
        assert kind.elaborate.__func__ is not Kind.elaborate.__func__, kind.KIND
        assert blocks.COMBINATORS[kind.SYNTAX.key] is kind
    assert kind.STYLE.family not in {k.STYLE.family for k in KINDS if k is not kind}


def test_kinds_are_frozen_dataclasses_with_their_own_fields() -> None:
    residual = archspec.load("resnet18").find("conv2_x.basic1")
    assert type(residual).__name__ == "Residual" and residual.post == "relu1"
    with pytest.raises(AttributeError):
        residual.post = "x"  # type: ignore[misc]
    graph = archspec.load("googlenet_aux").root
    assert graph.output_names == ("softmax1", "aux1", "aux2")


def test_a_kind_without_a_diagram_rule_fails_loudly() -> None:
    net = archspec.load("resnet20")
    from archspec.diagram import diagram

    class Unfinished(Kind):  # a new kind that forgot its `draw`
        KIND = "unfinished"

    first = net.root.children[1]
    broken = Unfinished(**{f: getattr(first, f) for f in ("name", "children", "inputs",
                                                           "outputs", "cost", "field",
                                                           "notation")})  # fmt: skip
    root = replace(net.root, children=(net.root.children[0], broken, *net.root.children[2:]))
    with pytest.raises(NotImplementedError, match="unfinished"):
        diagram(replace(net.model, root=root), depth=2)


# ---------------------------------------------------------------- policies


def test_reserved_names_are_what_nn_module_defines() -> None:
    torch = pytest.importorskip("torch")
    public = {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    assert public <= names.MODULE_ATTRIBUTES
    graph = torch.fx.GraphModule(torch.nn.Module(), torch.fx.Graph())
    assert {n for n in dir(graph) if not n.startswith("_")} - public <= names.RESERVED


def test_reserved_names_are_handed_to_the_elaborator() -> None:
    spec = "name: t\ninput: 3x8x8\nlayers:\n  - train: conv3-4\n  - self: relu\n  - forward: relu\n"
    net = archspec.loads(spec)
    assert [c.name for c in net.root.children] == ["train_", "self_", "forward_"]


def test_every_error_is_an_archspec_error() -> None:
    from archspec.compiler.torch.plan import CompileError

    for error in (ShapeRuleError, DiagramError, ToolError, IRError, CompileError):
        assert issubclass(error, ArchSpecError)


def test_one_number_format() -> None:
    from archspec import diagram_style, report, zoo
    from archspec.numbers import human

    assert human(724_406_784) == "724M" and human(999_960) == "1M" and human(9_540) == "9.54K"
    for module in (report, diagram_style, zoo):
        assert module.human is human


def test_verify_raises_a_located_error() -> None:
    net = archspec.load("vgg_a")
    first = net.root.children[0]
    wrong = replace(first, inputs=(Shape(7, 224, 224),))
    root = replace(net.root, children=(wrong, *net.root.children[1:]))
    assert isinstance(root, Seq)
    with pytest.raises(IRError, match="the first child does not read") as caught:
        verify(root)
    assert caught.value.span.line > 0


def test_every_package_is_installed() -> None:
    """pyproject lists packages one by one (the torch backend and the zoo are
    mapped into `archspec`); a package missing there works in a checkout and
    is absent from the wheel."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    mapped = {"archspec": ROOT / "archspec", "archspec.compiler": ROOT / "compiler"}
    found = set()
    for name, folder in mapped.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((name, *parts)) if parts else name)
    assert found <= listed
