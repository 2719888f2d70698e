"""Time ranges of the per-minute charts and the roll-up that keeps a chart's points within its pixels.

A range is the last N seconds up to an end (now while following the live edge, or wherever the user
panned to). Long ranges are summed into coarser buckets (5 min, 15 min, 1 h, ...) chosen so that a
chart never draws more points than it has pixels: 7 days of minutes is 10,080 points, 7 days of
hours 168.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MINUTE = 60
BUCKETS = (MINUTE, 5 * MINUTE, 15 * MINUTE, 3600, 6 * 3600, 86400)  # seconds, finest first


@dataclass(frozen=True)
class TimeRange:
    key: str
    label: str
    seconds: int | None  # None: all the data


RANGES = (
    TimeRange("15m", "Last 15 minutes", 15 * MINUTE),
    TimeRange("1h", "Last hour", 3600),
    TimeRange("6h", "Last 6 hours", 6 * 3600),
    TimeRange("24h", "Last 24 hours", 86400),
    TimeRange("7d", "Last 7 days", 7 * 86400),
    TimeRange("all", "All", None),
)
BY_KEY = {r.key: r for r in RANGES}
DEFAULT = "1h"


def bucket_seconds(span_seconds: float, max_points: int) -> int:
    """The finest bucket that puts at most `max_points` buckets in `span_seconds`."""
    for bucket in BUCKETS:
        if span_seconds / bucket <= max_points:
            return bucket
    return BUCKETS[-1]


def bucket_label(bucket: int) -> str:
    if bucket % 86400 == 0:
        return "day" if bucket == 86400 else f"{bucket // 86400} days"
    if bucket % 3600 == 0:
        return "hour" if bucket == 3600 else f"{bucket // 3600} hours"
    return "minute" if bucket == MINUTE else f"{bucket // MINUTE} minutes"


@dataclass(frozen=True)
class ChartView:
    """What the window asks of a refresh: a range, where it ends (None: follow the live edge), and how
    many points the per-minute charts have room for."""

    range_key: str = DEFAULT
    end: float | None = None
    max_points: int = 1200


@dataclass(frozen=True)
class Window:
    """What a per-minute chart shows: [start, end) in epoch seconds, summed per `bucket` seconds."""

    start: float | None
    end: float | None
    bucket: int


def window_for(time_range: TimeRange, first: float | None, last: float | None, end: float | None,
               max_points: int) -> Window:
    """The window of `time_range` ending at `end` (None: at the newest data), for data spanning
    [first, last] (window starts, epoch seconds; None when there is none)."""
    if first is None or last is None:
        return Window(None, None, MINUTE)
    stop = (last + MINUTE) if end is None else end
    start = first if time_range.seconds is None else stop - time_range.seconds
    return Window(start, stop, bucket_seconds(max(stop - start, MINUTE), max_points))


def rollup(df: pd.DataFrame, window: Window, sums: list[str]) -> pd.DataFrame:
    """Rows of `df` (column `t`: window starts, epoch seconds) inside `window`, with `sums` summed per
    bucket; `t` becomes the bucket's start. Minute buckets return the rows as they are."""
    if df.empty or window.start is None:
        return df
    t = df["t"].to_numpy(dtype=float)
    inside = df[(t >= window.start) & (t < window.end)]
    if window.bucket == MINUTE or inside.empty:
        return inside.reset_index(drop=True)
    start = np.floor(inside["t"].to_numpy(dtype=float) / window.bucket) * window.bucket
    out = inside[sums].groupby(start, sort=True).sum()
    out.insert(0, "t", out.index.to_numpy(dtype=float))
    return out.reset_index(drop=True)
