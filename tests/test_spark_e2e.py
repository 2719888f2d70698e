"""End to end on the real stack: producer (with ledger and invalid events) -> Kafka -> spark-submit
job -> HDFS, compared with the ledger in pandas; the job is SIGKILLed twice mid-stream."""

from __future__ import annotations

import dataclasses
import signal
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
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[0], 8_000, 0, 1)
    assert p.wait(120) == 0, p.stderr.read()
    log = open(tmp_path / "spark.log", "w")
    job = Job(config, prefix, log)
    job.wait_ready()
    # 2. more events while the job runs, and the job is SIGKILLed twice mid-stream: the producer sends
    # until both kills are done (then a SIGTERM, its clean stop, writes the ledger), however long the
    # restart in between takes on this machine
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[1], 10_000_000, 1_000, 2)
    for kill in (1, 2):
        seen = job.batches
        deadline = time.time() + 120
        while job.batches < seen + 2 and time.time() < deadline:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.2)
        assert job.batches >= seen + 2, f"before kill {kill}: the job committed {job.batches - seen} batch(es) in 120 s"
        job.kill()
        job = Job(config, prefix, log)
        job.wait_ready()
    p.send_signal(signal.SIGTERM)
    assert p.wait(120) == 0, p.stderr.read()
    try:
        check_caught_up_and_exact(config, ledgers)
    finally:
        job.kill()
        log.close()
