"""`ecomdesk rebuild`: recompute every aggregate from the raw events on HDFS into a new contract version.

stdout: the new version's manifest name; progress and errors on stderr.
"""

from __future__ import annotations

import argparse
import sys

from ecomdesk.config import Config
from ecomdesk.core.spec import ACTIVE
from ecomdesk.core.supervisor import owner_alive, read_state
from ecomdesk.stack.rebuild_run import RebuildError, run_rebuild
from ecomdesk.stack.spark_job import NAME as JOB


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("rebuild", help="recompute every aggregate from the raw events on HDFS, into a new "
                                              "version that readers switch to atomically")
    p.set_defaults(func=run)


def _job_running(config: Config) -> bool:
    if not owner_alive(config.paths.run_dir):
        return False
    states = {s["name"]: s["state"] for s in read_state(config.paths.run_dir).get("services", [])}
    return states.get(JOB) in ACTIVE


def run(args: argparse.Namespace, config: Config) -> int:
    from ecomdesk.data.hdfs import check_namenode

    if _job_running(config):
        print("ecomdesk rebuild: the Spark job is running; stop it first (its next batch would supersede the "
              "rebuild): the window's Rebuild does that for you", file=sys.stderr)
        return 1
    try:
        check_namenode(config.namenode_addresses)
    except OSError as exc:
        print(f"ecomdesk rebuild: {exc}; start HDFS first (ecomdesk stack up hdfs-datanode)", file=sys.stderr)
        return 1
    print("rebuilding every aggregate from the raw events (Spark log: logs/rebuild.log)...", file=sys.stderr,
          flush=True)
    try:
        result = run_rebuild(config)
    except RebuildError as exc:
        print(f"ecomdesk rebuild: {exc}", file=sys.stderr)
        return 1
    print(f"batch {result['batch_id']} rebuilt as generation {result['generation']} in {result['seconds']} s; "
          "readers use it now, the old version stays until the job expires it", file=sys.stderr)
    print(result["manifest"])
    return 0
