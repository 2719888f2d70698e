"""spark-submit entry point of the ecommerce streaming job (service `spark-job`).

One Kafka read of the three topics, parsed once; each micro-batch goes through
`ecomdesk.pipeline.batch.BatchProcessor`, which publishes raw events, quarantine and aggregate
snapshots under --base following `ecomdesk.data.contract`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline import kafka_source
from ecomdesk.pipeline.batch import BatchProcessor
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.progress import ProgressListener
from ecomdesk.pipeline.store import HadoopStore

QUERY = "ecommerce"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers host:port[,...]")
    p.add_argument("--base", required=True, help="output base URI, e.g. hdfs://127.0.0.1:9000/ecommerce")
    p.add_argument("--checkpoint", help=f"checkpoint URI (default <base>/{C.CHECKPOINT_DIR})")
    p.add_argument("--trigger-seconds", type=float, default=2.0)
    p.add_argument("--watermark-seconds", type=float, default=600.0)
    p.add_argument("--max-offsets-per-trigger", type=int, default=500_000)
    p.add_argument("--topic-prefix", default="", help="prefix of the three topic names (isolated runs)")
    kafka_source.add_arguments(p)
    return p.parse_args(argv)


def kafka_options(args: argparse.Namespace) -> dict[str, str]:
    """The source's security options; the JAAS line with the password is built here, in the driver."""
    protocol = args.kafka_security_protocol or "PLAINTEXT"
    sasl = protocol.startswith("SASL_")
    password = kafka_source.read_password(args.kafka_password_env, args.kafka_password_file) if sasl else ""
    return kafka_source.jvm_options(protocol, args.kafka_sasl_mechanism, args.kafka_username, password,
                                    args.kafka_ca_file)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    spark = SparkSession.builder.appName("ecomdesk-ecommerce-stream").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    delay_us = int(args.watermark_seconds * 1_000_000)
    committer = Committer(HadoopStore(spark, args.base), delay_us)
    snapshot = committer.load()
    committer.sweep()
    processor = BatchProcessor(committer, snapshot, delay_us, args.topic_prefix)

    def state() -> dict:
        s = processor.snapshot
        return {"state_rows": s.funnel.rows, "quarantined": s.quarantined,
                "watermark": committer.manifests[-1]["watermark"] if committer.manifests else None}

    spark.streams.addListener(ProgressListener(state))
    kafka = (
        spark.readStream.format("kafka")
        .options(**kafka_options(args))
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", ",".join(args.topic_prefix + t for t in C.TOPICS))
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
        .load()
    )
    query = (
        kafka.writeStream.queryName(QUERY)
        .foreachBatch(processor)
        .option("checkpointLocation", args.checkpoint or f"{args.base.rstrip('/')}/{C.CHECKPOINT_DIR}")
        .trigger(processingTime=f"{args.trigger_seconds} seconds")
        .start()
    )
    processor.query_id = str(query.id)
    logging.info("query %s started; resuming after committed batch %d", QUERY, snapshot.batch_id)
    query.awaitTermination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
