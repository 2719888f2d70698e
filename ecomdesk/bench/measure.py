"""What every benchmark reports beside its figures, defined once: the load average (machines here differ and
drift within the hour, so an absolute figure goes with the load it was measured under) and percentiles
(numpy's linear interpolation)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.1f}/{b:.1f}/{c:.1f}"


def percentiles(values: Sequence[float] | np.ndarray, qs: Sequence[float] = (50, 95)) -> tuple[float, ...] | None:
    """The `qs` percentiles of `values` (p50 and p95 by default), or None without values."""
    if len(values) == 0:
        return None
    return tuple(float(v) for v in np.percentile(np.asarray(values, dtype=float), list(qs)))
