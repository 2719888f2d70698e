"""`ecomdesk bench soak --rate R --minutes M`: the whole stack for a long while, flat, and whether
the job's cost stays flat.

A throwaway home on free ports runs the whole managed stack (NameNode, DataNode, Kafka, the job,
the producer with the realistic profile at R events/s all along: `flat`) through the real Supervisor
for M minutes. Minute-long benchmarks never reach what grows with time (the funnel state fills for
its window plus the watermark delay, 30 minutes by default; caches and key codes grow with every
new user). Per slice of `--slice` minutes it prints, from the job's telemetry and psutil:
- batch duration p50 and p95, and records per batch (mean);
- the funnel state's rows and bytes, and its key codes, at the slice's end;
- the driver's RSS (the spark-submit JVM and its Python worker, summed), at the slice's end;
- the backlog (events in Kafka the job has not read), at the slice's end and its largest.

Verdict, over the slices after `--warmup` minutes: the last slice's batch p95 within 1.2x of the
first's, the backlog bounded (its least-squares slope over the batches after warm-up is less than 1 %
of the rate) and the RSS flat (the last slice's within 1.2x of the first's). The state's own growth
is reported, not judged: it fills until its window is full.

stdout carries the figures; the services' logs stay in the home (`--home` keeps it).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import threading
import time
from math import nan
from pathlib import Path

import numpy as np
import psutil

from ecomdesk.bench.measure import load, percentiles
from ecomdesk.bench.spark_figures import slope_per_s
from ecomdesk.bench.spark_run import process_tree
from ecomdesk.stack.door import build_supervisor
from ecomdesk.stack.spark_job import NAME as JOB
from ecomdesk.telemetry import BatchReport, parse
from ecomdesk.testing.sandbox import isolated_config

P95_LIMIT, RSS_LIMIT, SLOPE_LIMIT = 1.2, 1.2, 0.01


def tree_rss(pid: int | None) -> int:
    """Resident bytes of a process and its descendants (the driver JVM and its Python worker)."""
    total = 0
    for p in process_tree(pid) if pid else []:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


@dataclasses.dataclass
class Slice:
    start_min: float
    end_min: float
    p50_ms: float
    p95_ms: float
    records: float
    state_rows: int
    state_bytes: int
    key_codes: int
    rss: int
    backlog: int
    backlog_max: int

    def line(self) -> str:
        return (f"min {self.start_min:3.0f}-{self.end_min:<3.0f} batch p50 {self.p50_ms:6.0f} ms, "
                f"p95 {self.p95_ms:6.0f} ms | {self.records:8,.0f} records/batch | state {self.state_rows:>11,d} rows, "
                f"{self.state_bytes / 2**20:7.1f} MiB, {self.key_codes:>9,d} key codes | driver RSS "
                f"{self.rss / 2**20:6.0f} MiB | backlog {self.backlog:>8,d} (max {self.backlog_max:,d})")


def backlog_of(report: BatchReport) -> int:
    return sum(report.offsets_behind.values())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ecomdesk bench soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=1000.0, help="events/s, flat (default 1000)")
    ap.add_argument("--minutes", type=float, default=60.0, help="minutes of traffic (default 60)")
    ap.add_argument("--slice", type=float, default=5.0, help="minutes per printed slice (default 5)")
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes left out of the verdict (default 5)")
    ap.add_argument("--home", type=Path, help="run in this (kept) directory instead of a temporary one")
    args = ap.parse_args(argv)
    reports: list[tuple[float, BatchReport]] = []
    lock = threading.Lock()

    def on_line(service: str, line: str) -> None:
        record = parse(line) if service == JOB else None
        if isinstance(record, BatchReport):
            with lock:
                reports.append((time.monotonic(), record))

    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-soak-") as tmp:
        home = args.home or Path(tmp)
        config = isolated_config(home)
        config.producer = dataclasses.replace(config.producer, rate=args.rate, flat=True, profile="realistic")
        config.save()
        print(f"soak: the whole stack, realistic profile flat at {args.rate:,.0f} events/s for {args.minutes:g} min, "
              f"trigger {config.spark.trigger_seconds:g} s, watermark {config.spark.watermark}, home "
              f"{home} | {load()}", flush=True)
        sup = build_supervisor(config)
        sup.subscribe_logs(on_line)
        slices: list[Slice] = []
        try:
            t = time.monotonic()
            sup.start()
            t0 = time.monotonic()
            print(f"stack ready in {t0 - t:.0f} s | {load()}", flush=True)
            n = int(round(args.minutes / args.slice))
            for i in range(n):
                end = t0 + (i + 1) * args.slice * 60
                time.sleep(max(0.0, end - time.monotonic()))
                with lock:
                    batch = [r for at, r in reports if end - args.slice * 60 <= at < end and r.input_rows > 0]
                if not batch:
                    print(f"min {i * args.slice:3.0f}-{(i + 1) * args.slice:<3.0f} no batch with input | {load()}")
                    continue
                durations = [r.batch_duration_ms for r in batch]
                end_report = batch[-1]
                p50, p95 = percentiles(durations) or (nan, nan)
                s = Slice(i * args.slice, (i + 1) * args.slice, float(p50), float(p95),
                          float(np.mean([r.input_rows for r in batch])), end_report.state_rows,
                          end_report.state_bytes, end_report.key_codes, tree_rss(sup.status(JOB).pid),
                          backlog_of(end_report), max(backlog_of(r) for r in batch))
                slices.append(s)
                print(f"{s.line()} | {load()}", flush=True)
        finally:
            sup.close()
    judged = [s for s in slices if s.start_min >= args.warmup]
    if len(judged) < 2:
        print("verdict: too few slices after the warm-up to judge")
        return 1
    first, last = judged[0], judged[-1]
    points = [(at - t0, backlog_of(r)) for at, r in reports if at - t0 >= args.warmup * 60 and r.input_rows > 0]
    slope = slope_per_s(points)
    checks = {
        f"batch p95 last/first {last.p95_ms / first.p95_ms:.2f} (<= {P95_LIMIT})":
            last.p95_ms <= P95_LIMIT * first.p95_ms,
        f"backlog slope {slope:+.1f} events/s (< {SLOPE_LIMIT:.0%} of the rate)": slope < SLOPE_LIMIT * args.rate,
        f"driver RSS last/first {last.rss / first.rss:.2f} (<= {RSS_LIMIT})": last.rss <= RSS_LIMIT * first.rss,
    }
    print(f"state after warm-up: {first.state_rows:,d} -> {last.state_rows:,d} rows, "
          f"{first.state_bytes / 2**20:.1f} -> {last.state_bytes / 2**20:.1f} MiB")
    print("verdict: " + "; ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items())
          + f" -> {'PASS' if all(checks.values()) else 'FAIL'} | {load()}")
    return 0 if all(checks.values()) else 1
