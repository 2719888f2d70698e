"""The job on a Spark standalone master (`--master spark://...`), on the real stack."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from jobrun import Job, check_caught_up_and_exact, produce
from stackutil import StandaloneCluster

pytestmark = pytest.mark.stack


def test_job_on_a_standalone_spark_master(stack, tmp_path):
    """`--master spark://...`: executors in a worker JVM get the package through --py-files."""
    prefix = f"sa{uuid.uuid4().hex[:6]}-"
    config = dataclasses.replace(
        stack.config,
        hdfs=dataclasses.replace(stack.config.hdfs, base_path=f"/{prefix}ecommerce"),
        memory=dataclasses.replace(stack.config.memory, spark_driver="768m"),
    )
    cluster = StandaloneCluster(tmp_path)
    try:
        config = dataclasses.replace(config, spark=dataclasses.replace(config.spark, master=cluster.url))
        ledger = tmp_path / "events.parquet"
        p = produce(stack.home, config.kafka_bootstrap, prefix, ledger, 8_000, 0, 3)
        assert p.wait(120) == 0, p.stderr.read()
        with open(tmp_path / "spark.log", "w") as log:
            job = Job(config, prefix, log)
            try:
                job.wait_ready()
                check_caught_up_and_exact(config, [ledger])
            finally:
                job.kill()
        apps = list((tmp_path / "worker").glob("app-*/*/stderr"))
        assert apps, "no executor ran on the standalone worker"
    finally:
        cluster.close()
