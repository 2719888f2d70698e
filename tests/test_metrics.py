"""Every metric function on a small batch DataFrame against an independent pandas computation.

The job computes the funnel across batches in `pipeline.funnel` (tested in test_funnel.py); here a
batch-wide Spark range join, which no production code runs, checks the pandas yardstick's funnel.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import functions as F
from spark_local import random_events, to_spark

from ecomdesk.data.contract import AGGREGATE_KEYS, AGGREGATE_SCHEMAS, FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline import metrics
from ecomdesk.testing.reference import aggregates, assert_same

WINDOW_KEYS = ["window_start", "window_end"]


def _per_minute(df, name: str):
    w = F.window("event_time", "1 minute")
    return df.groupBy(w.start.alias("window_start"), w.end.alias("window_end")).agg(F.count(F.lit(1)).alias(name))


def _converted_carts(events):
    """Carts bought by the same user, same product, 0..FUNNEL_WINDOW_SECONDS later: a range join."""
    carts = events.where(F.col("event_type") == "add_to_cart").alias("c")
    buys = events.where(F.col("event_type") == "purchase").alias("p")
    lag = F.unix_micros(F.col("p.event_time")) - F.unix_micros(F.col("c.event_time"))
    matched = carts.join(
        buys,
        (F.col("c.user_id") == F.col("p.user_id")) & (F.col("c.product_id") == F.col("p.product_id"))
        & (lag >= 0) & (lag <= FUNNEL_WINDOW_SECONDS * 1_000_000),
    )
    return matched.select("c.topic", "c.partition", "c.offset", "c.event_time").distinct()


def _rate():
    return F.when(F.col("carts") > 0, F.col("converted") / F.col("carts")).otherwise(F.lit(0.0)).alias("rate")


def spark_conversion_funnel(events):
    """Per minute: carts and conversions counted at the cart's minute, purchases at the purchase's."""
    carts = _per_minute(events.where(F.col("event_type") == "add_to_cart"), "carts")
    buys = _per_minute(events.where(F.col("event_type") == "purchase"), "purchases")
    conv = _per_minute(_converted_carts(events), "converted")
    out = carts.join(buys, WINDOW_KEYS, "full").join(conv, WINDOW_KEYS, "full")
    out = out.na.fill(0, ["carts", "purchases", "converted"])
    return out.select(*WINDOW_KEYS, "carts", "purchases", "converted", _rate())


def spark_conversion_overall(events):
    counts = events.agg(
        F.count(F.when(F.col("event_type") == "add_to_cart", 1)).alias("carts"),
        F.count(F.when(F.col("event_type") == "purchase", 1)).alias("purchases"),
    )
    conv = _converted_carts(events).agg(F.count(F.lit(1)).alias("converted"))
    return counts.crossJoin(conv).select("carts", "purchases", "converted", _rate())


COMPUTED_BY = {**metrics.ADDITIVE, "conversion_funnel": spark_conversion_funnel,
               "conversion_overall": spark_conversion_overall}


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
    pandas yardstick and in the Spark range join alike."""
    t = pd.Timestamp("2024-03-01T10:00:00Z")
    rows = [("add_to_cart", t), ("purchase", t + pd.Timedelta(minutes=20)),  # converts (edge)
            ("add_to_cart", t + pd.Timedelta(minutes=1)),  # its purchase is 20 min + 1 us later
            ("purchase", t + pd.Timedelta(minutes=21, microseconds=1)),
            ("purchase", t - pd.Timedelta(minutes=5))]
    base = random_events(len(rows), seed=2)
    ev = base.assign(user_id="1", product_id="100", event_type=[r[0] for r in rows],
                     event_time=pd.Series([r[1] for r in rows]).astype("datetime64[us, UTC]"))
    ev["offset"] = range(len(ev))
    only_late = ev[ev.offset.isin([2, 3])]
    # cart@0 is bought at +20; cart@1 is bought at +20 (19 min later) as well, so both convert
    want = [{"carts": 2, "purchases": 3, "converted": 2, "rate": 1.0}]
    assert aggregates(ev)["conversion_overall"].to_dict("records") == want
    assert spark_conversion_overall(to_spark(spark, ev)).toPandas().to_dict("records") == want
    assert aggregates(only_late)["conversion_overall"].loc[0, "converted"] == 0
    assert spark_conversion_overall(to_spark(spark, only_late)).toPandas().loc[0, "converted"] == 0
