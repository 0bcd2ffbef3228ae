"""`base:` — a spec extending a family file (`_resnet.yaml`) or a bundled spec
(`base: vgg_d`). The base's keys are the defaults; `params`, `defaults`,
`blocks` and `variants` merge entry by entry. A base is found by a bundled name
or a relative path inside the spec's own folder tree, symlinks resolved first,
so a spec never reads a file outside it.
"""

from __future__ import annotations

import re
from pathlib import Path

from .ast import IDENTIFIER
from .errors import SpecSyntaxError
from .yamlspan import YMap, YNode, YScalar, decode_spec, load_yaml

MERGED_KEYS = ("params", "defaults", "blocks", "variants")  # merged key by key with a base


MAX_BASES = 8  # `base:` chains deeper than this are refused (a cycle, most likely)


def merge_base(root: YMap, base_dir: Path | None, bundled: tuple[Path, ...], depth: int) -> YMap:
    """`base: family.yaml` or `base: vgg_d` — the keys of this file override
    those of its base (a file in this spec's folder tree, or a bundled spec),
    merging `params`, `defaults` (op by op), `blocks` and `variants` key by key."""
    base = root.get("base")
    if base is None:
        return root
    if depth >= MAX_BASES:
        raise SpecSyntaxError(f"`base:` chains deeper than {MAX_BASES} files", base.span)
    path = _base_path(base, base_dir, bundled)
    parent = load_yaml(decode_spec(path.read_bytes(), str(path)), str(path))
    if not isinstance(parent, YMap):
        raise SpecSyntaxError("a base spec must be a mapping", parent.span)
    parent = merge_base(parent, path.parent, bundled, depth + 1)
    own = {str(k.value): v for k, v in root.entries if str(k.value) != "base"}
    entries = []
    for key, value in parent.entries:
        mine = own.pop(str(key.value), None)
        if mine is None:
            entries.append((key, value))
        elif str(key.value) in MERGED_KEYS and isinstance(value, YMap) and isinstance(mine, YMap):
            # `params: {aux: true}` overrides one constant, not the family's whole table
            deep = str(key.value) == "defaults"
            entries.append((key, _merged(value, mine, deep)))
        else:
            entries.append((key, mine))
    entries += [(k, v) for k, v in root.entries if str(k.value) in own]
    return YMap(tuple(entries), root.span)


def _merged(theirs: YMap, mine: YMap, deep: bool) -> YMap:
    """`mine` over `theirs` key by key; with `deep`, mappings under the same key
    merge too (`defaults: {conv: {bn: true}}` keeps the base's other conv defaults)."""
    own = {str(k.value): v for k, v in mine.entries}
    entries = []
    for key, value in theirs.entries:
        mine_value = own.pop(str(key.value), None)
        if mine_value is None:
            entries.append((key, value))
        elif deep and isinstance(value, YMap) and isinstance(mine_value, YMap):
            entries.append((key, _merged(value, mine_value, False)))
        else:
            entries.append((key, mine_value))
    entries += [(k, v) for k, v in mine.entries if str(k.value) in own]
    return YMap(tuple(entries), mine.span)


def _base_path(base: YNode, base_dir: Path | None, bundled: tuple[Path, ...]) -> Path:
    """The file `base:` names: a bundled spec by name (`vgg_d`), or a relative
    path inside this spec's folder tree (`_resnet.yaml`, `families/_vgg.yaml`),
    never an absolute path or one that leaves the folder (symlinks resolved)."""
    target = str(base.value) if isinstance(base, YScalar) else ""
    if IDENTIFIER.match(target):
        for folder in (*((base_dir,) if base_dir else ()), *bundled):
            for stem in (target, f"_{target}"):
                path = (folder / f"{stem}.yaml").resolve()  # a symlink must not reach out
                if path.is_file() and path.is_relative_to(folder.resolve()):
                    return path
        raise SpecSyntaxError(f"`base: {target}` names no bundled spec", base.span)
    if not re.fullmatch(r"[^\0]+\.ya?ml", target) or Path(target).is_absolute():
        raise SpecSyntaxError(
            "`base:` names a bundled spec (`vgg_d`) or a relative path to a .yaml file "
            f"inside this spec's folder, not `{target}`",
            base.span,
        )
    if base_dir is None:
        raise SpecSyntaxError(
            f"`base: {target}` needs the spec's folder: load the spec from a file", base.span
        )
    folder = base_dir.resolve()
    path = (base_dir / target).resolve()
    if not path.is_relative_to(folder):
        raise SpecSyntaxError(
            f"`base: {target}` leaves this spec's folder; a base must sit inside it", base.span
        )
    if not path.is_file():
        raise SpecSyntaxError(f"base file `{target}` not found in this spec's folder", base.span)
    return path
