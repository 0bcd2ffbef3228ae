"""`archspec import SOURCE [-o FILE]`: a Caffe prototxt or a torchvision model → spec.

The source is either a path to a `.prototxt` file or `torchvision:NAME`, where
NAME must be a function in `torchvision.models` (looked up by name, never
evaluated). The spec goes to stdout, or atomically to `-o` — and only after
it has been loaded back and checked, so an error never leaves a file behind.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..errors import Span
from ..files import write_atomically

TORCHVISION = "torchvision:"


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `import` on the CLI's subparsers."""
    text = "turn a Caffe prototxt or a torchvision model into a spec"
    command = sub.add_parser("import", help=text, description=text)
    command.add_argument("source", help="FILE.prototxt, or torchvision:NAME (e.g. resnet50)")
    command.add_argument("-o", "--output", help="write the spec here (default: stdout)")
    command.add_argument(
        "--input", default="3x224x224", help="input C×H×W for torchvision models (3x224x224)"
    )


def import_source(source: str, input_shape: str = "3x224x224") -> str:
    """The spec text for a source named on the command line. (The importers
    are imported here, not at the top: every other command starts faster.)"""
    from .graph import ImportError_

    if source.startswith(TORCHVISION):
        from ..compiler.io.module_import import from_torchvision

        return from_torchvision(source[len(TORCHVISION) :], _shape(input_shape))
    path = Path(source)
    try:
        if not path.is_file():
            raise OSError("no such file")
        from .caffe import import_prototxt

        return import_prototxt(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImportError_(f"cannot read {source}: {reason}", Span(source, 1, 1)) from None


def _shape(text: str) -> tuple[int, ...]:
    from .graph import ImportError_

    if not re.fullmatch(r"\d+(x\d+){2}", text):
        raise ImportError_(
            f"--input must be C×H×W like 3x224x224, got `{text}`", Span("--input", 1, 1)
        )
    return tuple(int(n) for n in text.split("x"))


def run(args: argparse.Namespace) -> int:
    from .graph import ImportError_

    text = import_source(args.source, args.input)
    if args.output:
        try:
            write_atomically(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise ImportError_(
                f"cannot write {args.output}: {exc.strerror}", Span(args.output, 1, 1)
            ) from None
        print(f"wrote {args.output} ({len(text.splitlines())} lines)", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0
