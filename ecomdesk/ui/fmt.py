"""Human-readable numbers for the tables."""

from __future__ import annotations

import math
import time


def size(n: int | float | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def clock(epoch: float | None) -> str:
    return "–" if epoch is None else time.strftime("%H:%M:%S", time.localtime(epoch))


def number(v: float | int | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def compact(v: float, spacing: float = 1.0, prefix: str = "") -> str:
    """An axis value that reads at a glance: separators below 10,000, then k and M, with `prefix`
    (a currency) after the sign. `spacing` (between ticks) decides how many decimals it needs."""
    sign, a = ("-" if v < 0 else ""), abs(v)
    if a >= 1e6:
        scale, suffix = 1e6, "M"
    elif a >= 1e4:
        scale, suffix = 1e3, "k"
    else:
        scale, suffix = 1.0, ""
    step = abs(spacing) / scale if spacing else 1.0
    digits = 0 if step >= 1 else min(3, -math.floor(math.log10(step) + 1e-9))
    return f"{sign}{prefix}{a / scale:,.{digits}f}{suffix}"
