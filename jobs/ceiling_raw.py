"""spark-submit entry of the benchmark's ceiling: what the engine alone sustains on this machine.

One Kafka read of the three topics, parsed once, valid events appended as raw Parquet with Spark's
file sink (partitioned by kind and event_date, as the contract's raw layout): no aggregates, no
snapshot, no manifest. The ecomdesk job cannot be faster than this with the same source and parse.
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline import job_args
from ecomdesk.pipeline.parse import parse_records, valid_events
from ecomdesk.pipeline.progress import ProgressListener

QUERY = "ceiling-raw"
RAW_DIR = "raw"


def main(argv: list[str]) -> int:
    args = job_args.parse_args(argv, __doc__)
    spark = SparkSession.builder.appName("ecomdesk-bench-ceiling").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.streams.addListener(ProgressListener())
    events = valid_events(parse_records(job_args.kafka_source(spark, args, list(C.TOPICS)), args.topic_prefix))
    query = (
        events.writeStream.queryName(QUERY).format("parquet")
        .partitionBy("kind", "event_date")
        .option("path", f"{args.base.rstrip('/')}/{RAW_DIR}")
        .option("checkpointLocation", job_args.checkpoint(args, QUERY))
        .trigger(processingTime=f"{args.trigger_seconds} seconds")
        .start()
    )
    query.awaitTermination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
