"""The benchmark's two other jobs on the real stack: the ceiling writes every valid event as raw
Parquet, and the classroom baseline's eight queries each read, report batches and write output."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
from ecomdesk.jobs.classroom_baseline import AGGREGATE_TOPIC

from ecomdesk.bench.spark_run import Progress
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.stack.spark_job import JobVariant, spark_job_spec

pytestmark = pytest.mark.stack

EVENTS = 3000
BASELINE_QUERIES = {f"raw-{d}" for _, d in C.EVENT_TYPES.values()} | set(AGGREGATE_TOPIC)


def produce(stack, prefix: str) -> None:
    cmd = [sys.executable, "-m", "ecomdesk.producer", "--count", str(EVENTS), "--rate", "0", "--flat",
           "--seed", "3", "--invalid-fraction", "0", "--topic-prefix", prefix]
    done = subprocess.run(cmd, env={**os.environ, "ECOMDESK_HOME": str(stack.home)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def rows(fs, path: str) -> int:
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive").count_rows()


def test_ceiling_and_baseline_jobs(stack, tmp_path):
    tag = uuid.uuid4().hex[:6]
    config = dataclasses.replace(stack.config, spark=dataclasses.replace(stack.config.spark, master="local[1]"))
    specs = {}
    for job, entry in (("ceiling", "ceiling_raw.py"), ("baseline", "classroom_baseline.py")):
        prefix, base = f"bj{tag}{job}-", f"/bj{tag}/{job}"
        produce(stack, prefix)  # the topics exist, with all the events, before the job reads
        spec = spark_job_spec(config, JobVariant(entry=entry, app_name=f"bench-{job}", base_path=base,
                                                 args=("--topic-prefix", prefix)), name=f"bench-{job}")
        specs[job] = (dataclasses.replace(spec, depends_on=()), base)
    # one Supervisor per job, started side by side: a Supervisor starts its services one by one
    sups = [Supervisor([spec], tmp_path / name / "logs", tmp_path / name / "run") for name, (spec, _) in specs.items()]
    progress = Progress()
    for sup in sups:
        sup.subscribe_logs(progress)
    fs = hadoop_filesystem(config)
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda sup: sup.start(), sups))
        deadline = time.time() + 240  # the eight queries take ~2 min at load 12-15 on 2 cores

        def read(service: str, query: str | None = None) -> int:
            return sum(b.input_rows for _, b in progress.of(service) if query in (None, b.query))

        while time.time() < deadline and (read("bench-ceiling") < EVENTS
                                          or sum(read("bench-baseline", f"raw-{d}") for d in C.RAW_DIRS) < EVENTS
                                          or not all(read("bench-baseline", q) for q in BASELINE_QUERIES)):
            time.sleep(1)
        assert read("bench-ceiling") == EVENTS
        assert {b.query for _, b in progress.of("bench-baseline")} == BASELINE_QUERIES
        assert all(read("bench-baseline", q) > 0 for q in BASELINE_QUERIES)
        ceiling_base, baseline_base = specs["ceiling"][1], specs["baseline"][1]
        assert rows(fs, f"{ceiling_base}/raw") == EVENTS
        kinds = {i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{ceiling_base}/raw"))}
        assert kinds >= {f"kind={d}" for d in C.RAW_DIRS}
        assert sum(rows(fs, f"{baseline_base}/{d}") for d in C.RAW_DIRS) == EVENTS
        for name in AGGREGATE_TOPIC:
            assert rows(fs, f"{baseline_base}/{C.AGGREGATES_DIR}/{name}") > 0, name
    finally:
        for sup in sups:
            sup.close()
