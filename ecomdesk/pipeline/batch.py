"""One micro-batch, end to end: Spark's work, the pending record, then the publish behind the next batch.

Used as the `foreachBatch` function of the parsed stream. The job's path is the one pass
(`one_pass.OnePass`): the batch's one Spark job writes its valid events into staging while each task
computes its partial aggregates, which the driver takes from an accumulator. The earlier path (`--partials
union`, the benchmark's baseline) materializes the batch's parsed records first (`materialize`, a Spark job
of its own), then runs the raw events write and one job that brings every partial aggregate home at once
(`collect_union`, which `ecomdesk rebuild` also uses on the raw events); the quarantine write is one more,
run only when the partials count rejected records.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame

from ecomdesk.data.contract import QUARANTINE_COUNTS
from ecomdesk.pipeline import metrics
from ecomdesk.pipeline.commit import Committer, staging_dir
from ecomdesk.pipeline.one_pass import FUNNEL as _FUNNEL
from ecomdesk.pipeline.one_pass import MEMBERS_KEY as _MEMBERS
from ecomdesk.pipeline.one_pass import REJECTED as _REJECTED
from ecomdesk.pipeline.one_pass import TAG as _TAG
from ecomdesk.pipeline.one_pass import TOTALS as _TOTALS
from ecomdesk.pipeline.one_pass import OnePass, funnel_columns
from ecomdesk.pipeline.parse import quarantined, valid_events
from ecomdesk.pipeline.progress import SparkWork
from ecomdesk.pipeline.snapshot import BatchPartials, Snapshot, merge, utc
from ecomdesk.pipeline.sql import run

log = logging.getLogger(__name__)

_EVENTS = "_events"
_SUCCESS_MARKER = "mapreduce.fileoutputcommitter.marksuccessfuljobs"  # a write option: Hadoop's setting
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
    return funnel_columns(events).to_pandas().astype({"partition": "int64"})


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


_QUERY = b"ecomdesk.query_id"  # in a pending record's schema metadata: the query whose batch it is


def collect_union(events: DataFrame, rejected: DataFrame, with_events: bool = False) -> pa.Table:
    """Every partial aggregate of one batch, in one Spark job: their rows unioned into one wide table
    tagged with the partial's name (one SQL statement) and collected as Arrow, each member's columns in
    its schema's metadata (`split` takes it apart). With `with_events`, the batch's valid events come
    along, so that a small batch needs no second job to write them.

    The (small) input is seen as one partition, which already satisfies every grouping, so Spark
    plans no shuffle: one stage, and (the union of single-partition branches keeps their
    partitioning) one task that runs every partial over the whole batch; eight tasks instead
    (`spark.sql.unionOutputPartitioning` off) were no faster, even for 85k records.
    """
    events, rejected = events.coalesce(1), rejected.coalesce(1)
    sql, columns = _union(events, rejected, with_events)
    table = run(sql, events=events, rejected=rejected).toArrow()
    return table.replace_schema_metadata({_MEMBERS: json.dumps(columns)})


def split(table: pa.Table) -> BatchPartials:
    """The partials of a `collect_union` or `OnePass.take` table (`BatchPartials.events`: the valid events,
    when they came; `rejected`: the rejected records, when they came). A one-pass table has a totals row
    per task."""
    columns = json.loads(table.schema.metadata[_MEMBERS])
    parts = {name: table.filter(pc.equal(table[_TAG], name)).select(cols) for name, cols in columns.items()}
    totals = parts.pop(_TOTALS)
    max_us, count = pc.max(totals["max_event_us"]).as_py(), pc.sum(totals["events"]).as_py() or 0
    rows, rejected = parts.pop(_EVENTS, None), parts.pop(_REJECTED, None)
    funnel = parts.pop(_FUNNEL).to_pandas().astype({"partition": "int64"}) if rows is None else funnel_events(rows)
    tables = {name: _pandas(t) for name, t in parts.items()}
    return BatchPartials(tables, funnel, None if max_us is None else int(max_us), int(count), rows, rejected)


def collect_partials(events: DataFrame, rejected: DataFrame, with_events: bool = False) -> BatchPartials:
    """Every partial aggregate of one batch, collected to the driver (`collect_union`, `split`)."""
    return split(collect_union(events, rejected, with_events))


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


class JobCounter:
    """The Spark jobs started since the last count. Job ids count up by one per job, so it looks up the
    next ids one at a time in the status tracker, where listing a job group's ids scans every retained
    job (64 ms a call at 300 jobs, and Spark retains 1,000). A job whose start the status store has not
    taken in yet is counted with the next batch."""

    def __init__(self, sc):
        self.tracker, self.next = sc.statusTracker(), 0

    def count(self) -> SparkWork:
        """The jobs started since the last count, and their stages' tasks."""
        first, tasks = self.next, 0
        while (job := self.tracker.getJobInfo(self.next)) is not None:
            tasks += sum(stage.numTasks for s in job.stageIds if (stage := self.tracker.getStageInfo(s)) is not None)
            self.next += 1
        return SparkWork(self.next - first, tasks)


def _ms(**seconds: float) -> dict[str, int]:
    return {step: round(s * 1000) for step, s in seconds.items()}


class BatchProcessor:
    """The foreachBatch function; keeps the current snapshot in driver memory between batches.

    With `one_pass`, the batch's valid events (`OnePass.events`) are what Spark writes, and the tasks'
    tables come home through the accumulator (one Spark job). Without (the earlier path), the batch's
    parsed records are materialized, which counts them; a batch of at most `driver_rows` records then
    takes one more Spark job: its events come home with the partials and the driver writes them, where
    Spark's writer costs a second job. A larger batch's events are written by Spark while the partials
    are collected.

    The driver's merge and publish are off the batch's critical path: the batch ends once its
    pending record (the partials' table, `Committer.write_pending`) is durable, and its publish runs
    while Spark works on the next batch, which waits for it before handing over its own (one publish
    at a time, in batch order). Spark commits a batch when this function returns, so a crash between
    that commit and the manifest leaves a pending record, which the next start publishes (`recover`)
    before Spark replays anything: every batch is published exactly once. `behind=False` publishes
    before returning (the earlier design, kept as the benchmark's baseline).
    """

    def __init__(self, committer: Committer, snapshot: Snapshot, delay_us: int, driver_rows: int = 20_000,
                 behind: bool = True, one_pass: OnePass | None = None):
        self.committer, self.snapshot, self.delay_us = committer, snapshot, delay_us
        self.driver_rows, self.behind, self.one_pass = driver_rows, behind, one_pass
        self.query_id: str | None = None
        self.accepted = snapshot.batch_id  # the newest batch whose pending record is durable
        self.timings: dict[int, dict[str, int]] = {}  # batch id -> its steps in ms, until reported
        self.published_ms: dict[str, int] = {}  # the newest publish's steps
        self.spark_work: dict[int, SparkWork] = {}  # batch id -> what Spark ran for it, until reported
        self.jobs: JobCounter | None = None  # made with the first batch's SparkContext
        self.staged = False  # whether the current batch's staging directory was emptied of older attempts
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")
        self.publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")
        self.publish_io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="publish-io")
        self.publishing: Future | None = None
        self.on_failure: Callable[[BaseException], None] = lambda exc: None  # the job stops its query

    def _fresh(self, staging: str) -> None:
        """Empty the batch's staging directory once, before its first write (an earlier attempt may have
        left files in it)."""
        if not self.staged:
            self.committer.store.delete(staging)
            self.staged = True

    def _stage(self, write, path: str, staging: str):
        """Start one of Spark's writes into the batch's staging directory."""
        self._fresh(staging)
        return self.pool.submit(write, self.committer.store.uri(f"{staging}/{path}"))

    def recover(self) -> list[int]:
        """Publish, oldest first, the batches whose pending record a crash left unpublished (Spark may
        have committed them: it will not give them again). Called before the query starts."""
        done = []
        for batch_id, staging, table in self.committer.pending():
            self._publish(batch_id, staging, table)
            self.accepted = batch_id
            done.append(batch_id)
        return done

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        """Process one batch of parsed records (`parse.parse_records`)."""
        if batch_id <= self.accepted:
            log.warning("batch %d was already committed (manifest or pending record exists): skipping its replay",
                        batch_id)
            return
        t0 = time.monotonic()
        staging, self.staged = staging_dir(batch_id), False
        jobs = self.jobs = self.jobs or JobCounter(records.sparkSession.sparkContext)
        jobs.count()  # any job before this batch is not its own
        if self.one_pass is not None:
            table, count, t1 = self._one_pass(self.one_pass, records, staging)
        else:
            table, count, t1 = self._materialized(records, staging)
        t2 = time.monotonic()
        self._fresh(staging)
        table = table.replace_schema_metadata({**table.schema.metadata, _QUERY: self.query_id or ""})
        self.committer.write_pending(staging, table)
        t3 = time.monotonic()
        self.flush()  # the previous batch's publish: its failure fails this batch, which a restart replays
        t4 = time.monotonic()
        self.accepted = batch_id
        self.timings = {b: t for b, t in self.timings.items() if b > batch_id - 10}
        self.timings[batch_id] = _ms(partials=t1 - t0, writes=t2 - t1, pending=t3 - t2, wait=t4 - t3)
        self.spark_work = {b: n for b, n in self.spark_work.items() if b > batch_id - 10}
        self.spark_work[batch_id] = jobs.count()
        log.info("batch %d: partials %.2f s, writes +%.2f s, pending record %.2f s, waited %.2f s for the publish "
                 "of the batch before (%d records, %d Spark jobs of %d tasks)", batch_id, t1 - t0, t2 - t1,
                 t3 - t2, t4 - t3, count, *self.spark_work[batch_id])
        self.publishing = self.publisher.submit(self._publish, batch_id, staging, table)
        self.publishing.add_done_callback(self._failed)
        if not self.behind:
            self.flush()

    def _one_pass(self, one_pass: OnePass, records: DataFrame, staging: str) -> tuple[pa.Table, int, float]:
        """The batch's one Spark job: Spark writes its valid events into staging while every task adds its
        partials, rejected records and funnel columns to the accumulator (`OnePass`)."""
        one_pass.reset()  # what a failed attempt of this batch's job added
        self._fresh(staging)
        events = one_pass.events(records)
        # no _SUCCESS marker: the pending record, written next, is what tells a whole batch
        events.write.partitionBy("kind", "event_date").option(_SUCCESS_MARKER, "false").parquet(
            self.committer.store.uri(f"{staging}/events"))
        table = one_pass.take()
        t1 = time.monotonic()
        tags = table[_TAG]
        totals = table.filter(pc.equal(tags, _TOTALS))
        return table, int(pc.sum(totals["events"]).as_py() or 0) + int(pc.sum(pc.equal(tags, _REJECTED)).as_py()), t1

    def _materialized(self, records: DataFrame, staging: str) -> tuple[pa.Table, int, float]:
        """The batch's parsed records in a local checkpoint, which the union of the partials' statements
        (and Spark's write of a large batch's events) read: two Spark jobs or more."""
        cores = records.sparkSession.sparkContext.defaultParallelism
        parsed, count = materialize(records.coalesce(cores))
        try:
            events, rejected = valid_events(parsed), quarantined(parsed)
            large = count > self.driver_rows
            write = self._stage(events.write.partitionBy("kind", "event_date").parquet, "events",
                                staging) if large else None
            table = collect_union(events, rejected, with_events=not large)
            t1 = time.monotonic()
            if pc.any(pc.equal(table[_TAG], QUARANTINE_COUNTS)).as_py():
                self._stage(rejected.write.partitionBy("ingest_date").parquet, "quarantine", staging).result()
            if write is not None:
                write.result()
        finally:
            release(parsed)
        return table, count, t1

    def _publish(self, batch_id: int, staging: str, table: pa.Table) -> None:
        """Merge a batch's partials into the snapshot and publish it: its raw files first (the driver's
        writes and the moves of Spark's go on while the driver merges), then the manifest."""
        t0 = time.monotonic()
        partials = split(table)
        io = [self.publish_io.submit(self.committer.write_events, batch_id, partials.events)
              if partials.events is not None else None,
              self.publish_io.submit(self.committer.write_quarantine, batch_id, partials.rejected)
              if partials.rejected is not None else None,
              self.publish_io.submit(self.committer.move_staged, batch_id, staging)]
        snapshot, changed = merge(self.snapshot, batch_id, partials, self.delay_us)
        t1 = time.monotonic()
        for f in io:
            if f is not None:
                f.result()
        t2 = time.monotonic()
        self.committer.publish(snapshot, changed, str(table.schema.metadata.get(_QUERY, b""), "utf-8") or None)
        self.snapshot = snapshot
        self.committer.store.delete(staging)  # and with it the pending record
        t3 = time.monotonic()
        self.published_ms = _ms(merge=t1 - t0, move=t2 - t1, publish=t3 - t2)
        log.info("batch %d published: merge %.2f s, moves +%.2f s, manifest %.2f s (%d events, written by %s; "
                 "%d changed parts, %d funnel state rows)", batch_id, t1 - t0, t2 - t1, t3 - t2, partials.count,
                 "the driver" if partials.events is not None else "Spark", len(changed), snapshot.funnel.rows)

    def _failed(self, future: Future) -> None:
        if (exc := future.exception()) is not None:
            log.error("publishing a batch failed (its pending record stays for the next start): %s", exc)
            threading.Thread(target=self.on_failure, args=(exc,), name="publish-failed", daemon=True).start()

    def flush(self) -> None:
        """Wait for the pending publish; re-raises its failure."""
        future, self.publishing = self.publishing, None
        if future is not None:
            future.result()

    def steps_ms(self, batch_id: int) -> dict[str, int]:
        """Batch `batch_id`'s steps up to its pending record, and the newest publish's (usually the batch
        before's, which ran beside this one's Spark work), in ms."""
        return {**self.timings.pop(batch_id, {}), **self.published_ms}
