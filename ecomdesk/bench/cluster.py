"""`scripts/bench cluster`: stack-up time, RSS and the job's drain rate of the managed 3/3/2 loopback
cluster against the single-node stack, in the same run on the same machine (same 2 cores: the figures
are the cluster's overhead, not a speed-up).

Each layout runs in its own throwaway home on free ports: every service but the producer (the job
included, on local[2] or on the managed master) is started from cold (storage formatted), then the
RSS of each service's process tree is sampled after a pause. Then a burst of `--burst` events is
produced as fast as the producer goes (acks from every in-sync replica on the cluster), and the
job's rate is the burst over the time from the start of the first batch that read it to the end of
the batch that read its last event. The load average is printed with them.

On the cluster the job's own process tree is the driver alone (its executors run under the
workers), so `--driver-rates R1,R2,...` then measures the driver's CPU per batch (issue 23, item 6):
the producer sends each rate flat for `--phase` s after a 15 s settle, and the driver tree's CPU
seconds over the phase are divided by the batches that read records in it. The ratio of the last
rate to the first is printed beside the ratio of their records per batch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.bench.measure import load
from ecomdesk.bench.spark_run import Producer, Progress, process_tree, tree_cpu
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


def python_pids(pid: int) -> set[int]:
    """The Python processes of a process tree (the job's Python driver under spark-submit's JVM)."""
    return {p.pid for p in process_tree(pid) if "python" in p.name().lower()}


def driver_per_batch(sup: Supervisor, progress: Progress, config: Config, rate: float,
                     phase: float) -> tuple[float, float, float]:
    """(driver CPU seconds per batch, of which Python's, records per batch) while `rate` events/s flow."""
    producer = Producer(config, "", "--rate", f"{rate:g}", "--duration", f"{phase + 20:g}")
    try:
        time.sleep(15)
        pid = sup.status(JOB).pid
        if pid is None:
            raise SystemExit("the job is not running")
        before, t0 = tree_cpu(pid), time.time()
        time.sleep(phase)
        after, t1 = tree_cpu(pid), time.time()
        python = python_pids(pid)
    finally:
        producer.stop()
        producer.wait(60)
    batches = [b for _, b in progress.of(JOB, t0, t1) if b.input_rows]
    if not batches:
        raise SystemExit(f"no batch read records at {rate:g} events/s")
    used = {p: after[p] - before.get(p, 0.0) for p in after}
    n = len(batches)
    return (sum(used.values()) / n, sum(v for p, v in used.items() if p in python) / n,
            sum(b.input_rows for b in batches) / n)


def driver_figures(sup: Supervisor, config: Config, rates: list[float], phase: float) -> None:
    progress = Progress()
    sup.subscribe_logs(progress)
    rows = [(rate, *driver_per_batch(sup, progress, config, rate, phase)) for rate in rates]
    for rate, cpu, python, records in rows:
        print(f"  driver at {rate:,.0f} events/s: {records:,.0f} records per batch, "
              f"{cpu * 1000:,.0f} ms of driver CPU per batch ({python * 1000:,.0f} ms in Python) | {load()}",
              flush=True)
    (_, cpu0, _, rec0), (_, cpu1, _, rec1) = rows[0], rows[-1]
    print(f"  records per batch {rec1 / rec0:.1f}x -> driver CPU per batch {cpu1 / cpu0:.2f}x")


def measure(label: str, layout: tuple[int, int, int], settle: float, burst: int,
            driver_rates: list[float], phase: float) -> int:
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
            if driver_rates and layout[2]:
                driver_figures(sup, config, driver_rates, phase)
            return total
        finally:
            sup.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench cluster")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after ready before sampling RSS")
    ap.add_argument("--burst", type=int, default=200_000, help="events of the burst the job's rate is timed on")
    ap.add_argument("--driver-rates", type=lambda v: [float(r) for r in v.split(",")], default=[],
                    help="on the cluster: rates (events/s) at which to measure the driver's CPU per batch")
    ap.add_argument("--phase", type=float, default=60.0, help="seconds per driver rate (default 60)")
    ap.add_argument("--only", choices=["single", "cluster"], help="measure one layout")
    args = ap.parse_args(argv)
    layouts = [(label, layout) for label, layout in LAYOUTS.items()
               if args.only is None or (args.only == "cluster") == bool(layout[2])]
    totals = [measure(label, layout, args.settle, args.burst, args.driver_rates, args.phase)
              for label, layout in layouts]
    if len(totals) == 2:
        print(f"cluster / single node RSS: {totals[1] / totals[0]:.2f}x")
    return 0
