"""spark-submit entry point of `ecomdesk rebuild`: every aggregate again from the raw events on HDFS.

Prints the new version's manifest name on stdout (one JSON line); logs go to stderr (`driver_log`).
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import SparkSession

from ecomdesk.data import contract as C
from ecomdesk.pipeline import driver_log
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.recompute import rebuild
from ecomdesk.pipeline.store import HadoopStore


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--base", required=True, help="output base URI, e.g. hdfs://127.0.0.1:9000/ecommerce")
    p.add_argument("--watermark-seconds", type=float, default=600.0)
    args = p.parse_args(argv)
    log = driver_log.configure()
    spark = SparkSession.builder.appName("ecomdesk-rebuild").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    committer = Committer(HadoopStore(spark, args.base), int(args.watermark_seconds * 1_000_000))
    try:
        manifest = rebuild(spark, committer)
    except RuntimeError as exc:
        print(f"rebuild: {exc}", file=log, flush=True)
        return 1
    finally:
        committer.cleaner.shutdown(wait=True)
    name = C.manifest_name(manifest["batch_id"], manifest["generation"])
    print(json.dumps({"manifest": name, "batch_id": manifest["batch_id"], "generation": manifest["generation"]}),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
