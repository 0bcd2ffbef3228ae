"""The `archspec` command: summary, check, draw, compile, diff, list, import,
weights, export.

`summary`, `check`, `draw` and `diff` never import torch; `compile` does,
lazily. A mistake in a spec prints `file:line:col: message` with the line and
a caret on stderr and exits with status 1 — never a traceback. Output cut
short by its reader (`archspec summary x | head -1`) ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import ArchSpecError, ToolError
from .files import write_atomically
from .importers.command import add_command as add_import_command
from .importers.command import run as run_import
from .naming import python_name
from .network import Network, bundled_specs, close_names, find_spec, load, parse_settings
from .numbers import human
from .report import SHAPE_ORDERS

DRAW_FORMATS = ("svg", "png", "pdf", "dot", "html")


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1 (`--depth 0` is an error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got `{text}`") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Write a CNN the way its paper prints it; check, draw and compile it.",
    )
    parser.add_argument("--version", action="version", version=f"archspec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def spec_command(name: str, help_text: str, several: bool = False) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        if several:
            command.add_argument(
                "spec",
                nargs="+",
                help="spec files, globs ('specs/*.yaml') or names (./NAME.yaml, else bundled)",
            )
        else:
            command.add_argument(
                "spec", help="a spec file, or a name: ./NAME.yaml, else the bundled spec (vgg_e)"
            )
        command.add_argument("--variant", help="one of the spec's variants")
        _override_options(command)
        return command

    def depth_option(command: argparse.ArgumentParser, what: str) -> None:
        command.add_argument("--depth", type=positive, default=None, help=what)

    def order_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--shape-order",
            default="chw",
            choices=SHAPE_ORDERS,
            help="print shapes C×H×W (PyTorch's order, the default) or H×W×C (the papers')",
        )

    summary = spec_command("summary", "per-layer shapes, params, MACs and receptive field")
    depth_option(summary, "collapse blocks below this depth (1 = top-level rows only)")
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.add_argument(
        "--batch", type=positive, default=1, help="batch size of the training-memory estimate"
    )
    order_option(summary)

    check = spec_command("check", "validate specs and print their warnings", several=True)
    check.add_argument("--json", action="store_true", help="print one JSON object per spec")

    draw = spec_command("draw", "draw the network (Graphviz; or one interactive HTML page)")
    draw.add_argument("-o", "--output", help="output file (default: SPEC name + format)")
    draw.add_argument("--format", default=None, choices=DRAW_FORMATS)
    depth_option(draw, "collapse blocks below this depth")
    draw.add_argument("--rankdir", default="TB", choices=("TB", "LR"))
    order_option(draw)

    compile_ = spec_command("compile", "generate standalone PyTorch source")
    compile_.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    compile_.add_argument(
        "--inference",
        action="store_true",
        help="append fold() and inference_model(): BN folded, eval-only, channels_last",
    )
    compile_.add_argument(
        "--unrolled", action="store_true", help="every module spelled out, with its spec line"
    )
    compile_.add_argument(
        "--family",
        action="store_true",
        help="a family file: one module with a factory per variant",
    )

    weights = spec_command("weights", "map a torchvision/timm checkpoint onto the spec")
    weights.add_argument("checkpoint", help=".pth/.pt/.safetensors file")
    weights.add_argument("-o", "--output", help="write the mapped weights (.pt or .safetensors)")
    _weights_options(weights)

    export = spec_command("export", "export the built network (ONNX, torch.export, safetensors)")
    export.add_argument("--format", choices=("onnx", "pt2", "safetensors", "pt"), default=None)
    export.add_argument("-o", "--output", required=True, help="output file")
    export.add_argument("--weights", help="a checkpoint to load first")
    _weights_options(export)

    diff = sub.add_parser(
        "diff",
        help="two specs or variants side by side, layer by layer",
        description="Two networks side by side, aligned by dotted path, with params, MACs "
        "and shape deltas. A spec is a file or name, optionally SPEC@VARIANT.",
    )
    diff.add_argument("a", help="the first spec (SPEC or SPEC@VARIANT)")
    diff.add_argument("b", help="the second spec (SPEC or SPEC@VARIANT)")
    depth_option(diff, "compare rows down to this depth")
    diff.add_argument("--changed", action="store_true", help="show only rows that differ")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    order_option(diff)

    sub.add_parser("list", help="list the bundled specs: name, paper, input, params, MACs")
    add_import_command(sub)
    return parser


def _override_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--input", help="replace the spec's input size: 3x384x384")
    command.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="replace a file-level parameter (repeatable): --set k=48",
    )


def _weights_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from",
        dest="from_",
        metavar="LIBRARY.MODEL",
        help="the checkpoint's library model (torchvision.resnet50); the spec must declare it",
    )
    command.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="load what maps and report the rest, instead of refusing",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # the reader went away (`| head -1`): stop quietly, as `cat` does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ToolError as exc:
        print(f"archspec: {exc}", file=sys.stderr)
        return 1
    except ArchSpecError as exc:
        print(exc.format(), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        return _list()
    if args.command == "diff":
        return _diff(args)
    if args.command == "import":
        return run_import(args)
    if args.command == "check":
        return _check_all(args)
    net = _load(args.spec, args.variant, args)
    result = COMMANDS[args.command](net, args)
    sys.stdout.flush()  # a closed pipe surfaces here, inside main's handler
    return result


def _load(spec: str, variant: str | None, args: argparse.Namespace | None = None) -> Network:
    """Load a spec by path or name, saying which file it used when a local
    `./NAME.yaml` shadows the bundled spec of that name; `--input` and `--set`
    applied where the command has them."""
    try:
        path, shadowed = find_spec(spec)
    except FileNotFoundError:
        close = close_names(spec)
        hint = f" — did you mean {', '.join(close)}?" if close else ""
        raise ToolError(f"no such spec: {spec}{hint}") from None
    if shadowed is not None:
        print(
            f"archspec: using {path} (the bundled spec {shadowed.stem} has the same name)",
            file=sys.stderr,
        )
    if args is None:
        return load(path, variant)
    return load(path, variant, input=args.input, params=parse_settings(args.set))


def _check_all(args: argparse.Namespace) -> int:
    """Check every spec named (globs expanded here too, for quoted patterns and
    Windows shells); report each, exit 1 if any failed."""
    failed = 0
    for spec in _expand(args.spec):
        try:
            _check(_load(spec, args.variant, args), args)
        except ArchSpecError as exc:  # ToolError included: a missing spec is one line
            message = f"archspec: {exc}" if isinstance(exc, ToolError) else exc.format()
            print(message, file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _expand(patterns: Sequence[str]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?[") and not Path(pattern).exists():
            import glob

            matches = sorted(glob.glob(pattern))
            out.extend(matches or [pattern])  # no match: reported as missing
        else:
            out.append(pattern)
    return out


def _print_warnings(net: Network) -> None:
    for warning in net.warnings:
        print(warning.format(), file=sys.stderr)


def _summary(net: Network, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(net.to_dict(args.depth, args.batch), ensure_ascii=False))
    else:
        print(net.summary(args.depth, args.shape_order, args.batch))
        _print_warnings(net)
    return 0


def _check(net: Network, args: argparse.Namespace) -> int:
    count = len(net.warnings)
    if args.json:
        report = {
            "file": net.path,
            "ok": True,
            "name": net.name,
            "input": net.input.as_list(),
            "outputs": [s.as_list() for s in net.outputs],
            "params": net.params,
            "macs": net.macs,
            "warnings": [
                {"file": w.span.file, "line": w.span.line, "col": w.span.col, "message": w.message}
                for w in net.warnings
            ],
        }
        print(json.dumps(report, ensure_ascii=False))
        return 0
    _print_warnings(net)
    outputs = ", ".join(str(s) for s in net.outputs)
    print(
        f"{net.path}: ok — {net.name}: {net.input} → {outputs}, {net.params:,} params, "
        f"{net.macs:,} MACs; {count} warning{'s' if count != 1 else ''}"
    )
    return 0


def draw_target(output: str | None, fmt: str | None, name: str) -> tuple[Path, str]:
    """The file and format `draw` writes: the format from `--format`, else from
    the suffix of `-o`, else svg. A suffix that names another format than
    `--format`, or no format at all, is refused rather than guessed. Without
    -o the file goes in the current folder, named after the network as an
    identifier: nothing in a spec can choose where it lands."""
    if output is None:
        chosen = fmt or "svg"
        return Path(f"{python_name(name)}.{chosen}"), chosen
    suffix = Path(output).suffix.lstrip(".").lower()
    if fmt is None:
        if not suffix:
            raise ToolError(
                f"cannot tell the format of `{output}`: give it a suffix "
                f"({', '.join('.' + f for f in DRAW_FORMATS)}) or --format"
            )
        if suffix not in DRAW_FORMATS:
            raise ToolError(f"unknown diagram format `.{suffix}` ({', '.join(DRAW_FORMATS)})")
        return Path(output), suffix
    if suffix in DRAW_FORMATS and suffix != fmt:
        raise ToolError(
            f"-o {output} says .{suffix} but --format says {fmt}: "
            f"use -o {Path(output).with_suffix('.' + fmt)} or drop --format"
        )
    return Path(output), fmt


def _draw(net: Network, args: argparse.Namespace) -> int:
    output, fmt = draw_target(args.output, args.format, net.name)
    if fmt == "html":
        from .html import write_page

        write_page(net.model, output, shape_order=args.shape_order)
    else:
        from .diagram import render

        render(
            net.model,
            output,
            fmt=fmt,
            depth=args.depth,
            rankdir=args.rankdir,
            shape_order=args.shape_order,
        )
    print(f"wrote {output}", file=sys.stderr)
    return 0


def _compile(net: Network, args: argparse.Namespace) -> int:
    if args.family and args.unrolled:
        raise ToolError("--family writes block classes; it cannot be --unrolled")
    if args.inference:
        from .compiler.torch.inference import inference_source

        text = inference_source(net.model)
    else:
        text = net.source(unrolled=args.unrolled, family=args.family)
    if args.output:
        try:
            write_atomically(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise ToolError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    outputs = ", ".join(str(s) for s in net.outputs)
    where = args.output or "stdout"
    if args.family:
        print(f"{net.path}: {', '.join(net.family())} → {where}", file=sys.stderr)
        return 0
    print(
        f"{net.name}: {net.params:,} params, {net.macs:,} MACs, output {outputs} → {where}",
        file=sys.stderr,
    )
    return 0


def _weights(net: Network, args: argparse.Namespace) -> int:
    from archspec.compiler.io.export import ExportError, format_for
    from archspec.compiler.io.weights import WeightsError

    try:
        if args.output:
            fmt = format_for(args.output)
            if fmt not in ("pt", "safetensors"):
                raise ToolError(f"-o takes a .pt or .safetensors file, not {args.output}")
            report = net.export(args.output, fmt, weights=args.checkpoint, from_=args.from_,
                                strict=args.strict)  # fmt: skip
        else:
            _module, report = net.map_weights(args.checkpoint, from_=args.from_,
                                              strict=args.strict)  # fmt: skip
    except (WeightsError, ExportError) as exc:
        raise ToolError(str(exc)) from None
    print(report.format() if report else "")
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _export(net: Network, args: argparse.Namespace) -> int:
    from archspec.compiler.io.export import ExportError, format_for
    from archspec.compiler.io.weights import WeightsError

    try:
        fmt = format_for(args.output, args.format)
        report = net.export(args.output, fmt, weights=args.weights, from_=args.from_,
                            strict=args.strict)  # fmt: skip
    except (WeightsError, ExportError) as exc:
        raise ToolError(str(exc)) from None
    if report is not None:
        print(report.format(), file=sys.stderr)
    print(f"{net.name}: {fmt} → {args.output}", file=sys.stderr)
    return 0


def _diff(args: argparse.Namespace) -> int:
    from .diff import as_dict, diff_text

    a, b = (_load(*_spec_and_variant(spec)) for spec in (args.a, args.b))
    if args.json:
        print(json.dumps(as_dict(a.model, b.model, args.depth), ensure_ascii=False))
    else:
        print(diff_text(a.model, b.model, args.depth, args.changed, args.shape_order))
    sys.stdout.flush()
    return 0


def _spec_and_variant(text: str) -> tuple[str, str | None]:
    """`SPEC@VARIANT` → (SPEC, VARIANT); a plain spec has no variant."""
    spec, _at, variant = text.partition("@")
    return spec, variant or None


def _list() -> int:
    table = [("spec", "paper", "input", "params", "MACs")]
    for path in bundled_specs():
        net = load(path)
        table.append(
            (path.stem, net.title or net.name, str(net.input), f"{net.params:,}", human(net.macs))
        )
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for index, row in enumerate(table):
        cells = [
            c.rjust(w) if i >= 3 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("─" * w for w in widths))
    sys.stdout.flush()
    return 0


COMMANDS = {
    "summary": _summary,
    "check": _check,
    "draw": _draw,
    "compile": _compile,
    "weights": _weights,
    "export": _export,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
