"""Every metric function on a small batch DataFrame against an independent pandas computation.

The job computes the funnel across batches in `pipeline.funnel` (tested in test_funnel.py); here
batch-wide Spark range joins, which no production code runs, check the pandas yardstick's funnel.
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from pyspark.sql import functions as F
from spark_local import random_events, to_spark

from ecomdesk.data.contract import AGGREGATE_KEYS, AGGREGATE_SCHEMAS, FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline import metrics
from ecomdesk.pipeline.funnel import COUNTS
from ecomdesk.pipeline.snapshot import RATES
from ecomdesk.testing.reference import aggregates, assert_same

WINDOW_KEYS = ["window_start", "window_end"]
WINDOW_US = FUNNEL_WINDOW_SECONDS * 1_000_000


def _per_minute(df, name: str):
    w = F.window("event_time", "1 minute")
    return df.groupBy(w.start.alias("window_start"), w.end.alias("window_end")).agg(F.count(F.lit(1)).alias(name))


def _of(events, event_type: str, alias: str):
    return events.where(F.col("event_type") == event_type).alias(alias)


def _within(a: str, b: str, of: str, most: int = WINDOW_US):
    """Same user and product, `b` at or after `a` and at most `most` µs after `of`."""
    us = {x: F.unix_micros(F.col(f"{x}.event_time")) for x in {a, b, of}}
    return ((F.col(f"{a}.user_id") == F.col(f"{b}.user_id")) & (F.col(f"{a}.product_id") == F.col(f"{b}.product_id"))
            & (us[b] >= us[a]) & (us[b] - us[of] <= most))


ID = ["topic", "partition", "offset", "event_time"]


def _journeys(events):
    """(carted views, bought views, converted carts) with range joins: a view is carted by a cart in
    [view, view + W], bought by a purchase in [such a cart, view + W]; a cart converts by a purchase
    in [cart, cart + W]."""
    views, carts, buys = _of(events, "page_view", "v"), _of(events, "add_to_cart", "c"), _of(events, "purchase", "p")
    carted = views.join(carts, _within("v", "c", "v"))
    bought = carted.join(buys, _within("c", "p", "v"))
    converted = carts.join(buys, _within("c", "p", "c"))
    return ([df.select(*[f"{x}.{c}" for c in ID]).distinct() for df, x in ((carted, "v"), (bought, "v"))]
            + [converted.select(*[f"c.{c}" for c in ID]).distinct()])


def _rates(df):
    def rate(part, whole):
        return F.when(F.col(whole) > 0, F.col(part) / F.col(whole)).otherwise(F.lit(0.0))
    return df.select("*", *[rate(p, w).alias(n) for n, (p, w) in RATES.items()])


def _parts(events):
    carted, bought, converted = _journeys(events)
    return {"viewed": events.where(F.col("event_type") == "page_view"), "carted": carted, "bought": bought,
            "carts": events.where(F.col("event_type") == "add_to_cart"),
            "purchases": events.where(F.col("event_type") == "purchase"), "converted": converted}


def spark_conversion_funnel(events):
    """Per minute: views at the view's minute, carts and conversions at the cart's, purchases at theirs."""
    parts = [_per_minute(df, name) for name, df in _parts(events).items()]
    out = functools.reduce(lambda a, b: a.join(b, WINDOW_KEYS, "full"), parts).na.fill(0, COUNTS)
    return _rates(out).select(*AGGREGATE_SCHEMAS["conversion_funnel"].names)


def spark_conversion_overall(events):
    counts = [df.agg(F.count(F.lit(1)).alias(name)) for name, df in _parts(events).items()]
    out = _rates(functools.reduce(lambda a, b: a.crossJoin(b), counts))
    return out.select(*AGGREGATE_SCHEMAS["conversion_overall"].names)


COMPUTED_BY = {**{n: functools.partial(metrics.metric, n) for n in metrics.ADDITIVE},
               "conversion_funnel": spark_conversion_funnel, "conversion_overall": spark_conversion_overall}


@pytest.fixture(scope="module")
def events():
    return random_events(600, seed=7)


@pytest.mark.parametrize("name", list(AGGREGATE_SCHEMAS))
def test_metric_matches_pandas(spark, events, name):
    got = COMPUTED_BY[name](to_spark(spark, events)).toPandas()
    assert list(got.columns) == AGGREGATE_SCHEMAS[name].names
    want = aggregates(events)[name]
    assert len(want) > 0
    assert_same(name, got, want, AGGREGATE_KEYS[name])


def test_funnel_window_edges(spark):
    """Exactly 20 minutes converts, 20 min + 1 µs and a purchase before the cart do not, in the
    pandas yardstick and in the Spark range joins alike."""
    t = pd.Timestamp("2024-03-01T10:00:00Z")
    rows = [("page_view", t),  # carted by the cart at +0, bought at +20 (the edge)
            ("add_to_cart", t), ("purchase", t + pd.Timedelta(minutes=20)),  # converts (edge)
            ("add_to_cart", t + pd.Timedelta(minutes=1)),  # its purchase is 20 min + 1 us later
            ("page_view", t + pd.Timedelta(minutes=1)),  # carted by the cart at +1, bought at +20
            ("purchase", t + pd.Timedelta(minutes=21, microseconds=1)),
            ("purchase", t - pd.Timedelta(minutes=5)),
            ("page_view", t + pd.Timedelta(minutes=2))]  # no cart after it: only viewed
    base = random_events(len(rows), seed=2)
    ev = base.assign(user_id="1", product_id="100", event_type=[r[0] for r in rows],
                     event_time=pd.Series([r[1] for r in rows]).astype("datetime64[us, UTC]"))
    ev["offset"] = range(len(ev))
    only_late = ev[ev.offset.isin([3, 5])]
    # cart@0 is bought at +20; cart@1 is bought at +20 (19 min later) as well, so both convert
    want = [{"viewed": 3, "carted": 2, "bought": 2, "carts": 2, "purchases": 3, "converted": 2,
             "view_to_cart": 2 / 3, "cart_to_buy": 1.0, "view_to_buy": 2 / 3, "cart_conversion_rate": 1.0}]
    assert aggregates(ev)["conversion_overall"].to_dict("records") == want
    assert spark_conversion_overall(to_spark(spark, ev)).toPandas().to_dict("records") == want
    assert aggregates(only_late)["conversion_overall"].loc[0, "converted"] == 0
    assert spark_conversion_overall(to_spark(spark, only_late)).toPandas().loc[0, "converted"] == 0
