"""One pass over a batch: each task computes its records' partial aggregates in Arrow, where the records are.

A batch's parsed records (`parse.parse_records`, in the streaming plan, so analysed once for the query)
go through `partials_task` in every task (`mapInArrow`, `OnePass.events`). A task passes its valid
events on, with `kind` and `event_date`, to Spark's raw write, the batch's one Spark job; and it adds to an accumulator
what the driver needs of it, bounded by the keys but for the funnel's columns: its partial
aggregates (the statements of `metrics.SQL`, computed by `members`), its quarantine counts and
rejected records, its totals and the funnel's columns of its events. The driver takes the batch's
tables in the same tagged, wide layout as `batch.collect_union` (`take`), so the pending record,
`batch.split` and the merge are the same for both. A task's rows are partial: keys repeat across
tasks, and the merge sums them. Spark merges a result task's accumulator update once, from its first
successful attempt (a failed or speculative attempt adds nothing), so every record counts once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from py4j.protocol import Py4JError
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame

from ecomdesk.data.contract import EVENT_SCHEMA, EVENT_TYPES, QUARANTINE_COUNTS, QUARANTINE_SCHEMA
from ecomdesk.pipeline.job_args import SMALL_BATCH

log = logging.getLogger(__name__)

TAG, MEMBERS_KEY = "_partial", b"ecomdesk.members"  # the layout of batch.collect_union's table
TOTALS, FUNNEL, REJECTED = "_totals", "_funnel_events", "_rejected"
_MINUTE_US = 60_000_000
VALID_SCHEMA = pa.schema([*EVENT_SCHEMA, ("kind", pa.string()), ("event_date", pa.string())])
_SQL_TYPES = {pa.string(): "STRING", pa.float64(): "DOUBLE", pa.int32(): "INT", pa.int64(): "BIGINT",
              pa.timestamp("us", tz="UTC"): "TIMESTAMP"}
VALID_DDL = ", ".join(f"`{f.name}` {_SQL_TYPES[f.type]}" for f in VALID_SCHEMA)  # for Spark
REJECTED_SCHEMA = pa.schema([*QUARANTINE_SCHEMA, ("ingest_date", pa.string())])
_EVENT_TYPES = pa.array(list(EVENT_TYPES), pa.string())  # a valid event's type is one of these
_KIND_VALUES = pa.array([kind for _, kind in EVENT_TYPES.values()], pa.string())  # its raw directory


def _grouped(table: pa.Table, keys: list[str], sums: dict[str, str], count: str) -> pa.Table:
    """Rows of `table` grouped by `keys`: `count` is their number, sums[name] the sum of a column."""
    out = table.group_by(keys, use_threads=False).aggregate(
        [([], "count_all"), *[(column, "sum") for column in sums.values()]])
    renamed = {"count_all": count, **{f"{column}_sum": name for name, column in sums.items()}}
    return out.rename_columns([renamed.get(c, c) for c in out.column_names])


def _windowed(table: pa.Table) -> pa.Table:
    """`table` with its event's 1-minute window (window_start, window_end), as Spark's window() gives it."""
    us = pc.cast(table["event_time"], pa.int64())
    start = pc.multiply(pc.divide(us, _MINUTE_US), _MINUTE_US)  # µs since the epoch: positive, so a floor
    ts = pa.timestamp("us", tz="UTC")
    return table.append_column("window_start", start.cast(ts)).append_column(
        "window_end", pc.add(start, _MINUTE_US).cast(ts))


def members(valid: pa.Table, rejected: pa.Table) -> dict[str, pa.Table]:
    """The additive partials of `metrics.SQL`, the quarantine counts and the totals of one task's valid
    events (EVENT_SCHEMA columns) and rejected records (with `reason`), in the columns the SQL gives."""
    purchases = _windowed(valid.filter(pc.equal(valid["event_type"], "purchase")))
    views = valid.filter(pc.equal(valid["event_type"], "page_view"))
    per_minute = _grouped(purchases, ["window_start", "window_end"], {"total_sales": "price"}, "total_orders")
    per_user = _grouped(purchases, ["user_id"], {"total_spent": "price"}, "orders")
    per_user = per_user.append_column("avg_ticket", pc.divide(per_user["total_spent"], per_user["orders"]))
    max_us = pc.max(pc.cast(valid["event_time"], pa.int64()))
    return {
        "sales_per_minute": per_minute.select(["window_start", "window_end", "total_sales", "total_orders"]),
        "avg_ticket_per_user": per_user.select(["user_id", "avg_ticket", "orders", "total_spent"]),
        "views_by_category": _grouped(views, ["category"], {}, "views"),
        "top_products": _grouped(views, ["product_id"], {}, "views"),
        "sales_by_product_per_minute": _grouped(purchases, ["product_id", "window_start", "window_end"],
                                                {"revenue": "price"}, "orders").select(
            ["product_id", "window_start", "window_end", "orders", "revenue"]),
        QUARANTINE_COUNTS: _grouped(rejected, ["reason"], {}, "count"),
        TOTALS: pa.table({"max_event_us": pa.array([max_us.as_py()], pa.int64()),
                          "events": pa.array([len(valid)], pa.int64())}),
    }


def funnel_columns(valid: pa.Table) -> pa.Table:
    """The funnel's columns (funnel.EVENT_COLUMNS, as metrics.FUNNEL_EVENTS_SQL gives them)."""
    return pa.table({"user_id": valid["user_id"], "product_id": valid["product_id"],
                     "event_type": valid["event_type"], "event_us": pc.cast(valid["event_time"], pa.int64()),
                     "topic": valid["topic"], "partition": valid["partition"], "offset": valid["offset"]})


def _split_records(records: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A task's parsed records as (valid events in VALID_SCHEMA, rejected records in REJECTED_SCHEMA)."""
    ok = pc.is_null(records["reason"])
    valid = records.filter(ok)
    kinds = pc.take(_KIND_VALUES, pc.index_in(valid["event_type"], value_set=_EVENT_TYPES))
    valid = valid.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA).append_column("kind", kinds).append_column(
        "event_date", pc.strftime(valid["event_time"], "%Y-%m-%d"))
    rejected = records.filter(pc.invert(ok))
    rejected = rejected.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA).append_column(
        "ingest_date", pc.strftime(rejected["kafka_timestamp"], "%Y-%m-%d"))
    return valid, rejected


def tagged(tables: dict[str, pa.Table]) -> pa.Table:
    """Member tables as one wide table tagged with their names, each member's columns in the schema's
    metadata: the layout `batch.split` takes apart."""
    parts = [t.append_column(TAG, pa.array([name] * len(t), pa.string())) for name, t in tables.items()]
    wide = pa.concat_tables(parts, promote_options="permissive")
    columns = {name: t.column_names for name, t in tables.items()}
    return wide.replace_schema_metadata({MEMBERS_KEY: json.dumps(columns)})


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def partials_task(batches: Iterator[pa.RecordBatch], sink) -> Iterator[pa.RecordBatch]:
    """One task of the pass: its valid events go on (VALID_SCHEMA), its tables to `sink` (an accumulator)."""
    records = pa.Table.from_batches(list(batches))
    if records.num_rows == 0:
        return
    valid, rejected = _split_records(records)
    tables = {**members(valid, rejected), FUNNEL: funnel_columns(valid)}
    if rejected.num_rows:
        tables[REJECTED] = rejected
    sink.add([_ipc(tagged(tables))])
    yield from valid.to_batches()


class _Tables(AccumulatorParam):
    """An accumulator of Arrow IPC streams, one per task."""

    def zero(self, value):
        return []

    def addInPlace(self, value1, value2):
        value1.extend(value2)
        return value1


def kafka_records(batch: DataFrame) -> int | None:
    """The Kafka records a foreachBatch frame reads: the sizes of the offset ranges its Spark partitions
    hold (foreachBatch hands over the batch's planned RDD as one LogicalRDD, whose lineage ends in the Kafka
    source's partitions). None when the frame has no such lineage (a batch DataFrame) or Spark's
    internals differ: the caller then takes a partition's task for each Kafka partition."""
    try:
        rdd = batch._jdf.queryExecution().analyzed().rdd()
        while not rdd.dependencies().isEmpty():
            rdd = rdd.dependencies().head().rdd()
        total = 0
        for partition in rdd.partitions():  # DataSourceRDDPartition: an Option of the source's partition
            if not (source := partition.inputPartition()).isEmpty():
                total += int(source.get().offsetRange().size())
        return total
    except Py4JError as exc:
        log.debug("no Kafka offset ranges in the batch's plan: %s", exc)
        return None


class OnePass:
    """The driver's end of the pass: it maps the parsed stream and takes each batch's tables."""

    def __init__(self, sink, small_batch: int = SMALL_BATCH) -> None:
        self.sink, self.small_batch = sink, small_batch

    @classmethod
    def on(cls, spark, small_batch: int = SMALL_BATCH) -> OnePass:
        """The pass of a Spark session, with an accumulator of its own."""
        return cls(spark.sparkContext.accumulator([], _Tables()), small_batch)

    def events(self, records: DataFrame) -> DataFrame:
        """The valid events of a batch's parsed records (VALID_SCHEMA), each task's tables added to the
        accumulator. A batch of at most `small_batch` Kafka records is coalesced to one task per core before
        the pass (narrow: the Kafka reads and the parse run in those tasks too), so that it makes one Python
        call, one file per kind and one task commit per core; a larger one keeps one task per Kafka
        partition, as the ceiling reads them: fewer tasks for every batch left a core idle whenever the page
        views' large partitions fell unevenly (docs/BENCHMARKS.md). The step is planned in each batch, over
        the batch's planned records (one node, no SQL)."""
        n = kafka_records(records)
        if n is not None and n <= self.small_batch:
            records = records.coalesce(records.sparkSession.sparkContext.defaultParallelism)
        sink = self.sink
        return records.mapInArrow(lambda batches: partials_task(batches, sink), VALID_DDL)

    def reset(self) -> None:
        self.sink.value = []

    def take(self) -> pa.Table:
        """The tables the tasks since the last take (or reset) added, as one tagged table."""
        streams, self.sink.value = self.sink.value, []
        tables = [pa.ipc.open_stream(pa.py_buffer(s)).read_all() for s in streams]
        if not tables:  # no task had a record
            empty = VALID_SCHEMA.empty_table()
            return tagged({**members(empty, REJECTED_SCHEMA.empty_table()), FUNNEL: funnel_columns(empty)})
        columns: dict[str, list[str]] = {}
        for t in tables:
            columns |= json.loads(t.schema.metadata[MEMBERS_KEY])
        wide = pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="permissive")
        return wide.replace_schema_metadata({MEMBERS_KEY: json.dumps(columns)})
