"""One micro-batch, end to end: parse once, stage raw + quarantine, collect partials, publish.

Used as the `foreachBatch` function, so every batch is a plain batch DataFrame keyed by its id.
The parsed records are cached, so Kafka is read and JSON parsed once per record, in as many
partitions as the cluster has cores (one task per core, not one per Kafka partition, and fewer
small files). A batch runs two Spark jobs concurrently: the raw events write, and one job that
brings every partial aggregate home at once (a fixed per-job cost, paid once instead of once per
aggregate). The quarantine write is a third job, run only when the partials count rejected records.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecomdesk.data.contract import QUARANTINE_COUNTS, STAGING_DIR
from ecomdesk.pipeline import metrics
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.parse import parse_records, quarantined, valid_events
from ecomdesk.pipeline.snapshot import BatchPartials, Snapshot, merge, utc

log = logging.getLogger(__name__)

_TAG = "_partial"
_FUNNEL = "_funnel_events"
_MAX = "_max_event_us"


def _pandas(table: pa.Table) -> pd.DataFrame:
    out = table.to_pandas()
    for c in ("window_start", "window_end"):
        if c in out.columns:
            out[c] = utc(out[c])
    return out


def collect_partials(events: DataFrame, rejected: DataFrame) -> BatchPartials:
    """Every partial aggregate of one batch, in one Spark job: their rows are unioned into one wide
    table tagged with the partial's name, collected as Arrow and split again in the driver.

    The (cached, small) input is seen as one partition, which already satisfies every grouping, so
    Spark plans no shuffle: one stage, one task per partial, each aggregating the whole batch.
    """
    events, rejected = events.coalesce(1), rejected.coalesce(1)
    frames = {name: fn(events) for name, fn in metrics.ADDITIVE.items()}
    frames[QUARANTINE_COUNTS] = metrics.quarantine_counts(rejected)
    frames[_FUNNEL] = metrics.funnel_events(events).select(
        "user_id", "product_id", "event_type", F.unix_micros("event_time").alias("event_us"),
        "topic", F.col("partition").cast("long").alias("partition"), "offset")
    frames[_MAX] = events.agg(F.max(F.unix_micros("event_time")).alias("max_event_us"))
    tagged = [df.withColumn(_TAG, F.lit(name)) for name, df in frames.items()]
    table = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), tagged).toArrow()
    parts = {name: table.filter(pc.equal(table[_TAG], name)).select(df.columns) for name, df in frames.items()}
    max_us = parts.pop(_MAX)["max_event_us"][0].as_py()
    funnel = parts.pop(_FUNNEL).to_pandas()
    tables = {name: _pandas(t) for name, t in parts.items()}
    return BatchPartials(tables, funnel, None if max_us is None else int(max_us))


class BatchProcessor:
    """The foreachBatch function; keeps the current snapshot in driver memory between batches."""

    def __init__(self, committer: Committer, snapshot: Snapshot, delay_us: int, topic_prefix: str = ""):
        self.committer, self.snapshot, self.delay_us = committer, snapshot, delay_us
        self.topic_prefix = topic_prefix
        self.query_id: str | None = None
        self.timings: dict[int, dict[str, int]] = {}  # batch id -> its steps in ms, until reported
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")

    def __call__(self, kafka_batch: DataFrame, batch_id: int) -> None:
        if batch_id <= self.snapshot.batch_id:
            log.warning("batch %d was already committed (manifest exists): skipping its replay", batch_id)
            return
        t0 = time.monotonic()
        store = self.committer.store
        staging = f"{STAGING_DIR}/batch-{batch_id}"
        store.delete(staging)
        cores = kafka_batch.sparkSession.sparkContext.defaultParallelism
        parsed = parse_records(kafka_batch.coalesce(cores), self.topic_prefix).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            events, rejected = valid_events(parsed), quarantined(parsed)
            write = self.pool.submit(events.write.partitionBy("kind", "event_date").parquet,
                                     store.uri(f"{staging}/events"))
            partials = collect_partials(events, rejected)
            t1 = time.monotonic()
            if not partials.tables[QUARANTINE_COUNTS].empty:
                rejected.write.partitionBy("ingest_date").parquet(store.uri(f"{staging}/quarantine"))
            write.result()
            t2 = time.monotonic()
        finally:
            parsed.unpersist()
        self.committer.move_staged(batch_id, staging)
        t3 = time.monotonic()
        snapshot, changed = merge(self.snapshot, batch_id, partials, self.delay_us)
        t4 = time.monotonic()
        self.committer.publish(snapshot, changed, self.query_id)
        self.snapshot = snapshot
        t5 = time.monotonic()
        steps = {"partials": t1 - t0, "writes": t2 - t1, "move": t3 - t2, "merge": t4 - t3, "publish": t5 - t4}
        self.timings = {b: t for b, t in self.timings.items() if b > batch_id - 10}
        self.timings[batch_id] = {k: round(v * 1000) for k, v in steps.items()}
        log.info("batch %d timing: partials %.2f s, writes +%.2f s, move %.2f s, merge %.2f s, "
                 "publish %.2f s (%d changed parts, %d funnel state rows)", batch_id, t1 - t0, t2 - t1,
                 t3 - t2, t4 - t3, t5 - t4, len(changed), snapshot.funnel.rows)
