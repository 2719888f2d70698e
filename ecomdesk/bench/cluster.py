"""`scripts/bench cluster`: stack-up time and RSS of the managed 3/3/2 loopback cluster against the
single-node stack, in the same run on the same machine (so the figures are the cluster's overhead).

Each layout runs in its own throwaway home on free ports: every service but the producer (the job
included, on local[2] or on the managed master) is started from cold (storage formatted), then the
RSS of each service's process tree is sampled after a pause. The load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.stack.catalog import build_specs
from ecomdesk.testing.sandbox import isolated_config

LAYOUTS = {"single node (1 broker, 1 DataNode, local[2])": (1, 1, 0),
           "loopback cluster (3 brokers, 3 DataNodes, master + 2 workers)": (3, 3, 2)}


def _configure(config: Config, brokers: int, datanodes: int, workers: int) -> None:
    config.kafka.brokers, config.hdfs.datanodes, config.spark.workers = brokers, datanodes, workers
    config.save()


def measure(label: str, layout: tuple[int, int, int], settle: float) -> int:
    """Print the layout's figures; returns its total RSS in bytes."""
    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-") as tmp:
        config = isolated_config(Path(tmp))
        _configure(config, *layout)
        sup = Supervisor(build_specs(config), config.paths.log_dir, config.paths.run_dir)
        try:
            names = [n for n in sup.specs if n != "producer"]
            t0 = time.monotonic()
            sup.start(names)
            up = time.monotonic() - t0
            time.sleep(settle)
            rows = [s for s in sup.snapshot() if s.name in names]
            total = sum(s.rss or 0 for s in rows)
            print(f"{label}: up in {up:.1f} s (cold), {len(rows)} services, total RSS {total / 2**20:.0f} MiB, "
                  f"load average {os.getloadavg()[0]:.2f}")
            for s in rows:
                print(f"  {s.name:16s} RSS {(s.rss or 0) / 2**20:6.0f} MiB")
            return total
        finally:
            sup.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench cluster")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after ready before sampling RSS")
    args = ap.parse_args(argv)
    totals = [measure(label, layout, args.settle) for label, layout in LAYOUTS.items()]
    print(f"cluster / single node RSS: {totals[1] / totals[0]:.2f}x")
    return 0
