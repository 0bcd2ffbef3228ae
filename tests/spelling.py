"""An imported spec read back layer by layer: each layer expression as the
file writes it, beside its op's spelling (`Op.spell`) of the attributes that
expression configured under the file's `defaults:`."""

from __future__ import annotations

import yaml

import archspec
from archspec.ir import Layer, layers
from archspec.ops import REGISTRY


def written_and_spelt(text: str) -> list[tuple[Layer, str, str]]:
    """(layer, its text in the file, its op's spelling) for every written layer."""
    net = archspec.loads(text, filename="<imported spec>")
    defaults = yaml.safe_load(text).get("defaults") or {}
    at: dict[tuple[int, int], Layer] = {}
    for layer, _path in layers(net.root):
        at[(layer.span.line, layer.span.col)] = layer  # an FC's implicit flatten shares its place
    out = []
    for layer in at.values():
        span = layer.span
        written = span.source_line[span.col - 1 : span.col - 1 + span.length]
        spelt = REGISTRY.ops[layer.op].spell(layer.attrs.as_dict(), defaults.get(layer.op))
        out.append((layer, written, spelt))
    return out
