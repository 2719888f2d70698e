"""One micro-batch, end to end: stage raw + quarantine, collect partials, publish.

Used as the `foreachBatch` function of the parsed stream (`parse.parse_records` of the Kafka source,
analysed once for the query, not once per batch), so every batch is a plain batch DataFrame of
parsed records keyed by its id. The records are materialized first (`materialize`, a Spark job of
its own), so Kafka is read and JSON parsed once per record, in as many partitions as the cluster has
cores (one task per core, not one per Kafka partition, and fewer small files). Then two Spark jobs
run concurrently: the raw events write, and one job that brings every partial aggregate home at once
(a fixed per-job cost, paid once instead of once per aggregate). The quarantine write is one more,
run only when the partials count rejected records.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame

from ecomdesk.data.contract import QUARANTINE_COUNTS, STAGING_DIR
from ecomdesk.pipeline import metrics
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.funnel import EVENT_COLUMNS
from ecomdesk.pipeline.parse import quarantined, valid_events
from ecomdesk.pipeline.snapshot import BatchPartials, Snapshot, merge, utc
from ecomdesk.pipeline.sql import run

log = logging.getLogger(__name__)

_TAG = "_partial"
_FUNNEL = "_funnel_events"
_TOTALS = "_totals"
_EVENTS = "_events"
_TOTALS_SQL = "SELECT max(unix_micros(event_time)) AS max_event_us, count(1) AS events FROM {events}"


def _pandas(table: pa.Table) -> pd.DataFrame:
    out = table.to_pandas()
    for c in ("window_start", "window_end"):
        if c in out.columns:
            out[c] = utc(out[c])
    return out


def _members(with_events: bool) -> dict[str, str]:
    """The union's statements. A batch that brings its events home gets the funnel's columns from them,
    so the funnel's own branch, a second copy of most of their bytes, is left out. (No LIMIT on the
    events: Spark names a limit's counter from a global sequence, so its generated code differs in
    every batch and was compiled again each time.)"""
    members = {**metrics.SQL, QUARANTINE_COUNTS: metrics.QUARANTINE_COUNTS_SQL, _TOTALS: _TOTALS_SQL}
    if with_events:
        members[_EVENTS] = "SELECT * FROM {events}"
    else:
        members[_FUNNEL] = metrics.FUNNEL_EVENTS_SQL
    return members


def funnel_events(events: pa.Table) -> pd.DataFrame:
    """The funnel's columns (funnel.EVENT_COLUMNS, as metrics.FUNNEL_EVENTS_SQL gives them) of a batch's
    valid events, in the driver."""
    with_us = events.append_column("event_us", events["event_time"].cast(pa.int64()))
    return with_us.select(EVENT_COLUMNS).to_pandas().astype({"partition": "int64"})


_UNIONS: dict[tuple, tuple[str, dict[str, list[str]]]] = {}


def _union(events: DataFrame, rejected: DataFrame, with_events: bool) -> tuple[str, dict[str, list[str]]]:
    """One SQL statement that unions every member's rows, tagged with its name, into one wide table
    (a member's missing columns are typed nulls), and each member's columns. Built once per input
    schema: it takes a call to Spark per member to learn their columns."""
    key = (events.schema.json(), rejected.schema.json(), with_events)
    if key not in _UNIONS:
        t0 = time.monotonic()
        statements = _members(with_events)
        members = {name: run(sql, events=events, rejected=rejected).schema for name, sql in statements.items()}
        types: dict[str, str] = {}
        for name, schema in members.items():
            for f in schema.fields:
                kind = f.dataType.simpleString()
                if types.setdefault(f.name, kind) != kind:
                    raise TypeError(f"column {f.name} is {types[f.name]} in one partial and {kind} in {name}")
        selects = []
        for name, schema in members.items():
            cols = [c if c in schema.names else f"CAST(NULL AS {t}) AS {c}" for c, t in types.items()]
            selects.append(f"SELECT '{name}' AS {_TAG}, {', '.join(cols)} FROM ({statements[name]})")
        _UNIONS[key] = ("\nUNION ALL\n".join(selects), {n: s.names for n, s in members.items()})
        log.info("the partials' union of %d statements built in %.2f s", len(statements), time.monotonic() - t0)
    return _UNIONS[key]


def collect_partials(events: DataFrame, rejected: DataFrame, with_events: bool = False) -> BatchPartials:
    """Every partial aggregate of one batch, in one Spark job: their rows are unioned into one wide
    table tagged with the partial's name (one SQL statement), collected as Arrow and split again in
    the driver. With `with_events`, the batch's valid events come along (`BatchPartials.events`), so
    that a small batch needs no second job to write them.

    The (small) input is seen as one partition, which already satisfies every grouping, so Spark
    plans no shuffle: one stage, and (the union of single-partition branches keeps their
    partitioning) one task that runs every partial over the whole batch; eight tasks instead
    (`spark.sql.unionOutputPartitioning` off) were no faster, even for 85k records.
    """
    events, rejected = events.coalesce(1), rejected.coalesce(1)
    sql, columns = _union(events, rejected, with_events)
    table = run(sql, events=events, rejected=rejected).toArrow()
    parts = {name: table.filter(pc.equal(table[_TAG], name)).select(cols) for name, cols in columns.items()}
    totals = parts.pop(_TOTALS)
    max_us, count = totals["max_event_us"][0].as_py(), totals["events"][0].as_py()
    rows = parts.pop(_EVENTS, None)
    funnel = parts.pop(_FUNNEL).to_pandas().astype({"partition": "int64"}) if rows is None else funnel_events(rows)
    tables = {name: _pandas(t) for name, t in parts.items()}
    return BatchPartials(tables, funnel, None if max_us is None else int(max_us), int(count), rows)


def materialize(frame: DataFrame) -> tuple[DataFrame, int]:
    """`frame` computed once into memory (disk if need be), as a DataFrame whose plan is one leaf, and
    its number of rows.

    Every partial of the union and the raw write read it: reading Kafka once per partial is far
    slower. A local checkpoint rather than `persist`: a persisted frame keeps its whole plan (the
    parse), which every one of the union's branches then carries through analysis, the cache lookup
    and optimisation, batch after batch (a batch of ~1,700 records: 1.40 s against 1.14 s for the
    parse and the partials, medians of 29 batches each, alternating on one stream). Its blocks live
    on the executors only: one lost with its executor fails the batch, which the job's restart
    replays from the last manifest, as after any crash.
    """
    local = frame.localCheckpoint(eager=False)
    # what eager=True does, keeping the count: the RDD's count fills the checkpoint
    return local, int(_checkpointed_rdd(local).count())


def release(materialized: DataFrame) -> None:
    """Free the blocks of a `materialize`d frame now (Spark would wait for its context cleaner, which
    runs when the JVM collects the frame's objects)."""
    _checkpointed_rdd(materialized).unpersist(False)


def _checkpointed_rdd(local: DataFrame):
    """The JVM RDD behind a local checkpoint: its plan is one LogicalRDD leaf holding it."""
    return local._jdf.queryExecution().analyzed().rdd()


class BatchProcessor:
    """The foreachBatch function; keeps the current snapshot in driver memory between batches.

    The batch's records are parsed and materialized, which counts them. A batch of at most
    `driver_rows` records then takes one more Spark job: its events come home with the partials and
    the driver writes them (a few small Parquet files), where Spark's writer costs a second job and its
    commit protocol's round trips to the NameNode. A larger batch's events are written by Spark (in
    parallel, on a cluster's executors) while the partials are collected.
    """

    def __init__(self, committer: Committer, snapshot: Snapshot, delay_us: int, driver_rows: int = 20_000):
        self.committer, self.snapshot, self.delay_us = committer, snapshot, delay_us
        self.driver_rows = driver_rows
        self.query_id: str | None = None
        self.timings: dict[int, dict[str, int]] = {}  # batch id -> its steps in ms, until reported
        self.staged = False  # whether Spark wrote into the current batch's staging directory
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")

    def _stage(self, write, path: str, staging: str):
        """Start one of Spark's writes into the batch's staging directory (emptied first: an earlier
        attempt may have left files in it)."""
        if not self.staged:
            self.committer.store.delete(staging)
            self.staged = True
        return self.pool.submit(write, self.committer.store.uri(f"{staging}/{path}"))

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        """Process one batch of parsed records (`parse.parse_records`)."""
        if batch_id <= self.snapshot.batch_id:
            log.warning("batch %d was already committed (manifest exists): skipping its replay", batch_id)
            return
        t0 = time.monotonic()
        staging, self.staged = f"{STAGING_DIR}/batch-{batch_id}", False
        cores = records.sparkSession.sparkContext.defaultParallelism
        parsed, count = materialize(records.coalesce(cores))
        try:
            events, rejected = valid_events(parsed), quarantined(parsed)
            large = count > self.driver_rows
            write = self._stage(events.write.partitionBy("kind", "event_date").parquet, "events",
                                staging) if large else None
            partials = collect_partials(events, rejected, with_events=not large)
            t1 = time.monotonic()
            if not partials.tables[QUARANTINE_COUNTS].empty:
                self._stage(rejected.write.partitionBy("ingest_date").parquet, "quarantine", staging).result()
            if write is not None:
                write.result()
            t2 = time.monotonic()
        finally:
            release(parsed)
        # the driver's writes and Spark's moves go on while the driver merges
        io = [self.pool.submit(self.committer.write_events, batch_id, partials.events)
              if partials.events is not None else None,
              self.pool.submit(self.committer.move_staged, batch_id, staging) if self.staged else None]
        snapshot, changed = merge(self.snapshot, batch_id, partials, self.delay_us)
        t3 = time.monotonic()
        for f in io:
            if f is not None:
                f.result()
        t4 = time.monotonic()
        self.committer.publish(snapshot, changed, self.query_id)
        self.snapshot = snapshot
        t5 = time.monotonic()
        steps = {"partials": t1 - t0, "writes": t2 - t1, "merge": t3 - t2, "move": t4 - t3, "publish": t5 - t4}
        self.timings = {b: t for b, t in self.timings.items() if b > batch_id - 10}
        self.timings[batch_id] = {k: round(v * 1000) for k, v in steps.items()}
        log.info("batch %d timing: partials %.2f s, writes +%.2f s, merge %.2f s, moves +%.2f s, publish %.2f s "
                 "(%d events, written by %s; %d changed parts, %d funnel state rows)", batch_id, t1 - t0,
                 t2 - t1, t3 - t2, t4 - t3, t5 - t4, partials.count,
                 "the driver" if partials.events is not None else "Spark", len(changed), snapshot.funnel.rows)
