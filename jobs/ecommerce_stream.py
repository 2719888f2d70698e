"""spark-submit entry point of the ecommerce streaming job (service `spark-job`).

One Kafka read of the three topics, parsed in the streaming plan (analysed once for the query);
each micro-batch of parsed records goes through
`ecomdesk.pipeline.batch.BatchProcessor`, which publishes raw events, quarantine and aggregate
snapshots under --base following `ecomdesk.data.contract`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from pyspark.sql import SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline import driver_log, job_args
from ecomdesk.pipeline.batch import BatchProcessor
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.one_pass import OnePass
from ecomdesk.pipeline.parse import parse_records
from ecomdesk.pipeline.progress import ProgressListener
from ecomdesk.pipeline.store import HadoopStore

QUERY = "ecommerce"
HOLD_PUBLISH = "ECOMDESK_FAULT_HOLD_PUBLISH"  # fault injection: batches end with their pending record only


def main(argv: list[str]) -> int:
    args = job_args.parse_args(argv, __doc__)
    driver_log.configure()
    logging.getLogger("py4j").setLevel(logging.WARNING)  # two lines a batch from foreachBatch's callbacks
    t0 = time.monotonic()
    spark = SparkSession.builder.appName("ecomdesk-ecommerce-stream").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # every batch frees its local checkpoint (batch.release), and Spark warns each time that the freed
    # blocks cannot be recomputed: true, and nothing reads them again
    log4j = spark.sparkContext._jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel("org.apache.spark.rdd.MapPartitionsRDD", log4j.Level.ERROR)
    # Adaptive execution made each partial's scan of the batch's cache a query stage of its own: ten
    # Spark jobs per batch where the plan (no shuffle, see batch.collect_partials) needs one.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    delay_us = int(args.watermark_seconds * 1_000_000)
    t1 = time.monotonic()
    committer = Committer(HadoopStore(spark, args.base), delay_us)
    snapshot = committer.load()
    t2 = time.monotonic()
    one_pass = OnePass.on(spark, args.small_batch) if args.partials == "one-pass" else None
    processor = BatchProcessor(committer, snapshot, delay_us, args.driver_rows, behind=args.publish == "behind",
                               one_pass=one_pass)
    if recovered := processor.recover():
        logging.info("published batches %s from the pending records a crash left", recovered)
    if os.environ.get(HOLD_PUBLISH):
        logging.warning("%s is set: no batch will be published (a crash test's fault)", HOLD_PUBLISH)
        processor.publisher.submit(threading.Event().wait)  # the one publish thread, busy for good
    committer.sweep()
    t3 = time.monotonic()

    def state(batch_id: int) -> dict:
        s = processor.snapshot
        return {"state_rows": s.funnel.rows, "state_bytes": s.funnel.nbytes, "key_codes": s.funnel.codes.size,
                "quarantined": s.quarantined,
                "watermark": committer.manifests[-1]["watermark"] if committer.manifests else None,
                "spark_work": processor.spark_work.pop(batch_id, None), "job_ms": processor.steps_ms(batch_id)}

    spark.streams.addListener(ProgressListener(state))
    records = parse_records(job_args.kafka_source(spark, args, list(C.TOPICS)), args.topic_prefix)
    query = (
        records.writeStream.queryName(QUERY)
        .foreachBatch(processor)
        .option("checkpointLocation", job_args.checkpoint(args))
        .trigger(processingTime=f"{args.trigger_seconds} seconds")
        .start()
    )
    processor.query_id = str(query.id)
    processor.on_failure = lambda exc: query.stop()  # a failed publish ends the job (flush re-raises it)
    logging.info("query %s started; resuming after committed batch %d (session %.2f s, snapshot %.2f s with %d "
                 "funnel state rows, recovery and sweep %.2f s, query start %.2f s)", QUERY, processor.accepted,
                 t1 - t0, t2 - t1, snapshot.funnel.rows, t3 - t2, time.monotonic() - t3)
    query.awaitTermination()
    processor.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
