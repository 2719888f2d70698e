"""spark-submit entry point of the Spark driver's class-data training run (`ecomdesk setup`).

A few seconds of the streaming job's own work on generated records, so that its driver JVM loads the
classes a real start loads: the parse, the batch processor's Spark jobs, Arrow, Parquet and the
commit, written to a local directory instead of HDFS and fed by Spark's rate source instead of Kafka.
The JVM writes the classes it loaded at its exit (-XX:ArchiveClassesAtExit, see
ecomdesk.stack.install.cds); nothing of the run is kept.
"""

from __future__ import annotations

import argparse
import sys
import time

from pyspark.sql import SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline.batch import BatchProcessor
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.parse import parse_records
from ecomdesk.pipeline.store import HadoopStore

BATCHES = 2


def kafka_like(spark, rows_per_second: int):
    """Rate-source rows shaped like the Kafka source's: valid events of the three kinds on their topics,
    and every seventh record malformed (so the quarantine's path runs too)."""
    kinds = list(C.EVENT_TYPES)
    topics = ", ".join(f"'{C.EVENT_TYPES[k][0]}'" for k in kinds)
    names = ", ".join(f"'{k}'" for k in kinds)
    event = ("format_string('{\"user_id\":\"u%d\",\"product_id\":\"p%d\",\"category\":\"c%d\",\"event_type\":\"%s\","
             "\"price\":\"%d.5\",\"timestamp\":\"%s\"}', value % 50, value % 20, value % 4, "
             f"element_at(array({names}), kind), value % 90, date_format(timestamp, \"yyyy-MM-dd'T'HH:mm:ss\"))")
    return (spark.readStream.format("rate").option("rowsPerSecond", rows_per_second).load()
            .selectExpr("*", f"CAST(value % {len(kinds)} AS INT) + 1 AS kind")
            .selectExpr(f"CAST(IF(value % 7 = 0, '{{broken', {event}) AS BINARY) AS value",
                        f"element_at(array({topics}), kind) AS topic", "CAST(value % 3 AS INT) AS partition",
                        "value AS offset", "timestamp"))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--base", required=True, help="a local directory's file:// URI, for the run's output")
    args = p.parse_args(argv)
    spark = SparkSession.builder.appName("ecomdesk-class-training").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    delay_us = 600_000_000
    committer = Committer(HadoopStore(spark, args.base), delay_us)
    processor = BatchProcessor(committer, committer.load(), delay_us)
    query = (parse_records(kafka_like(spark, 2_000)).writeStream.foreachBatch(processor)
             .option("checkpointLocation", f"{args.base}/{C.CHECKPOINT_DIR}")
             .trigger(processingTime="1 second").start())
    deadline = time.monotonic() + 120
    while query.isActive and processor.snapshot.batch_id < BATCHES and time.monotonic() < deadline:
        time.sleep(0.2)
    query.stop()
    spark.stop()
    if processor.snapshot.batch_id < BATCHES:
        print(f"training: {processor.snapshot.batch_id} of {BATCHES} batches in 120 s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
