"""The `archspec` command: summary, check, draw, compile, diff, list.

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
from .network import Network, bundled_specs, close_names, find_spec, load
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

    def spec_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "spec", help="a spec file, or a name: ./NAME.yaml, else the bundled spec (vgg_e)"
        )
        command.add_argument("--variant", help="one of the spec's variants")
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

    check = spec_command("check", "validate a spec and print its warnings")
    check.add_argument("--json", action="store_true", help="print one JSON object")

    draw = spec_command("draw", "draw the network (Graphviz; or one interactive HTML page)")
    draw.add_argument("-o", "--output", help="output file (default: SPEC name + format)")
    draw.add_argument("--format", default=None, choices=DRAW_FORMATS)
    depth_option(draw, "collapse blocks below this depth")
    draw.add_argument("--rankdir", default="TB", choices=("TB", "LR"))
    order_option(draw)

    compile_ = spec_command("compile", "generate standalone PyTorch source")
    compile_.add_argument("-o", "--output", help="write here (atomically) instead of stdout")

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
    return parser


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
    net = _load(args.spec, args.variant)
    result = COMMANDS[args.command](net, args)
    sys.stdout.flush()  # a closed pipe surfaces here, inside main's handler
    return result


def _load(spec: str, variant: str | None) -> Network:
    """Load a spec by path or name, saying which file it used when a local
    `./NAME.yaml` shadows the bundled spec of that name."""
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
    return load(path, variant)


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
    `--format`, or no format at all, is refused rather than guessed."""
    if output is None:
        chosen = fmt or "svg"
        return Path(f"{name}.{chosen}"), chosen
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
    text = net.source()
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
    print(
        f"{net.name}: {net.params:,} params, {net.macs:,} MACs, output {outputs} → {where}",
        file=sys.stderr,
    )
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


COMMANDS = {"summary": _summary, "check": _check, "draw": _draw, "compile": _compile}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
