"""`ecomdesk rebuild` on the real stack: every aggregate recomputed from the raw events on HDFS equals what
the stream produced, readers switch to it atomically (the old version stays), and the stream continues
from it exactly. The stream's first run is SIGKILLed after Spark committed its batch and before the
batch's publish: the next start publishes it from its pending record, once."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pyarrow.fs as pafs
import pytest
from jobrun import Job, check_caught_up_and_exact, produce, read_everything
from stackutil import cli

from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.pipeline.commit import PENDING
from ecomdesk.stack.rebuild import run_rebuild
from ecomdesk.testing.reference import assert_same

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]


def test_rebuild_equals_the_stream_switches_atomically_and_the_stream_continues(stack, tmp_path):
    prefix = f"rb{uuid.uuid4().hex[:6]}-"
    base = f"/{prefix}ecommerce"
    config = dataclasses.replace(stack.config, hdfs=dataclasses.replace(stack.config.hdfs, base_path=base))
    ledgers = [tmp_path / "first.parquet", tmp_path / "second.parquet"]
    log = open(tmp_path / "spark.log", "a")
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[0], 3_000, 0, 11)
    assert p.wait(120) == 0, p.stderr.read()
    fs = hadoop_filesystem(config)
    job = Job(config, prefix, log, env={"ECOMDESK_FAULT_HOLD_PUBLISH": "1"})
    try:
        job.wait_ready()
        deadline = time.time() + 120
        while not read_everything(job.telemetry) and time.time() < deadline:  # Spark committed the batch
            time.sleep(0.5)
        assert read_everything(job.telemetry), "the job did not read every event in 120 s"
    finally:
        job.kill()
    assert C.current_manifest(fs, base) is None
    staged = fs.get_file_info(pafs.FileSelector(C.join(base, C.STAGING_DIR), recursive=True))
    pending = [f.path.split(f"{C.STAGING_DIR}/", 1)[1] for f in staged if f.base_name == PENDING]
    assert pending == [f"batch-0/{PENDING}"], staged
    job = Job(config, prefix, log)
    try:
        job.wait_ready()
        # Spark has nothing more to give it (the start published the batch): no batch report comes
        check_caught_up_and_exact(config, ledgers[:1])
    finally:
        job.kill()
    # the driver's log reaches the job's stderr (spark-submit merges the Python driver's into its stdout)
    assert "published batches [0] from the pending records a crash left" in (tmp_path / "spark.log").read_text()
    streamed = C.read_all_current(fs, base)
    old = C.current_manifest(fs, base)
    assert old is not None and old.get("generation", 0) == 0

    result = run_rebuild(config)
    assert result["manifest"] == C.manifest_name(old["batch_id"], 1)
    rebuilt = C.current_manifest(fs, base)
    assert (rebuilt["batch_id"], rebuilt["generation"]) == (old["batch_id"], 1)
    assert rebuilt["query_id"] != old["query_id"]
    again = C.read_all_current(fs, base)
    for name in C.AGGREGATES:
        assert_same(name, again[name], streamed[name], C.AGGREGATE_KEYS[name])
    assert again[C.QUARANTINE_COUNTS].sort_values("reason").reset_index(drop=True).equals(
        streamed[C.QUARANTINE_COUNTS].sort_values("reason").reset_index(drop=True))
    # the old version is still whole: its manifest and every file it names
    manifests = C.join(base, C.MANIFESTS_DIR)
    assert fs.get_file_info(C.join(manifests, C.manifest_name(old["batch_id"]))).is_file
    old_files = {f for files in old["aggregates"].values() for f in files}
    new_files = {f for files in rebuilt["aggregates"].values() for f in files}
    assert not old_files & new_files
    assert all(fs.get_file_info(C.join(base, f)).is_file for f in old_files)

    # the stream, restarted, continues from the rebuilt version and stays exact (events sent while it starts)
    job = Job(config, prefix, log)
    try:
        p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[1], 2_000, 0, 12)
        assert p.wait(120) == 0, p.stderr.read()
        job.wait_ready()
        check_caught_up_and_exact(config, ledgers, job.telemetry)
    finally:
        job.kill()


def test_rebuild_refuses_without_hdfs(tmp_path):
    home = tmp_path / "home"
    from ecomdesk.testing.sandbox import isolated_config

    isolated_config(home)
    out = cli(home, "rebuild", timeout=120)
    assert out.returncode == 1 and out.stdout == ""
    assert "NameNode" in out.stderr and "start HDFS first" in out.stderr
