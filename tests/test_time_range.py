"""Time ranges and the roll-up: a chart never draws more points than it has pixels, and sums are kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomdesk.data.time_range import BY_KEY, MINUTE, Window, bucket_label, bucket_seconds, rollup, window_for

WEEK = 7 * 86400


def minutes(days: float, start: float = 1_800_000_000.0) -> pd.DataFrame:
    n = int(days * 1440)
    rng = np.random.default_rng(3)
    return pd.DataFrame({"t": start + MINUTE * np.arange(n), "total_sales": rng.uniform(0, 100, n),
                         "total_orders": rng.integers(0, 9, n)})


@pytest.mark.parametrize(("key", "pixels", "bucket"), [
    ("15m", 1200, MINUTE), ("1h", 1200, MINUTE), ("6h", 1200, MINUTE), ("24h", 1200, 300), ("24h", 200, 900),
    ("7d", 1200, 900), ("7d", 400, 3600), ("7d", 100, 6 * 3600),
])
def test_the_bucket_keeps_points_within_pixels(key, pixels, bucket):
    df = minutes(7)
    w = window_for(BY_KEY[key], df.t.iloc[0], df.t.iloc[-1], None, pixels)
    assert w.bucket == bucket
    out = rollup(df, w, ["total_sales", "total_orders"])
    assert 0 < len(out) <= pixels
    assert len(out) == pytest.approx(BY_KEY[key].seconds / bucket, abs=1)


def test_rollup_keeps_the_sums_of_the_window():
    df = minutes(2)
    w = window_for(BY_KEY["24h"], df.t.iloc[0], df.t.iloc[-1], None, 100)
    out = rollup(df, w, ["total_sales", "total_orders"])
    inside = df[(df.t >= w.start) & (df.t < w.end)]
    assert len(inside) == 1440
    assert out.total_sales.sum() == pytest.approx(inside.total_sales.sum())
    assert out.total_orders.sum() == inside.total_orders.sum()
    assert (np.diff(out.t) == w.bucket).all() and (out.t % w.bucket == 0).all()


def test_a_panned_window_ends_where_the_user_looks():
    df = minutes(1)
    end = df.t.iloc[600]
    w = window_for(BY_KEY["1h"], df.t.iloc[0], df.t.iloc[-1], end, 1200)
    out = rollup(df, w, ["total_sales"])
    assert out.t.iloc[-1] == df.t.iloc[599] and out.t.iloc[0] == df.t.iloc[540]


def test_all_and_empty():
    df = minutes(0.5)
    w = window_for(BY_KEY["all"], df.t.iloc[0], df.t.iloc[-1], None, 2000)
    assert w == Window(df.t.iloc[0], df.t.iloc[-1] + MINUTE, MINUTE)
    assert len(rollup(df, w, ["total_sales"])) == len(df)
    assert window_for(BY_KEY["1h"], None, None, None, 100).start is None
    assert rollup(df.iloc[:0], w, ["total_sales"]).empty


def test_labels_and_the_coarsest_bucket():
    assert [bucket_label(b) for b in (60, 300, 3600, 21600, 86400)] == ["minute", "5 minutes", "hour", "6 hours",
                                                                         "day"]
    assert bucket_seconds(10 * 365 * 86400, 100) == 86400
