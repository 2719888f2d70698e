"""The command line every streaming job takes (the app's job and the benchmark's two others)."""

from __future__ import annotations

import argparse

from ecomdesk import kafka_security
from ecomdesk.data import contract as C
from ecomdesk.pipeline.kafka_source import jvm_options

# A batch of at most this many Kafka records runs in one task per core rather than one per Kafka partition
# (docs/BENCHMARKS.md, "Small batches in one task per core"): fewer tasks, files and commits cut its fixed cost,
# while a large batch needs every partition's task to keep the cores busy when partitions differ in size.
SMALL_BATCH = 10_000
WATERMARK_SECONDS = 600.0  # how far behind the newest event an event may come and still reach the kept state


def parse_args(argv: list[str], description: str | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers host:port[,...]")
    p.add_argument("--base", required=True, help="output base URI, e.g. hdfs://127.0.0.1:9000/ecommerce")
    p.add_argument("--checkpoint", help=f"checkpoint URI (default <base>/{C.CHECKPOINT_DIR})")
    p.add_argument("--trigger-seconds", type=float, default=2.0)
    p.add_argument("--watermark-seconds", type=float, default=WATERMARK_SECONDS)
    p.add_argument("--max-offsets-per-trigger", type=int, default=500_000)
    p.add_argument("--driver-rows", type=int, default=20_000,
                   help="batches of at most this many records are written by the driver (no Spark write job)")
    p.add_argument("--publish", choices=("behind", "inline"), default="behind",
                   help="publish a batch while Spark works on the next (behind), or before it ends (inline: "
                        "the earlier design, a benchmark's baseline)")
    p.add_argument("--partials", choices=("one-pass", "union"), default="one-pass",
                   help="each task computes its partials in Arrow within the raw write's Spark job (one-pass), "
                        "or one SQL union of them reads a local checkpoint of the batch (union: the earlier "
                        "design, a benchmark's baseline)")
    p.add_argument("--small-batch", type=int, default=SMALL_BATCH,
                   help="one pass: a batch of at most this many Kafka records runs in one task per core, a larger "
                        "one in one task per Kafka partition (0: always one per partition, a benchmark's baseline)")
    p.add_argument("--topic-prefix", default="", help="prefix of the three topic names (isolated runs)")
    kafka_security.add_arguments(p)
    return p.parse_args(argv)


def checkpoint(args: argparse.Namespace, name: str = "") -> str:
    """The checkpoint directory of one query of the job."""
    root = args.checkpoint or f"{args.base.rstrip('/')}/{C.CHECKPOINT_DIR}"
    return f"{root}/{name}" if name else root


def security_options(args: argparse.Namespace) -> dict[str, str]:
    """The source's security options; the JAAS line with the password is built here, in the driver."""
    protocol = args.kafka_security_protocol or "PLAINTEXT"
    password = (kafka_security.read_password(args.kafka_password_env, args.kafka_password_file)
                if protocol.startswith("SASL_") else "")
    return jvm_options(protocol, args.kafka_sasl_mechanism, args.kafka_username, password,
                                args.kafka_ca_file)


# The broker holds a fetch that finds no more data than fetch.min.bytes for up to fetch.max.wait.ms
# (500 ms by default), and a batch's consumer ends its offset range with such a fetch: a batch of a few
# records spent ~0.5 s waiting on it (Spark's consumer logs it too: "read 1 records, taking 504554479
# nanos"). The source reads fixed offset ranges, so a short wait costs no extra round trips.
FETCH_MAX_WAIT_MS = 10


def kafka_source(spark, args: argparse.Namespace, topics: list[str]):
    """A streaming DataFrame of the given topics (names without the prefix), from the earliest offset."""
    return (
        spark.readStream.format("kafka")
        .options(**security_options(args))
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", ",".join(args.topic_prefix + t for t in topics))
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")
        .option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
        .option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
        .load()
    )
