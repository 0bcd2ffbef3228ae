"""The `archspec` command: summary, check, draw, compile, weights, export.

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
from .importers.command import add_command as add_import_command
from .importers.command import run as run_import
from .naming import python_name
from .network import Network, bundled_specs, load, parse_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Write a CNN the way its paper prints it; check, draw and compile it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def spec_command(name: str, help_text: str, several: bool = False) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        if several:
            command.add_argument(
                "spec", nargs="+", help="spec files, globs ('specs/*.yaml') or bundled names"
            )
        else:
            command.add_argument("spec", help="a spec file, or the name of a bundled spec (vgg_e)")
        command.add_argument("--variant", help="one of the spec's variants")
        _override_options(command)
        return command

    summary = spec_command("summary", "per-layer shapes, params, MACs and receptive field")
    summary.add_argument(
        "--depth",
        type=int,
        default=None,
        help="collapse blocks below this depth (1 = top-level rows only)",
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object")

    spec_command("check", "validate specs and print their warnings", several=True)

    draw = spec_command("draw", "draw the network with Graphviz")
    draw.add_argument("-o", "--output", help="output file (default: SPEC name + format)")
    draw.add_argument("--format", default=None, choices=("svg", "png", "pdf", "dot"))
    draw.add_argument("--depth", type=int, default=None, help="collapse blocks below this depth")
    draw.add_argument("--rankdir", default="TB", choices=("TB", "LR"))

    compile_ = spec_command("compile", "generate standalone PyTorch source")
    compile_.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    compile_.add_argument(
        "--inference",
        action="store_true",
        help="append fold() and inference_model(): BN folded, eval-only, channels_last",
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

    sub.add_parser("list", help="list the bundled specs")
    add_import_command(sub)
    return parser


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
        if args.command == "list":
            return _list()
        if args.command == "import":
            return run_import(args)
        if args.command == "check":
            return _check_all(args)
        net = _load(args)
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


def _override_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--input", help="replace the spec's input size: 3x384x384")
    command.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="replace a file-level parameter (repeatable): --set k=48",
    )


def _load(args: argparse.Namespace) -> Network:
    """The spec the command names, with `--variant`, `--input` and `--set` applied."""
    return load(args.spec, args.variant, input=args.input, params=parse_settings(args.set))


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


def _check_all(args: argparse.Namespace) -> int:
    """Check every spec named (globs expanded here too, for quoted patterns and
    Windows shells); report each, exit 1 if any failed."""
    failed = 0
    for spec in _expand(args.spec):
        try:
            _check(
                load(spec, args.variant, input=args.input, params=parse_settings(args.set)), args
            )
        except ArchSpecError as exc:
            print(exc.format(), file=sys.stderr)
            failed += 1
        except FileNotFoundError:
            print(f"archspec: no such spec: {spec}", file=sys.stderr)
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


def _draw(net: Network, args: argparse.Namespace) -> int:
    from .diagram import render

    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "svg")
    if fmt not in ("svg", "png", "pdf", "dot"):
        raise ToolError(f"unknown diagram format `{fmt}` (svg, png, pdf or dot)")
    # Without -o the file goes in the current folder, named after the network
    # as an identifier: nothing in a spec can choose where it lands.
    output = Path(args.output) if args.output else Path(f"{python_name(net.name)}.{fmt}")
    render(net.model, output, fmt=fmt, depth=args.depth, rankdir=args.rankdir)
    print(f"wrote {output}", file=sys.stderr)
    return 0


def _compile(net: Network, args: argparse.Namespace) -> int:
    if args.inference:
        from .compiler.inference import inference_source

        text = inference_source(net)
    else:
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


def _weights(net: Network, args: argparse.Namespace) -> int:
    from archspec.compiler.export import ExportError, export, format_for
    from archspec.compiler.weights import WeightsError, build_with_weights

    try:
        if args.output:
            fmt = format_for(args.output)
            if fmt not in ("pt", "safetensors"):
                raise ToolError(f"-o takes a .pt or .safetensors file, not {args.output}")
            report = export(net, fmt, args.output, weights=args.checkpoint, from_=args.from_,
                            strict=args.strict)  # fmt: skip
        else:
            _module, report = build_with_weights(net, args.checkpoint, from_=args.from_,
                                                 strict=args.strict)  # fmt: skip
    except (WeightsError, ExportError) as exc:
        raise ToolError(str(exc)) from None
    print(report.format() if report else "")
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _export(net: Network, args: argparse.Namespace) -> int:
    from archspec.compiler.export import ExportError, export, format_for
    from archspec.compiler.weights import WeightsError

    try:
        fmt = format_for(args.output, args.format)
        report = export(net, fmt, args.output, weights=args.weights, from_=args.from_,
                        strict=args.strict)  # fmt: skip
    except (WeightsError, ExportError) as exc:
        raise ToolError(str(exc)) from None
    if report is not None:
        print(report.format(), file=sys.stderr)
    print(f"{net.name}: {fmt} → {args.output}", file=sys.stderr)
    return 0


def _list() -> int:
    for path in bundled_specs():
        print(path.stem)
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
