"""`python -m ecomdesk.bench spark`: the events/s the Spark job keeps up with, and event-to-readable latency.

Runs the whole stack (NameNode, DataNode, Kafka, the `spark-job` service) in a throwaway home on free
ports through the real Supervisor; the producer runs as a subprocess at a fixed rate.

Throughput: for each rate R, produce at R for warm-up + window seconds and collect every batch
report (`ecomdesk.telemetry.BatchReport`) of the job during the window. Two verdicts per rate: the issue's (every batch
of the window took less than the trigger interval, and the producer really delivered ~R), and
whether the backlog stayed bounded (events delivered to Kafka but not yet read by a finished batch,
from the producer's and the job's counters, grew by less than one batch's worth over the window:
the job absorbs R, with batches longer than the trigger when that verdict is no). Rates are tried in
ascending order until the backlog grows.

Latency: produce at a low rate and poll the data contract over HDFS (pyarrow) every ~100 ms. When a
new manifest appears, the current `sales_per_minute` is read through `contract.read_current`; the
moment that read returns is when the events the manifest newly covers became readable. The producer
stamps every event with its send time, so the manifest's `max_event_time` is the send time of its
newest event, and the events covered for the first time are those sent after the previous
manifest's `max_event_time`; each one's latency is (seen - its send time), taken per millisecond
of send time (the producer sends at a steady rate).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.stack.catalog import build_specs
from ecomdesk.telemetry import BatchReport, ProducerReport, parse
from ecomdesk.testing.sandbox import isolated_config

STACK = ["hdfs-namenode", "hdfs-datanode", "kafka", "spark-job"]
JOB = "spark-job"


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.1f}/{b:.1f}/{c:.1f}"


@dataclass
class Progress:
    """Every batch report of the job, with the wall-clock time it was printed."""

    lines: list[tuple[float, BatchReport]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, service: str, line: str) -> None:
        record = parse(line) if service == JOB else None
        if isinstance(record, BatchReport):
            with self.lock:
                self.lines.append((time.time(), record))

    def between(self, t0: float, t1: float) -> list[BatchReport]:
        with self.lock:
            return [d for t, d in self.lines if t0 <= t < t1]


class Producer:
    """`python -m ecomdesk.producer` as a subprocess; keeps its reports."""

    def __init__(self, config: Config, *args: str):
        cmd = [sys.executable, "-m", "ecomdesk.producer", "--json", "--seed", "7", "--flat", *args]
        env = {**os.environ, "ECOMDESK_HOME": str(config.paths.config_dir.parent)}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.last: ProducerReport | None = None
        self.lines: list[tuple[float, ProducerReport]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None  # PIPE
        for line in self.proc.stdout:
            report = parse(line)
            if isinstance(report, ProducerReport):
                self.last = report
                self.lines.append((time.time(), report))

    def wait(self, timeout: float) -> ProducerReport | None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(30)
            raise RuntimeError("producer did not finish in time") from None
        self._reader.join(5)
        if code != 0:
            assert self.proc.stderr is not None  # PIPE
            raise RuntimeError(f"producer exited {code}: {self.proc.stderr.read()[-2000:]}")
        return self.last

    def delivered_between(self, t0: float, t1: float) -> float:
        """Events delivered per second between two wall-clock times (from its per-second lines)."""
        inside = [(t, d.delivered) for t, d in self.lines if t0 <= t <= t1]
        if len(inside) < 2:
            return 0.0
        (ta, a), (tb, b) = inside[0], inside[-1]
        return (b - a) / (tb - ta) if tb > ta else 0.0


@dataclass
class Step:
    rate: float
    delivered_rate: float
    batches: int
    mean_ms: float
    max_ms: int
    max_behind: int
    backlog_start: int
    backlog_end: int
    max_backlog: int
    processed_rows_s: float
    input_rows_s: float
    load: str
    holds: bool
    why: str
    bounded: bool


class Ledger:
    """Events delivered to Kafka by the bench's producers so far, against rows the job has read."""

    def __init__(self, progress: Progress):
        self.progress, self.delivered_before = progress, 0

    def add(self, final: ProducerReport | None) -> None:
        self.delivered_before += final.delivered if final else 0

    def backlog(self, producer: Producer, t: float) -> int:
        """Delivered but not yet read by a finished batch, at wall-clock time t."""
        delivered = max([d.delivered for tp, d in producer.lines if tp <= t] or [0])
        with self.progress.lock:
            consumed = sum(d.input_rows for tp, d in self.progress.lines if tp <= t)
        return self.delivered_before + delivered - consumed


def wait_caught_up(progress: Progress, ledger: Ledger, timeout: float) -> bool:
    """Until finished batches have read every event the bench's (finished) producers delivered."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with progress.lock:
            consumed = sum(d.input_rows for _, d in progress.lines)
        if consumed >= ledger.delivered_before:
            return True
        time.sleep(0.5)
    return False


def throughput_step(config: Config, progress: Progress, ledger: Ledger, rate: float, warmup: float,
                    window: float) -> Step:
    trigger_ms = config.spark.trigger_seconds * 1000
    producer = Producer(config, "--rate", str(rate), "--duration", str(warmup + window))
    time.sleep(warmup)
    t0 = time.time()
    time.sleep(window)
    t1 = time.time()
    figures = load()
    batches = [b for b in progress.between(t0, t1) if b.input_rows > 0]
    times = [t for t, b in progress.lines if t0 <= t < t1 and b.input_rows > 0]
    backlogs = [ledger.backlog(producer, t) for t in (t0, *times, t1)]
    ledger.add(producer.wait(120))
    durations = [b.batch_duration_ms for b in batches] or [0]
    behind = [sum(b.offsets_behind.values()) for b in batches] or [0]
    rows = sum(b.input_rows for b in batches)
    busy = sum(durations) / 1000
    delivered = producer.delivered_between(t0, t1)
    reasons = []
    if not batches:
        reasons.append("no batch in the window")
    if max(durations) >= trigger_ms:
        reasons.append(f"{sum(d >= trigger_ms for d in durations)}/{len(batches)} batches >= trigger")
    if max(behind) > 2 * rate * config.spark.trigger_seconds:
        reasons.append("offsets behind grew past 2 triggers of input")
    if delivered < 0.95 * rate:
        reasons.append(f"producer delivered only {delivered:,.0f}/s")
    # bounded: over the window the backlog grew by less than one batch's worth of input
    grew = backlogs[-1] - backlogs[0]
    bounded = bool(batches) and delivered >= 0.95 * rate and grew <= rate * max(durations) / 1000
    return Step(rate, delivered, len(batches), float(np.mean(durations)), max(durations), max(behind),
                backlogs[0], backlogs[-1], max(backlogs), rows / busy if busy else 0.0, rows / (t1 - t0),
                figures, not reasons, "; ".join(reasons), bounded)


def print_step(s: Step) -> None:
    verdict = "batches below trigger: yes" if s.holds else f"batches below trigger: NO ({s.why})"
    print(f"  R={s.rate:>8,.0f}/s delivered {s.delivered_rate:>8,.0f}/s | {s.batches:3d} batches, "
          f"duration mean {s.mean_ms:6.0f} ms max {s.max_ms:6d} ms | Spark offsets behind max {s.max_behind:,d} | "
          f"backlog start {s.backlog_start:,d} end {s.backlog_end:,d} max {s.max_backlog:,d} events "
          f"({s.max_backlog / s.rate:.1f} s of input) | processed {s.processed_rows_s:>9,.0f} rows/s of batch "
          f"time, read {s.input_rows_s:>8,.0f}/s | {s.load}\n"
          f"      -> {verdict}; backlog bounded: {'yes' if s.bounded else 'NO'}", flush=True)


@dataclass
class Seen:
    at: float  # wall-clock time the read through the contract returned
    batch_id: int
    max_event_us: int


def watch_manifests(config: Config, stop: threading.Event, out: list[Seen], interval: float) -> None:
    fs = hadoop_filesystem(config)
    base = config.hdfs.base_path
    last = None
    while not stop.is_set():
        m = C.current_manifest(fs, base)
        if m is not None and m["batch_id"] != last and m["max_event_us"] is not None:
            C.read_current(fs, "sales_per_minute", base)
            out.append(Seen(time.time(), m["batch_id"], m["max_event_us"]))
            last = m["batch_id"]
        stop.wait(interval)


def latencies_ms(seen: list[Seen], t0: float, t1: float) -> np.ndarray:
    """Per millisecond of send time in [t0, t1): the time until a reader could see it (see module doc)."""
    out = []
    for prev, cur in zip(seen, seen[1:], strict=False):
        lo, hi = max(prev.max_event_us / 1e3, t0 * 1e3), min(cur.max_event_us / 1e3, t1 * 1e3)
        if hi > lo:
            sent_ms = np.arange(np.floor(lo) + 1, np.floor(hi) + 1)
            out.append(cur.at * 1e3 - sent_ms)
    return np.concatenate(out) if out else np.array([])


def latency(config: Config, progress: Progress, rate: float, warmup: float, window: float,
            interval: float) -> ProducerReport | None:
    """Prints the latency figures; returns the producer's final report."""
    seen: list[Seen] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_manifests, args=(config, stop, seen, interval), daemon=True)
    watcher.start()
    producer = Producer(config, "--rate", str(rate), "--duration", str(warmup + window + 10))
    try:
        time.sleep(warmup)
        t0 = time.time()
        time.sleep(window)
        t1 = time.time()
        figures = load()
        time.sleep(10)  # the events of the end of the window become readable
    finally:
        stop.set()
        watcher.join(30)
        final = producer.wait(120)
    lat = latencies_ms(seen, t0, t1)
    batches = [b for b in progress.between(t0, t1) if b.input_rows > 0]
    durations = [b.batch_duration_ms for b in batches] or [0]
    if lat.size == 0:
        print(f"  latency at {rate:,.0f} events/s: no manifest covered the window ({figures})")
        return final
    p50, p95 = np.percentile(lat, [50, 95])
    print(f"  latency at {rate:,.0f} events/s over {window:.0f} s ({lat.size:,d} ms of sends, "
          f"{len(seen)} manifests seen): p50 {p50 / 1e3:.2f} s, p95 {p95 / 1e3:.2f} s, max {lat.max() / 1e3:.2f} s "
          f"| batch duration mean {np.mean(durations):.0f} ms max {max(durations)} ms | {figures} "
          f"-> {'meets' if p95 <= 5000 else 'misses'} the p95 <= 5 s target", flush=True)
    return final


def _rate(r: float | None) -> str:
    return "none of those tried" if r is None else f"{r:,.0f} events/s"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m ecomdesk.bench spark")
    ap.add_argument("--rates", default="2500,5000,10000,25000,50000,75000",
                    help="comma-separated events/s to try, ascending (stops at the first whose backlog grows)")
    ap.add_argument("--window", type=float, default=120.0, help="seconds measured per rate (issue: 120)")
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds produced before each window")
    ap.add_argument("--latency-rate", type=float, default=1000.0)
    ap.add_argument("--latency-window", type=float, default=60.0)
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between contract polls (latency)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--home", type=Path, help="run in this (kept) directory instead of a temporary one")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r]

    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-spark-") as tmp:
        config = isolated_config(args.home or Path(tmp))
        print(f"spark job on {config.spark.master}, trigger {config.spark.trigger_seconds:g} s, "
              f"{config.kafka.partitions} partitions per topic, {os.cpu_count()} cores, {load()}", flush=True)
        sup = Supervisor(build_specs(config), config.paths.log_dir, config.paths.run_dir)
        progress = Progress()
        sup.subscribe_logs(progress)
        try:
            sup.start(STACK[:3])
            # the topics exist (and the JVMs are warm) before the job subscribes
            ledger = Ledger(progress)
            ledger.add(Producer(config, "--count", "2000", "--rate", "0").wait(120))
            t = time.monotonic()
            sup.start([JOB])
            print(f"spark-job ready in {time.monotonic() - t:.0f} s ({sup.status(JOB).message})", flush=True)
            if not args.skip_latency:
                print("event-to-readable latency:", flush=True)
                ledger.add(latency(config, progress, args.latency_rate, args.warmup, args.latency_window,
                                   args.poll))
            if not args.skip_throughput:
                print(f"sustained throughput (window {args.window:.0f} s after {args.warmup:.0f} s warm-up):",
                      flush=True)
                strict = bounded = None
                for rate in rates:
                    if not wait_caught_up(progress, ledger, 300):
                        print("  the job did not catch up between steps; stopping", flush=True)
                        break
                    step = throughput_step(config, progress, ledger, rate, args.warmup, args.window)
                    print_step(step)
                    strict = rate if step.holds and strict == bounded else strict
                    if not step.bounded:
                        break
                    bounded = rate
                print(f"highest rate with every batch below the trigger: {_rate(strict)}; "
                      f"highest rate with a bounded backlog: {_rate(bounded)}", flush=True)
        finally:
            sup.close()
    return 0
