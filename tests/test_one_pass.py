"""The one-pass partials (Arrow, in each task) against the specification: `metrics.SQL` through the union
(`batch.collect_partials`) on the same records, and the pandas yardstick, split into tasks as Spark splits
a batch. The whole job on the one pass is exercised by test_spark_batches and the stack tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from spark_local import random_events, to_spark

from ecomdesk.data.contract import EVENT_SCHEMA, QUARANTINE_COUNTS
from ecomdesk.pipeline import one_pass
from ecomdesk.pipeline.batch import collect_partials, split
from ecomdesk.pipeline.metrics import ADDITIVE
from ecomdesk.pipeline.snapshot import KEYS, SUMS, Snapshot, merge
from ecomdesk.testing.reference import aggregates, assert_same

DELAY_US = 10 * 60 * 1_000_000


def _records(events: pd.DataFrame, reasons: list[str]) -> pa.Table:
    """Parsed records as `parse.parse_records` gives them: valid events (reason null), then rejected ones."""
    valid = pa.Table.from_pandas(events, schema=EVENT_SCHEMA, preserve_index=False)
    n = len(valid)
    ts = pa.array([pd.Timestamp("2024-03-02T00:00:00Z")] * (n + len(reasons)), pa.timestamp("us", tz="UTC"))
    rejected = {c: pa.nulls(len(reasons), t) for c, t in zip(EVENT_SCHEMA.names, EVENT_SCHEMA.types, strict=True)}
    rejected |= {"topic": pa.array(["orders"] * len(reasons)), "partition": pa.array([0] * len(reasons), pa.int32()),
                 "offset": pa.array(range(10_000, 10_000 + len(reasons)), pa.int64())}
    both = pa.concat_tables([valid, pa.table(rejected, schema=EVENT_SCHEMA)])
    return both.append_column("raw", pa.array([None] * n + [f"bad {r}" for r in reasons], pa.string())) \
        .append_column("kafka_timestamp", ts).append_column("reason", pa.array([None] * n + reasons, pa.string()))


def _tasks(records: pa.Table, n: int) -> pa.Table:
    """The tables `n` tasks add to the accumulator, as the driver takes them."""
    sink = _Sink()
    bounds = np.linspace(0, records.num_rows, n + 1).astype(int)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        task = one_pass.partials_task(iter(records.slice(a, b - a).to_batches()), sink)
        valid = pa.Table.from_batches(list(task), schema=one_pass.VALID_SCHEMA)
        assert valid.num_rows == sum(r is None for r in records["reason"].slice(a, b - a).to_pylist())
    return one_pass.OnePass(sink).take()


class _Sink:
    """The accumulator's behaviour without a SparkContext: adds lists, read and reset through `value`."""

    def __init__(self):
        self.value = []

    def add(self, items):
        self.value = self.value + items


REASONS = ["malformed_json", "negative_price", "malformed_json"]


@pytest.mark.parametrize("tasks", [1, 3])
def test_the_tasks_partials_merged_equal_the_yardstick(tasks):
    events = random_events(600, seed=5)
    partials = split(_tasks(_records(events, REASONS), tasks))
    assert partials.count == len(events) and partials.max_event_us == int(events.event_time.max().value // 1000)
    assert len(partials.funnel_events) == len(events) and partials.events is None
    assert sorted(partials.rejected["reason"].to_pylist()) == sorted(REASONS)
    snapshot, _ = merge(Snapshot(), 0, partials, DELAY_US)
    want = aggregates(events)
    for name in ADDITIVE:
        assert_same(name, pd.concat(snapshot.tables[name].values()), want[name], KEYS[name])
    counts = pd.concat(snapshot.tables[QUARANTINE_COUNTS].values())
    assert dict(zip(counts.reason, counts["count"], strict=True)) == {"malformed_json": 2, "negative_price": 1}


def test_the_partials_equal_the_sql_statements_row_for_row(spark):
    """One task's members against the specification's union on the same events: same rows per key."""
    events = random_events(400, seed=9)
    arrow = split(_tasks(_records(events, REASONS), 1))
    rejected = spark.createDataFrame([(r,) for r in REASONS], "reason string")
    sql = collect_partials(to_spark(spark, events), rejected)
    for name in (*ADDITIVE, QUARANTINE_COUNTS):
        assert_same(name, arrow.tables[name], sql.tables[name], KEYS[name])
        assert list(arrow.tables[name].columns) == list(sql.tables[name].columns), name
        assert set(SUMS[name]) <= set(arrow.tables[name].columns)
    pd.testing.assert_frame_equal(arrow.funnel_events.sort_values("offset").reset_index(drop=True),
                                  sql.funnel_events.sort_values("offset").reset_index(drop=True), check_dtype=False)
    assert (arrow.count, arrow.max_event_us) == (sql.count, sql.max_event_us)


def test_a_batch_without_records_gives_empty_partials():
    partials = split(one_pass.OnePass(_Sink()).take())
    assert partials.count == 0 and partials.max_event_us is None and partials.funnel_events.empty
    assert all(t.empty for t in partials.tables.values())
