"""The one number format for people: three significant figures, as papers
print costs (9.54K, 335K, 25.6M, 1.04G). Exact counts are printed with
thousands separators (`f"{n:,}"`) beside it where they matter."""

from __future__ import annotations

UNITS = (("G", 10**9), ("M", 10**6), ("K", 10**3))


def human(count: int) -> str:
    for unit, size in UNITS:
        if abs(count) >= size * 0.9995:  # 999,960 is 1M, not 1e+03K
            return f"{count / size:.3g}{unit}"
    return str(count)
