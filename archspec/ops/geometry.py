"""Window arithmetic shared by the windowed ops (conv, pool, subsample): output
sizes exactly as torch computes them, `same` padding, and the edges a window
never sees."""

from __future__ import annotations

from typing import Any

from ..errors import SpecValueError
from ..ir import Shape
from .base import Geometry, ShapeRuleError


def require_image(inputs: list[Shape], what: str) -> Shape:
    x = inputs[0]
    if x.is_vector:
        raise ShapeRuleError(f"{what} needs a C×H×W input, got a vector of {x.c}")
    return x


def with_geometry(values: dict[str, Any], geometry: Geometry) -> dict[str, Any]:
    """The options with what was written around the name (`conv3/2-64`) filled in;
    the elaborator has already refused a kernel or width the op does not take."""
    merged = dict(values)
    for key, value in (
        ("kernel", geometry.kernel),
        ("stride", geometry.stride),
        ("out", geometry.width),
    ):
        if value is not None:
            merged[key] = value
    return merged


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


def kernel_text(kernel: tuple[int, int]) -> str:
    kh, kw = kernel
    return str(kh) if kh == kw else f"{kh}x{kw}"


def padding_of(pad: Any, kernel: tuple[int, int], dilation: int) -> tuple[int, int]:
    """`same` pads (k−1)·d/2 on each side: odd kernels keep the size at stride 1
    and give ceil(n/s) at stride s (Caffe's and torchvision's half padding)."""
    if pad == "valid":
        return (0, 0)
    if pad == "same":
        out = []
        for k in kernel:
            total = dilation * (k - 1)
            if total % 2:
                raise SpecValueError(
                    f"`pad=same` needs an odd kernel (got {k}); give the padding explicitly"
                )
            out.append(total // 2)
        return (out[0], out[1])
    return pair(pad)


def same_padding(kernel: tuple[int, int], dilation: int) -> tuple[int, int] | None:
    """What `pad=same` gives this kernel; None where it cannot (an even kernel)."""
    try:
        return padding_of("same", kernel, dilation)
    except SpecValueError:
        return None


def pad_mode(padding: tuple[int, int], kernel: tuple[int, int], dilation: int) -> str | None:
    """How a padding is best described: same, valid or explicit; None where
    same and valid are one (a 1×1 kernel unpadded)."""
    same = same_padding(kernel, dilation)
    if same == (0, 0) == padding:
        return None
    if padding == same:
        return "same"
    return "valid" if padding == (0, 0) else "explicit"


def written_pad(
    padding: tuple[int, int], kernel: tuple[int, int], dilation: int, default: Any, modes: bool
) -> Any:
    """The `pad=` a layer writes for its padding, None where the default pad
    (as written: same, valid, p or [ph, pw]) gives it already: `same` or
    `valid` where those give it and `modes` allows them, else p or (ph, pw)."""
    if default == "same":  # a default that cannot give this kernel's padding gives none
        given = same_padding(kernel, dilation)
    else:
        given = padding_of(default, kernel, dilation)
    if padding == given:
        return None
    mode = pad_mode(padding, kernel, dilation) if modes else "explicit"
    if mode in ("same", "valid"):
        return mode
    return padding[0] if padding[0] == padding[1] else padding


def spatial(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """Output size along one axis, exactly as torch computes it."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out <= 0:
        raise ShapeRuleError(
            f"kernel {k} (dilation {d}) is larger than the padded input {n + 2 * p}"
        )
    return out


def dropped(n: int, k: int, s: int, p: int, d: int) -> int:
    """Input rows the windows never reach with floor rounding (beyond padding)."""
    return (n + 2 * p - d * (k - 1) - 1) % s - p


def coverage_warnings(
    x: Shape, kernel: tuple[int, int], s: int, padding: tuple[int, int], d: int
) -> list[str]:
    out = []
    for axis, n, k, p in (
        ("rows", x.h, kernel[0], padding[0]),
        ("columns", x.w, kernel[1], padding[1]),
    ):
        assert n is not None
        lost = dropped(n, k, s, p, d)
        # With a window narrower than the stride (1×1/2) pixels are skipped all
        # along by design; only overlapping or tiling windows can lose an edge.
        if lost > 0 and d * (k - 1) + 1 >= s:
            out.append(
                f"input size {n} does not divide evenly: the last {lost} {axis} of the input "
                f"are never seen by this {k}×{k}/{s} window (floor rounding)"
            )
    return out
