"""`scripts/bench cluster`: stack-up time, RSS and the job's drain rate of the managed 3/3/2 loopback
cluster against the single-node stack, in the same run on the same machine (same 2 cores: the figures
are the cluster's overhead, not a speed-up).

Each layout runs in its own throwaway home on free ports: every service but the producer (the job
included, on local[2] or on the managed master) is started from cold (storage formatted), then the
RSS of each service's process tree is sampled after a pause. Then a burst of `--burst` events is
produced as fast as the producer goes (acks from every in-sync replica on the cluster), and the
job's rate is the burst over the time from the start of the first batch that read it to the end of
the batch that read its last event. The load average is printed with them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.bench.measure import load
from ecomdesk.bench.spark_run import Producer, Progress
from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.stack.door import build_supervisor
from ecomdesk.testing.sandbox import isolated_config

JOB = names.SPARK_JOB
LAYOUTS = {"single node (1 broker, 1 DataNode, local[2])": (1, 1, 0),
           "loopback cluster (3 brokers, 3 DataNodes, master + 2 workers)": (3, 3, 2)}


def _configure(config: Config, brokers: int, datanodes: int, workers: int) -> None:
    config.kafka.brokers, config.hdfs.datanodes, config.spark.workers = brokers, datanodes, workers
    config.save()


def drain_rate(config: Config, sup: Supervisor, burst: int, timeout: float) -> float | None:
    """Events/s the job read a burst at (see the module doc), or None when it did not read it all."""
    progress = Progress()
    sup.subscribe_logs(progress)
    t0 = time.time()
    producer = Producer(config, "", "--rate", "0", "--count", str(burst))
    producer.wait(600)
    deadline = time.time() + timeout
    while sum(b.input_rows for _, b in progress.of(JOB, t0)) < burst and time.time() < deadline:
        time.sleep(0.5)
    batches = [(t, b) for t, b in progress.of(JOB, t0) if b.input_rows]
    if sum(b.input_rows for _, b in batches) < burst:
        return None
    began = max(t0, min(t - b.batch_duration_ms / 1000 for t, b in batches))
    return burst / (batches[-1][0] - began)


def measure(label: str, layout: tuple[int, int, int], settle: float, burst: int) -> int:
    """Print the layout's figures; returns its total RSS in bytes."""
    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-") as tmp:
        config = isolated_config(Path(tmp))
        _configure(config, *layout)
        sup = build_supervisor(config)
        try:
            services = [n for n in sup.specs if n != names.PRODUCER]
            t0 = time.monotonic()
            sup.start(services)
            up = time.monotonic() - t0
            time.sleep(settle)
            rows = [s for s in sup.snapshot() if s.name in services]
            total = sum(s.rss or 0 for s in rows)
            print(f"{label}: up in {up:.1f} s (cold), {len(rows)} services, total RSS {total / 2**20:.0f} MiB, "
                  f"{load()}")
            for s in rows:
                print(f"  {s.name:16s} RSS {(s.rss or 0) / 2**20:6.0f} MiB")
            rate = drain_rate(config, sup, burst, 600)
            print(f"  the job read a burst of {burst:,d} events at "
                  f"{'(not all read in 600 s)' if rate is None else f'{rate:,.0f} events/s'} | {load()}", flush=True)
            return total
        finally:
            sup.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench cluster")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after ready before sampling RSS")
    ap.add_argument("--burst", type=int, default=200_000, help="events of the burst the job's rate is timed on")
    args = ap.parse_args(argv)
    totals = [measure(label, layout, args.settle, args.burst) for label, layout in LAYOUTS.items()]
    print(f"cluster / single node RSS: {totals[1] / totals[0]:.2f}x")
    return 0
