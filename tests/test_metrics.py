"""Every metric function on a small batch DataFrame against an independent pandas computation."""

from __future__ import annotations

import pytest
from spark_local import random_events, spark, to_spark  # noqa: F401

from ecomdesk.data.contract import AGGREGATE_KEYS, AGGREGATE_SCHEMAS
from ecomdesk.pipeline import metrics
from ecomdesk.testing.reference import aggregates, assert_same


@pytest.fixture(scope="module")
def events():
    return random_events(600, seed=7)


@pytest.mark.parametrize("name", list(AGGREGATE_SCHEMAS))
def test_metric_matches_pandas(spark, events, name):  # noqa: F811
    got = getattr(metrics, name)(to_spark(spark, events)).toPandas()
    assert list(got.columns) == AGGREGATE_SCHEMAS[name].names
    want = aggregates(events)[name]
    assert len(want) > 0
    assert_same(name, got, want, AGGREGATE_KEYS[name])


def test_funnel_window_edges(spark):  # noqa: F811
    """Exactly 20 minutes converts, 20 min + 1 µs and a purchase before the cart do not."""
    ev = random_events(4, seed=1).iloc[:0]
    import pandas as pd

    t = pd.Timestamp("2024-03-01T10:00:00Z")
    rows = [("add_to_cart", t), ("purchase", t + pd.Timedelta(minutes=20)),  # converts (edge)
            ("add_to_cart", t + pd.Timedelta(minutes=1)),  # its purchase is 20 min + 1 us later
            ("purchase", t + pd.Timedelta(minutes=21, microseconds=1)),
            ("purchase", t - pd.Timedelta(minutes=5))]
    base = random_events(len(rows), seed=2)
    ev = base.assign(user_id="1", product_id="100", event_type=[r[0] for r in rows],
                     event_time=pd.Series([r[1] for r in rows]).astype("datetime64[us, UTC]"))
    ev["offset"] = range(len(ev))
    overall = metrics.conversion_overall(to_spark(spark, ev)).toPandas()
    # cart@0 is bought at +20; cart@1 is bought at +20 (19 min later) as well, so both convert
    assert overall.to_dict("records") == [{"carts": 2, "purchases": 3, "converted": 2, "rate": 1.0}]
    only_late = ev[ev.offset.isin([2, 3])]
    overall = metrics.conversion_overall(to_spark(spark, only_late)).toPandas()
    assert overall.loc[0, "converted"] == 0
