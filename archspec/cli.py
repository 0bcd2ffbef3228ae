"""The `archspec` command: summary, check, draw, compile.

`summary`, `check` and `draw` never import torch; `compile` does, lazily. A
mistake in a spec prints `file:line:col: message` with the line and a caret on
stderr and exits with status 1 — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ArchSpecError, ToolError
from .files import write_atomically
from .network import Network, bundled_specs, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Write a CNN the way its paper prints it; check, draw and compile it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def spec_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("spec", help="a spec file, or the name of a bundled spec (vgg_e)")
        command.add_argument("--variant", help="one of the spec's variants")
        return command

    summary = spec_command("summary", "per-layer shapes, params, MACs and receptive field")
    summary.add_argument(
        "--depth",
        type=int,
        default=None,
        help="collapse blocks below this depth (1 = top-level rows only)",
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object")

    spec_command("check", "validate a spec and print its warnings")

    draw = spec_command("draw", "draw the network with Graphviz")
    draw.add_argument("-o", "--output", help="output file (default: SPEC name + format)")
    draw.add_argument("--format", default=None, choices=("svg", "png", "pdf", "dot"))
    draw.add_argument("--depth", type=int, default=None, help="collapse blocks below this depth")
    draw.add_argument("--rankdir", default="TB", choices=("TB", "LR"))

    compile_ = spec_command("compile", "generate standalone PyTorch source")
    compile_.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    compile_.add_argument("--unrolled", action="store_true",
                          help="every module spelled out, with its spec line")  # fmt: skip
    compile_.add_argument("--family", action="store_true",
                          help="a family file: one module with a factory per variant")  # fmt: skip

    sub.add_parser("list", help="list the bundled specs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        net = load(args.spec, args.variant)
        return COMMANDS[args.command](net, args)
    except ToolError as exc:
        print(f"archspec: {exc}", file=sys.stderr)
        return 1
    except ArchSpecError as exc:
        print(exc.format(), file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"archspec: no such spec: {exc.args[0] if exc.args else args.spec}", file=sys.stderr)
        return 1


def _print_warnings(net: Network) -> None:
    for warning in net.warnings:
        print(warning.format(), file=sys.stderr)


def _summary(net: Network, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(net.to_dict(args.depth), ensure_ascii=False))
    else:
        print(net.summary(args.depth))
        _print_warnings(net)
    return 0


def _check(net: Network, args: argparse.Namespace) -> int:
    _print_warnings(net)
    count = len(net.warnings)
    outputs = ", ".join(str(s) for s in net.outputs)
    print(
        f"{net.path}: ok — {net.name}: {net.input} → {outputs}, {net.params:,} params, "
        f"{net.macs:,} MACs; {count} warning{'s' if count != 1 else ''}"
    )
    return 0


def _draw(net: Network, args: argparse.Namespace) -> int:
    from .diagram import render

    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "svg")
    if fmt not in ("svg", "png", "pdf", "dot"):
        raise ToolError(f"unknown diagram format `{fmt}` (svg, png, pdf or dot)")
    output = Path(args.output) if args.output else Path(f"{net.name}.{fmt}")
    render(net.model, output, fmt=fmt, depth=args.depth, rankdir=args.rankdir)
    print(f"wrote {output}", file=sys.stderr)
    return 0


def _compile(net: Network, args: argparse.Namespace) -> int:
    if args.family and args.unrolled:
        raise ToolError("--family writes block classes; it cannot be --unrolled")
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


def _list() -> int:
    for path in bundled_specs():
        print(path.stem)
    return 0


COMMANDS = {"summary": _summary, "check": _check, "draw": _draw, "compile": _compile}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
