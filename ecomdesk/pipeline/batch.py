"""One micro-batch, end to end: parse once, stage raw + quarantine, collect partials, publish.

Used as the `foreachBatch` function, so every batch is a plain batch DataFrame keyed by its id.
The parsed records are cached, so Kafka is read and JSON parsed once per record; the Spark jobs of
a batch (two writes, the partial aggregates) run concurrently from a small thread pool.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecomdesk.contract import QUARANTINE_COUNTS, STAGING_DIR
from ecomdesk.pipeline import metrics
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.parse import parse_records, quarantined, valid_events
from ecomdesk.pipeline.snapshot import BatchPartials, Snapshot, merge, utc

log = logging.getLogger(__name__)


def _pandas(df: DataFrame) -> pd.DataFrame:
    out = df.toPandas()
    for c in ("window_start", "window_end"):
        if c in out.columns:
            out[c] = utc(out[c])
    return out


def collect_partials(events: DataFrame, rejected: DataFrame, pool: ThreadPoolExecutor) -> BatchPartials:
    """Run every partial aggregate of one batch concurrently and bring the (small) results home."""
    frames = {name: fn(events) for name, fn in metrics.ADDITIVE.items()}
    frames[QUARANTINE_COUNTS] = metrics.quarantine_counts(rejected)
    funnel = metrics.funnel_events(events).select(
        "user_id", "product_id", "event_type", F.unix_micros("event_time").alias("event_us"),
        "topic", F.col("partition").cast("long").alias("partition"), "offset")
    futures = {name: pool.submit(_pandas, df) for name, df in frames.items()}
    funnel_f = pool.submit(lambda: funnel.toPandas())
    max_f = pool.submit(lambda: events.agg(F.max(F.unix_micros("event_time"))).first()[0])
    tables = {name: f.result() for name, f in futures.items()}
    max_us = max_f.result()
    return BatchPartials(tables, funnel_f.result(), None if max_us is None else int(max_us))


class BatchProcessor:
    """The foreachBatch function; keeps the current snapshot in driver memory between batches."""

    def __init__(self, committer: Committer, snapshot: Snapshot, delay_us: int, topic_prefix: str = ""):
        self.committer, self.snapshot, self.delay_us = committer, snapshot, delay_us
        self.topic_prefix = topic_prefix
        self.query_id: str | None = None
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="batch")

    def __call__(self, kafka_batch: DataFrame, batch_id: int) -> None:
        if batch_id <= self.snapshot.batch_id:
            log.warning("batch %d was already committed (manifest exists): skipping its replay", batch_id)
            return
        store = self.committer.store
        staging = f"{STAGING_DIR}/batch-{batch_id}"
        store.delete(staging)
        parsed = parse_records(kafka_batch, self.topic_prefix).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            events, rejected = valid_events(parsed), quarantined(parsed)
            writes = [
                self.pool.submit(events.write.partitionBy("kind", "event_date").parquet,
                                 store.uri(f"{staging}/events")),
                self.pool.submit(rejected.write.partitionBy("ingest_date").parquet,
                                 store.uri(f"{staging}/quarantine")),
            ]
            partials = collect_partials(events, rejected, self.pool)
            for w in writes:
                w.result()
        finally:
            parsed.unpersist()
        self.committer.move_staged(batch_id, staging)
        snapshot, changed = merge(self.snapshot, batch_id, partials, self.delay_us)
        self.committer.publish(snapshot, changed, self.query_id)
        self.snapshot = snapshot
