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
from test_contract import read_all

from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.pipeline.commit import PENDING
from ecomdesk.stack.rebuild_run import run_rebuild
from ecomdesk.testing.reference import assert_same

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]


@dataclasses.dataclass
class Streamed:
    """A base path the stream wrote through a SIGKILL between Spark's commit and the publish."""
    config: object
    prefix: str
    fs: object
    ledgers: list
    log: object
    pending: list[str]  # the pending records under the staging directory when the job was killed
    manifest_at_kill: dict | None
    report: object  # the first job's BatchReport of the batch it read every event in
    manifest_after_start: dict | None = None  # once the next start had published and counted everything


@pytest.fixture(scope="module")
def streamed(stack, tmp_path_factory) -> Streamed:
    tmp = tmp_path_factory.mktemp("rebuild")
    prefix = f"rb{uuid.uuid4().hex[:6]}-"
    base = f"/{prefix}ecommerce"
    config = dataclasses.replace(stack.config, hdfs=dataclasses.replace(stack.config.hdfs, base_path=base))
    ledgers = [tmp / "first.parquet", tmp / "second.parquet"]
    log = tmp / "spark.log"
    p = produce(stack.home, config.kafka_bootstrap, prefix, ledgers[0], 3_000, 0, 11)
    assert p.wait(120) == 0, p.stderr.read()
    fs = hadoop_filesystem(config)
    with open(log, "a") as out:
        job = Job(config, prefix, out, env={"ECOMDESK_FAULT_HOLD_PUBLISH": "1"})
        try:
            job.wait_ready()
            deadline = time.time() + 120
            while not read_everything(job.telemetry) and time.time() < deadline:  # Spark committed the batch
                time.sleep(0.5)
            assert read_everything(job.telemetry), "the job did not read every event in 120 s"
            report = max(job.telemetry.queries.values(), key=lambda q: q.batch_id)
        finally:
            job.kill()
    staged = fs.get_file_info(pafs.FileSelector(C.join(base, C.STAGING_DIR), recursive=True))
    pending = [f.path.split(f"{C.STAGING_DIR}/", 1)[1] for f in staged if f.base_name == PENDING]
    streamed = Streamed(config, prefix, fs, ledgers, log, pending, C.current_manifest(fs, base), report)
    with open(log, "a") as out:
        job = Job(config, prefix, out)
        try:
            job.wait_ready()
            # Spark has nothing more to give it (the start published the batch): no batch report comes
            check_caught_up_and_exact(config, ledgers[:1])
        finally:
            job.kill()
    streamed.manifest_after_start = C.current_manifest(fs, base)
    return streamed


def test_a_sigkill_after_sparks_commit_and_before_the_publish_publishes_the_batch_once(streamed):
    """The fixture's first job ran with its publishes held; Spark committed batch 0 and the job was
    SIGKILLed with nothing published. The next start published batch 0 from its pending record, and every
    aggregate equals the ledger (checked in the fixture, by check_caught_up_and_exact)."""
    assert streamed.manifest_at_kill is None
    assert streamed.pending == [f"batch-0/{PENDING}"]
    manifest = streamed.manifest_after_start
    assert manifest is not None and (manifest["batch_id"], manifest.get("generation", 0)) == (0, 0)
    # the driver's log reaches the job's stderr (spark-submit merges the Python driver's into its stdout)
    assert "published batches [0] from the pending records a crash left" in streamed.log.read_text()
    # the batch of 3,000 records (every partition of the three topics) ran in one Spark job of one task
    # per core of the job's local[2]: a small batch (job_args.SMALL_BATCH), sized from its Kafka offsets
    report = streamed.report
    assert report.input_rows >= 3_000 and (report.spark_jobs, report.spark_tasks) == (1, 2), report


def test_rebuild_equals_the_stream_switches_atomically_and_the_stream_continues(stack, streamed):
    config, prefix, fs, ledgers = streamed.config, streamed.prefix, streamed.fs, streamed.ledgers
    base = config.hdfs.base_path
    stream_tables = read_all(fs, base)
    old = C.current_manifest(fs, base)
    assert old is not None and old.get("generation", 0) == 0

    result = run_rebuild(config)
    assert result["manifest"] == C.manifest_name(old["batch_id"], 1)
    rebuilt = C.current_manifest(fs, base)
    assert (rebuilt["batch_id"], rebuilt["generation"]) == (old["batch_id"], 1)
    assert rebuilt["query_id"] != old["query_id"]
    again = read_all(fs, base)
    for name in C.AGGREGATES:
        assert_same(name, again[name], stream_tables[name], C.AGGREGATE_KEYS[name])
    assert again[C.QUARANTINE_COUNTS].sort_values("reason").reset_index(drop=True).equals(
        stream_tables[C.QUARANTINE_COUNTS].sort_values("reason").reset_index(drop=True))
    # the old version is still whole: its manifest and every file it names
    manifests = C.join(base, C.MANIFESTS_DIR)
    assert fs.get_file_info(C.join(manifests, C.manifest_name(old["batch_id"]))).is_file
    old_files = {f for files in old["aggregates"].values() for f in files}
    new_files = {f for files in rebuilt["aggregates"].values() for f in files}
    assert not old_files & new_files
    assert all(fs.get_file_info(C.join(base, f)).is_file for f in old_files)

    # the stream, restarted, continues from the rebuilt version and stays exact (events sent while it starts)
    with open(streamed.log, "a") as log:
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
