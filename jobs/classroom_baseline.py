"""spark-submit entry of the benchmark's baseline: the original classroom job's design.

Eight streaming queries, each with its own Kafka read and its own parse: three raw queries (one per
topic, valid events appended as Parquet by the file sink) and five aggregates in update mode whose
updated rows are appended to Parquet through foreachBatch (so a key updated twice is written twice:
the classroom job's double counting, kept because its cost is what is measured).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline import job_args, metrics
from ecomdesk.pipeline.parse import parse_records, valid_events
from ecomdesk.pipeline.progress import ProgressListener

# aggregate -> the one topic its events arrive on
AGGREGATE_TOPIC = {
    "sales_per_minute": "orders",
    "avg_ticket_per_user": "orders",
    "views_by_category": "page_views",
    "top_products": "page_views",
    "sales_by_product_per_minute": "orders",
}


def _append_to(path: str) -> Callable[[DataFrame, int], None]:
    def write(batch: DataFrame, _batch_id: int) -> None:
        batch.write.mode("append").parquet(path)
    return write


def main(argv: list[str]) -> int:
    args = job_args.parse_args(argv, __doc__)
    spark = SparkSession.builder.appName("ecomdesk-bench-classroom").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.streams.addListener(ProgressListener())
    base = args.base.rstrip("/")
    trigger = f"{args.trigger_seconds} seconds"

    def events(topic: str) -> DataFrame:
        return valid_events(parse_records(job_args.kafka_source(spark, args, [topic]), args.topic_prefix))

    for topic, kind in C.EVENT_TYPES.values():
        name = f"raw-{kind}"
        (events(topic).drop("kind").writeStream.queryName(name).format("parquet")
         .partitionBy("event_date").option("path", f"{base}/{kind}")
         .option("checkpointLocation", job_args.checkpoint(args, name))
         .trigger(processingTime=trigger).start())
    for name, topic in AGGREGATE_TOPIC.items():
        (metrics.metric(name, events(topic)).writeStream.queryName(name).outputMode("update")
         .foreachBatch(_append_to(f"{base}/{C.AGGREGATES_DIR}/{name}"))
         .option("checkpointLocation", job_args.checkpoint(args, name))
         .trigger(processingTime=trigger).start())
    spark.streams.awaitAnyTermination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
