"""Running the real streaming job in a test: spark-submit in its own process group, the producer with a
ledger, and the check that the job has counted every event of the ledgers exactly (through the data
contract, against the independent pandas computation)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd

from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.stack.spark_job import JobTelemetry, job_env, spark_submit_command
from ecomdesk.testing.reference import aggregates, assert_same


class Job:
    """spark-submit in its own process group, its stdout fed to the service's telemetry parser."""

    def __init__(self, config, prefix: str, log, env: dict[str, str] | None = None):
        cmd = spark_submit_command(config) + ["--topic-prefix", prefix]
        self.telemetry = JobTelemetry()
        self.proc = subprocess.Popen(cmd, env={**os.environ, **job_env(), **(env or {})}, stdout=subprocess.PIPE,
                                     stderr=log, text=True, start_new_session=True)
        self.batches = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if self.telemetry(line.strip()) is not None:
                self.batches += 1

    def wait_ready(self, timeout=180):
        deadline = time.time() + timeout
        while not self.telemetry.probe().ok:
            assert self.proc.poll() is None, "spark job exited before it was ready"
            assert time.time() < deadline, "spark job not ready in time"
            time.sleep(0.5)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def produce(home, bootstrap, prefix, ledger, count, rate, seed):
    cmd = [sys.executable, "-m", "ecomdesk.producer", "--count", str(count), "--rate", str(rate), "--flat",
           "--seed", str(seed), "--invalid-fraction", "0.03", "--ledger", str(ledger),
           "--bootstrap", bootstrap, "--topic-prefix", prefix]
    return subprocess.Popen(cmd, env={**os.environ, "ECOMDESK_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ledger_events(paths) -> tuple[pd.DataFrame, int]:
    frames, invalid = [], 0
    for p in paths:
        frames.append(pd.read_parquet(p))
        invalid += sum(json.loads(p.with_name(p.name + ".summary.json").read_text())["invalid"].values())
    ev = pd.concat(frames, ignore_index=True)
    ev = ev.assign(user_id=ev.user_id.astype(str), product_id=ev.product_id.astype(str),
                   event_time=pd.to_datetime(ev.timestamp, utc=True))
    return ev, invalid


def read_everything(telemetry: JobTelemetry) -> bool:
    """Whether the job's latest batch read up to the newest offsets of every topic: with the producers
    done, no later batch can come."""
    last = max(telemetry.queries.values(), key=lambda q: q.batch_id, default=None)
    return last is not None and sum(last.offsets_behind.values()) == 0


def check_caught_up_and_exact(config, ledgers, telemetry: JobTelemetry | None = None) -> None:
    """Wait until the job has counted every event of the ledgers (whose producers are done) and no
    later batch can come, then compare every aggregate. With the job's `telemetry` (a `Job`'s, or the
    managed service's) the latter is its latest batch having read everything; without, three triggers more."""
    base = config.hdfs.base_path
    want, invalid = ledger_events(ledgers)
    assert invalid > 0
    fs = hadoop_filesystem(config)
    deadline = time.time() + 240
    while True:
        overall = C.read_current(fs, "conversion_overall", base)
        views = C.read_current(fs, "views_by_category", base)["views"].sum()
        seen = (int(overall[["carts", "purchases"]].sum().sum()) if len(overall) else 0) + int(views)
        bad = int(C.quarantine_counts(fs, base)["count"].sum())
        caught_up = seen + bad >= len(want) + invalid
        if (caught_up and (telemetry is None or read_everything(telemetry))) or time.time() > deadline:
            break
        time.sleep(0.5 if caught_up else 1)
    if telemetry is None:
        time.sleep(3 * config.spark.trigger_seconds)  # nothing more may arrive after catching up
    elif caught_up:
        assert read_everything(telemetry), f"every event counted, but the job's latest batch left some unread: " \
                                           f"{[q.offsets_behind for q in telemetry.queries.values()]}"
    expected = aggregates(want)
    for name in C.AGGREGATES:
        assert_same(name, C.read_current(fs, name, base), expected[name], C.AGGREGATE_KEYS[name])
    assert int(C.quarantine_counts(fs, base)["count"].sum()) == invalid
    assert len(C.read_quarantine(fs, base)) == invalid
