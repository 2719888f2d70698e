"""Recomputing every aggregate from the raw events kept on HDFS, into a new version of the contract.

The raw valid events and quarantined records of the committed batches go through the job's own
partials (`batch.collect_partials`) and merge, from an empty snapshot, as one batch. The result is
published as a new generation of the current batch (`v<batch>-g<n>.json`, with files of its own
names), so readers switch to it atomically when its manifest appears, the old version stays until
then, and the stream, restarted, continues from it.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecomdesk.data import contract as C
from ecomdesk.pipeline.batch import collect_partials
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.snapshot import Snapshot, merge


def _committed(spark: SparkSession, committer: Committer, directory: str, up_to: int) -> DataFrame | None:
    if not committer.store.exists(directory):
        return None
    df = spark.read.option("basePath", committer.store.uri(directory)).parquet(committer.store.uri(directory))
    return df.where(F.col("batch_id") <= up_to)


def rebuild(spark: SparkSession, committer: Committer) -> dict:
    """Publish the rebuilt version of the last committed batch; returns its manifest."""
    current = committer.load()
    if committer.committed < 0:
        raise RuntimeError("nothing is committed yet: there is nothing to rebuild")
    n = current.batch_id
    names = list(C.EVENT_SCHEMA.names)
    parts = [df.select(*names) for d in C.RAW_DIRS if (df := _committed(spark, committer, d, n)) is not None]
    if not parts:
        raise RuntimeError("no raw events are kept on HDFS: there is nothing to rebuild from")
    events = parts[0]
    for df in parts[1:]:
        events = events.unionByName(df)
    rejected = _committed(spark, committer, C.QUARANTINE_DIR, n)
    if rejected is None:
        rejected = spark.createDataFrame([], "reason string")
    partials = collect_partials(events, rejected.select("reason"))
    snapshot, _ = merge(Snapshot(), n, partials, committer.delay_us)
    # the funnel state is the stream's, derived again from the same raw events at the next start
    snapshot = replace(snapshot, funnel=current.funnel, funnel_batches=current.funnel_batches)
    changed = {(name, part) for name, tables in snapshot.tables.items() for part in tables}
    generation = committer.manifests[-1].get("generation", 0) + 1
    return committer.publish(snapshot, changed, f"rebuild-{uuid.uuid4()}", generation, inherit=False)
