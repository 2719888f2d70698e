"""`ecomdesk rebuild` and the window's Rebuild: spark-submit of the rebuild job with the app's settings.

The stream must not commit while the rebuild publishes (its next batch would supersede the rebuilt
version), so the CLI refuses while the job runs, and the window stops the job around the rebuild.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.core.spec import ACTIVE
from ecomdesk.paths import job_entry
from ecomdesk.stack.spark_job import NAME as JOB
from ecomdesk.stack.spark_job import base_uri, interval_seconds, job_env, submit_prefix


class RebuildError(RuntimeError):
    """The rebuild did not publish a new version (the old one stays current)."""


def rebuild_command(config: Config) -> list[str]:
    return submit_prefix(config, "ecomdesk-rebuild") + [
        str(job_entry("rebuild_aggregates.py")), "--base", base_uri(config),
        "--watermark-seconds", str(interval_seconds(config.spark.watermark)),
    ]


def run_rebuild(config: Config, timeout: float = 3600) -> dict:
    """Run the rebuild job; its Spark log goes to logs/rebuild.log. Returns {manifest, batch_id, generation}."""
    log = config.paths.log_dir / "rebuild.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    log.write_text("")
    with open(log, "a") as err:  # appended to: the job's driver writes to it too (driver_log)
        proc = subprocess.run(rebuild_command(config), env={**os.environ, **job_env()}, stdout=subprocess.PIPE,
                              stderr=err, text=True, timeout=timeout, start_new_session=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RebuildError(f"rebuild failed (exit {proc.returncode}); see {log}:\n{_tail(log)}")
    return {**json.loads(lines[-1]), "seconds": round(time.monotonic() - t0, 1)}


def _tail(log: Path, n: int = 8) -> str:
    lines = log.read_text(errors="replace").splitlines()
    said = [line for line in lines if line.startswith("rebuild:")]
    return "\n".join(said or lines[-n:])


def rebuild_around(supervisor, config: Config) -> dict:
    """The window's Rebuild: stop the job if it runs, rebuild, start it again (it continues from the rebuild)."""
    running = any(s.name == JOB and s.state in ACTIVE for s in supervisor.snapshot())
    if running:
        supervisor.stop([JOB])
    try:
        return run_rebuild(config)
    finally:
        if running:
            supervisor.start([JOB])
