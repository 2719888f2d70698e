"""End to end on the real stack: producer (with ledger and invalid events) -> Kafka -> spark-submit
job -> HDFS, compared with the ledger in pandas; the job is SIGKILLed twice mid-stream."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from jobrun import Job, check_caught_up_and_exact, produce

pytestmark = pytest.mark.stack


def test_end_to_end_with_two_sigkills(stack, tmp_path):
    prefix = f"e2e{uuid.uuid4().hex[:6]}-"
    config = dataclasses.replace(stack.config, hdfs=dataclasses.replace(stack.config.hdfs,
                                                                           base_path=f"/{prefix}ecommerce"))
    ledgers = [tmp_path / "before.parquet", tmp_path / "during.parquet"]
    # 1. events produced before the job ever ran: the first start must read from the earliest offsets
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[0], 20_000, 0, 1)
    assert p.wait(120) == 0, p.stderr.read()
    log = open(tmp_path / "spark.log", "w")
    job = Job(config, prefix, log)
    job.wait_ready()
    # 2. more events while the job runs, and the job is SIGKILLed twice mid-stream
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[1], 40_000, 2_000, 2)
    for _ in range(2):
        seen = job.batches
        deadline = time.time() + 120
        while job.batches < seen + 2 and time.time() < deadline:
            time.sleep(0.2)
        job.kill()
        job = Job(config, prefix, log)
        job.wait_ready()
    assert p.wait(120) == 0, p.stderr.read()
    try:
        check_caught_up_and_exact(config, ledgers)
    finally:
        job.kill()
        log.close()
