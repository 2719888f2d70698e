"""Valid events for the Spark unit tests (the `spark` session fixture is in conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

CATEGORY = {100: "Tech", 101: "Home", 102: "Sports", 103: "Fashion", 104: "Tech"}


def random_events(n: int, seed: int, start: str = "2024-03-01T23:40:00Z", span_minutes: int = 45):
    """Valid events in EVENT_SCHEMA columns with dense (user, product) pairs so the funnel matches often."""
    rng = np.random.default_rng(seed)
    products = rng.integers(100, 105, n)
    etype = rng.choice(list(TOPIC_BY_EVENT_TYPE), n, p=[0.5, 0.3, 0.2])  # page_view, add_to_cart, purchase
    t0 = pd.Timestamp(start)
    times = t0 + pd.to_timedelta(rng.integers(0, span_minutes * 60_000_000, n), unit="us")
    df = pd.DataFrame({
        "user_id": rng.integers(1, 6, n).astype(str),
        "product_id": products.astype(str),
        "category": [CATEGORY[p] for p in products],
        "event_type": etype,
        "price": np.round(rng.uniform(10, 500, n), 2),
        "event_time": times.astype("datetime64[us, UTC]"),
        "store_id": "1", "store_type": "online", "city": "Quito", "province": "Pichincha",
        "lat": -0.18, "lon": -78.46,
        "topic": [TOPIC_BY_EVENT_TYPE[e] for e in etype],
        "partition": rng.integers(0, 3, n).astype("int32"),
    })
    df["offset"] = np.arange(n, dtype="int64")
    return df


def event_struct():
    """EVENT_SCHEMA as a Spark schema, for event DataFrames built outside Kafka."""
    from pyspark.sql import types as T

    from ecomdesk.data.contract import EVENT_SCHEMA

    spark_type = {"string": T.StringType(), "double": T.DoubleType(), "int32": T.IntegerType(),
                  "int64": T.LongType(), "timestamp[us, tz=UTC]": T.TimestampType()}
    return T.StructType([T.StructField(f.name, spark_type[str(f.type)]) for f in EVENT_SCHEMA])


def to_spark(spark, df: pd.DataFrame):
    return spark.createDataFrame(df, schema=event_struct())
