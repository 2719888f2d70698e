"""`python -m ecomdesk.bench spark`: the ecomdesk job against a baseline and a ceiling, in one run.

One stack (NameNode, DataNode, Kafka) in a throwaway home on free ports, through the real
Supervisor; three jobs run on it one after the other, fed by the same producer subprocess (--flat),
each on its own topics and HDFS base path:
- ecomdesk: the app's job (jobs/ecommerce_stream.py);
- original: the classroom job's design, eight queries with their own Kafka reads (jobs/classroom_baseline.py);
- ceiling: Kafka -> parse -> raw Parquet and nothing else (jobs/ceiling_raw.py).

Per job, in this order:
1. warm-up: `--warmup` s at 1,000 events/s, then latency at 1,000 events/s for `--latency-window` s;
2. fixed cost per batch: ~5 events/s for `--fixed` s, batches of a few records: duration p50/p95
   and the medians of their phases (BatchReport.durations_ms: Spark's and the job's `job.*`);
3. drain capacity: a burst of `--burst` events as fast as the producer goes, timed until every query
   has read them all;
4. sustained rate: rates below that capacity (`--factors`), highest first, each 10 s at the rate
   and then a window of at least `--window` s and more than MIN_BATCHES batches of every query (up
   to 3x `--window`); the first whose backlog stays bounded is the job's. Backlog = Kafka's high
   watermarks (polled every 0.5 s) minus the end offsets of each query's last finished batch, worst
   query; bounded = sampled right after each batch of the window, its least-squares slope is below
   1 % of the rate (`spark_figures.bounded`). At that rate: what the job read per second (the
   table compares jobs on it, not on the offered rate), the cores it kept busy, batch duration
   p50/p95, core time per record (CPU of the job's process tree, user+system, over events read:
   each event once, however many queries read it) and wall time per record.

Latency: for every job, per batch, the time its report was printed minus the time the newest event
it read had arrived in Kafka (the watermark polls, so +-0.5 s; the events before it waited longer).
For ecomdesk also event-to-readable through the data contract, as before: the contract is polled
every ~100 ms; a new manifest's `max_event_time` is the send time of its newest event, and the
events it newly covers are those sent after the previous manifest's; each one's latency is (the
time a read of `sales_per_minute` returned - its send time), per millisecond of send time.

Scaling (`--masters`): the ecomdesk job's sustained rate on each Spark master, and per core.

`--stack-warmup S`: before anything is measured, the first job runs S s at 1,000 events/s on topics of its
own, unmeasured, so that the first job measured does not meet a stack and a page cache that only it
finds cold (with `--both-orders`, order 1's first job did, and its ratios differed most between orders).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecomdesk import service_names as names
from ecomdesk.bench.measure import load, percentiles
from ecomdesk.bench.spark_figures import (
    JobFigures,
    bounded,
    cpu_seconds,
    events_read,
    newest_covered_at,
    slope_per_s,
    table,
)
from ecomdesk.bench.spark_run import JobRun, Producer, Progress, Watermarks
from ecomdesk.config import Config
from ecomdesk.core.spec import ServiceSpec
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.door import build_supervisor
from ecomdesk.stack.spark_job import JobVariant, spark_job_spec
from ecomdesk.testing.sandbox import isolated_config

STORAGE = list(names.STORAGE)
# job -> its entry file and job arguments; "ecomdesk-inline" is the app's job publishing each batch before
# the next starts, as it did before publishing moved behind the next batch's Spark work; "ecomdesk-union"
# computes the partials with one SQL union over a local checkpoint, as it did before the one pass;
# "ecomdesk-wide" runs every batch in one task per Kafka partition, as the one pass did before small batches
# ran in one task per core
ENTRIES = {"ecomdesk": ("ecommerce_stream.py", ()), "original": ("classroom_baseline.py", ()),
           "ceiling": ("ceiling_raw.py", ()), "ecomdesk-inline": ("ecommerce_stream.py", ("--publish", "inline")),
           "ecomdesk-union": ("ecommerce_stream.py", ("--partials", "union")),
           "ecomdesk-wide": ("ecommerce_stream.py", ("--small-batch", "0"))}
WARM_RATE = 1000.0
STACK_WARMUP_ORDER = 9  # the unmeasured warm-up run's own service, topics and base path (`-r9`)
MIN_BATCHES = 5  # batches a rate's window must hold for a verdict


def job_service(config: Config, job: str, master: str, order: int = 0) -> tuple[ServiceSpec, str, str]:
    """The spec of `job` on `master` (service `bench-<job>-<cores>`, `-r<order>` after the first
    order: its own topics and data), its topic prefix and base path."""
    tag = f"{job}-{re.sub(r'[^0-9a-z]+', '', master.lower())}" + (f"-r{order}" if order else "")
    prefix, base = f"bench-{tag}-", f"/bench/{tag}"
    conf = dataclasses.replace(config, spark=dataclasses.replace(config.spark, master=master))
    entry, args = ENTRIES[job]
    variant = JobVariant(entry=entry, app_name=f"ecomdesk-bench-{tag}", base_path=base,
                         args=("--topic-prefix", prefix, *args))
    spec = spark_job_spec(conf, variant, name=f"bench-{tag}")
    return dataclasses.replace(spec, depends_on=()), prefix, base


@dataclass
class Seen:
    at: float  # wall-clock time the read through the contract returned
    batch_id: int
    max_event_us: int


def watch_manifests(config: Config, base: str, stop: threading.Event, out: list[Seen], interval: float) -> None:
    fs = hadoop_filesystem(config)
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


class Contract:
    """Polls the ecomdesk job's manifests in a thread (event-to-readable latency)."""

    def __init__(self, config: Config, base: str, interval: float):
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=watch_manifests, args=(config, base, self._stop, self.seen, interval),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


def _s(v: tuple[float, ...] | None) -> str:
    return "n/a" if v is None else f"p50 {v[0]:.2f} s, p95 {v[1]:.2f} s"


@dataclass
class Window:
    """What happened in [t0, t1) of one job: its batches, backlog after the first and the last, CPU and events read."""

    t0: float
    t1: float
    rate: float
    delivered: float
    batches: list
    backlogs: list[tuple[float, int]]  # (time, backlog) right after each batch that read something
    cpu_s: float
    events: int
    load: str

    @property
    def durations(self) -> list[int]:
        return [b.batch_duration_ms for _, b in self.batches if b.input_rows > 0]


class Bench:
    def __init__(self, config: Config, sup: Supervisor, progress: Progress, args: argparse.Namespace):
        self.config, self.sup, self.progress, self.args = config, sup, progress, args

    def produce(self, prefix: str, *args: str) -> Producer:
        return Producer(self.config, prefix, *args)

    def window(self, run: JobRun, producer: Producer, rate: float, t0: float, t1: float, cpu0: dict) -> Window:
        cpu1 = run.cpu()
        reads0, reads1 = self.progress.reads(run.service, t0), self.progress.reads(run.service, t1)
        # the backlog right after each batch: the bottoms of the sawtooth that batches draw (a batch
        # reads up to a batch's worth at once)
        backlogs = [(t, run.backlog(t + 1e-3)) for t in self._finished(run, t0, t1)]
        return Window(t0, t1, rate, producer.delivered_between(t0, t1), self.progress.of(run.service, t0, t1),
                      backlogs, cpu_seconds(cpu0, cpu1), events_read(reads0, reads1), load())

    def latency_batches(self, run: JobRun, t0: float, t1: float) -> tuple[float, ...] | None:
        """Report time minus the arrival in Kafka of the newest event each batch read (module doc)."""
        lat = []
        for t, b in self.progress.of(run.service, t0, t1):
            if b.input_rows > 0 and b.end_offsets:
                arrived = newest_covered_at(run.watermarks.samples, b.end_offsets)
                if arrived is not None:
                    lat.append(t - arrived)
        return percentiles(lat)

    def contract_latency(self, contract: Contract, t0: float, t1: float) -> tuple[float, ...] | None:
        return percentiles(latencies_ms(contract.seen, t0, t1) / 1000)

    # ----- the steps -------------------------------------------------------------------------
    def warm_and_latency(self, run: JobRun, prefix: str, fig: JobFigures, contract: Contract | None) -> None:
        a = self.args
        producer = self.produce(prefix, "--rate", str(WARM_RATE), "--duration", str(a.warmup + a.latency_window))
        time.sleep(a.warmup)
        t0 = time.time()
        time.sleep(a.latency_window)
        t1 = time.time()
        fig.latency_1k_load = load()
        producer.wait(120)
        time.sleep(5)  # the last batches of the window finish
        by_batch = self.latency_batches(run, t0, t1)
        line = (f"  latency at {WARM_RATE:,.0f}/s after {a.warmup:.0f} s warm-up, newest event of each batch: "
                f"{_s(by_batch)}")
        fig.latency_1k_s = by_batch
        if contract is not None:
            fig.latency_1k_s = self.contract_latency(contract, t0, t1)
            line += f"; event-to-readable through the contract: {_s(fig.latency_1k_s)}"
        print(f"{line} | {fig.latency_1k_load}", flush=True)

    def fixed_cost(self, run: JobRun, prefix: str, fig: JobFigures) -> None:
        run.wait_caught_up(120)
        producer = self.produce(prefix, "--rate", "5", "--duration", str(self.args.fixed))
        t0 = time.time() + 5  # the first batch may still carry the previous step's tail
        producer.wait(self.args.fixed + 60)
        t1 = time.time()
        fig.fixed_load = load()
        batches = [b for _, b in self.progress.of(run.service, t0, t1) if b.input_rows > 0]
        fig.fixed_ms = percentiles([b.batch_duration_ms for b in batches])
        phases: dict[str, list[int]] = {}
        for b in batches:
            for k, v in b.durations_ms.items():
                phases.setdefault(k, []).append(v)
        medians = ", ".join(f"{k} {np.median(v):.0f}" for k, v in sorted(phases.items()) if k != "triggerExecution")
        rows = np.median([b.input_rows for b in batches]) if batches else 0
        print(f"  fixed cost: {len(batches)} batches of ~{rows:.0f} records: duration "
              f"{'n/a' if not fig.fixed_ms else f'p50 {fig.fixed_ms[0]:.0f} ms, p95 {fig.fixed_ms[1]:.0f} ms'} "
              f"| phase medians (ms): {medians or 'n/a'} | {fig.fixed_load}", flush=True)

    def capacity(self, run: JobRun, prefix: str) -> float | None:
        run.wait_caught_up(120)
        n = self.args.burst
        t0 = time.time()
        producer = self.produce(prefix, "--rate", "0", "--count", str(n))
        producer.wait(600)
        produced = time.time() - t0
        done = run.wait_caught_up(self.args.drain_timeout)
        read = n if done is not None else events_read(self.progress.reads(run.service, t0),
                                                      self.progress.reads(run.service, time.time()))
        done = done or max((t for t, _ in self.progress.of(run.service, t0)), default=time.time())
        # from the start of the first batch that read the burst (not from the burst: the job was
        # idle until then) to the end of the batch that read its last event
        starts = [t - b.batch_duration_ms / 1000 for t, b in self.progress.of(run.service, t0) if b.input_rows]
        began = max(t0, min(starts, default=t0))
        if not read or done <= began:
            print(f"  drain capacity: nothing of a burst of {n:,d} read in {self.args.drain_timeout:.0f} s "
                  f"| {load()}", flush=True)
            return None
        cap = read / (done - began)
        print(f"  drain capacity: {n:,d} events produced in {produced:.1f} s, {read:,d} read by batches from "
              f"{began - t0:.1f} s to {done - t0:.1f} s after the burst began: {cap:,.0f} events/s | {load()}",
              flush=True)
        return cap

    def step(self, run: JobRun, prefix: str, rate: float, contract: Contract | None) -> tuple[Window, bool]:
        """`rate` for 10 s, then a window of at least --window s and MIN_BATCHES batches (up to 3x
        --window): one batch's worth of growth over fewer batches would pass for bounded at any rate."""
        run.wait_caught_up(self.args.drain_timeout)
        longest = 3 * self.args.window
        producer = self.produce(prefix, "--rate", f"{rate:.0f}", "--duration", str(10 + longest))
        time.sleep(10)
        t0, cpu0 = time.time(), run.cpu()
        time.sleep(self.args.window)
        while self._fewest(run, t0, time.time()) <= MIN_BATCHES and time.time() < t0 + longest:
            time.sleep(0.5)
        t1 = time.time()
        w = self.window(run, producer, rate, t0, t1, cpu0)
        producer.stop()
        producer.wait(120)
        enough = self._fewest(run, t0, t1) > MIN_BATCHES
        ok = enough and w.delivered >= 0.95 * rate and bounded(w.backlogs, rate, MIN_BATCHES)
        first, last = (w.backlogs[0][1], w.backlogs[-1][1]) if w.backlogs else (None, None)
        p = percentiles(w.durations)
        lat = self.latency_batches(run, t0, t1)
        print(f"  R={rate:>8,.0f}/s delivered {w.delivered:>8,.0f}/s | {len(w.durations)} batches in {t1 - t0:.0f} s, "
              f"duration {'n/a' if p is None else f'p50 {p[0]:.0f} ms p95 {p[1]:.0f} ms'} | backlog after the "
              f"first batch {first} and after the last {last}, slope {slope_per_s(w.backlogs):+,.0f}/s | read "
              f"{w.events / (t1 - t0):,.0f}/s, {w.cpu_s / (t1 - t0):.2f} cores busy | latency (newest event of a "
              f"batch) {_s(lat)} | {w.load} -> backlog bounded: {'yes' if ok else 'NO'}"
              f"{'' if enough else f' (not more than {MIN_BATCHES} batches)'}", flush=True)
        return w, ok

    def _fewest(self, run: JobRun, t0: float, t1: float) -> int:
        """Batches that read something in [t0, t1), of the query with the fewest (the baseline has eight)."""
        per_query: dict[str, int] = {}
        for _, b in self.progress.of(run.service, t0, t1):
            per_query[b.query] = per_query.get(b.query, 0) + (b.input_rows > 0)
        return min(per_query.values(), default=0)

    def _finished(self, run: JobRun, t0: float, t1: float) -> list[float]:
        """When the batches that read something finished, in [t0, t1) (the baseline's: any query's)."""
        return [t for t, b in self.progress.of(run.service, t0, t1) if b.input_rows > 0]

    def sustained(self, run: JobRun, prefix: str, fig: JobFigures, rates: list[float],
                  contract: Contract | None) -> None:
        for rate in rates:
            w, ok = self.step(run, prefix, rate, contract)
            if not ok:
                continue
            fig.sustained, fig.sustained_load = rate, w.load
            fig.read_per_s, fig.cores_busy = w.events / (w.t1 - w.t0), w.cpu_s / (w.t1 - w.t0)
            fig.batch_ms = percentiles(w.durations)
            if w.events:
                fig.core_ms_per_record = w.cpu_s * 1000 / w.events
                fig.wall_ms_per_record = sum(b.batch_duration_ms for _, b in w.batches) / w.events
            fig.latency_top_s = (self.contract_latency(contract, w.t0, w.t1) if contract is not None
                                 else self.latency_batches(run, w.t0, w.t1))
            return
        print("  no rate tried kept the backlog bounded", flush=True)

    def warm_stack(self, job: str, master: str, seconds: float) -> None:
        """`job` for `seconds` at WARM_RATE, unmeasured (`--stack-warmup`)."""
        spec, prefix, _ = job_service(self.config, job, master, STACK_WARMUP_ORDER)
        self.produce(prefix, "--count", "2000", "--rate", "0").wait(120)
        try:
            self.sup.start([spec.name])
            self.produce(prefix, "--rate", str(WARM_RATE), "--duration", str(seconds)).wait(seconds + 120)
        finally:
            self.sup.stop([spec.name])
        print(f"stack warm-up: {job} ran {seconds:.0f} s at {WARM_RATE:,.0f} events/s, not measured | {load()}",
              flush=True)

    def job(self, job: str, master: str, short: bool = False, order: int = 0) -> JobFigures:
        spec, prefix, base = job_service(self.config, job, master, order)
        fig = JobFigures(job, master)
        print(f"{job} on {master} ({spec.name}, topics {prefix}*, {base}):", flush=True)
        self.produce(prefix, "--count", "2000", "--rate", "0").wait(120)  # the topics exist before the job reads
        watermarks = Watermarks(self.config.kafka_bootstrap, [prefix + t for t in C.TOPICS])
        run = JobRun(self.sup, spec.name, self.progress, watermarks)
        contract = Contract(self.config, base, self.args.poll) if ENTRIES[job][0] == "ecommerce_stream.py" else None
        try:
            t = time.monotonic()
            self.sup.start([spec.name])
            print(f"  ready in {time.monotonic() - t:.0f} s ({self.sup.status(spec.name).message}) | {load()}",
                  flush=True)
            self.warm_and_latency(run, prefix, fig, contract)
            if not short:
                self.fixed_cost(run, prefix, fig)
            rates = self.args.rates
            if not rates:
                cap = self.capacity(run, prefix)
                rates = [_round(cap * f) for f in self.args.factors] if cap else []
            self.sustained(run, prefix, fig, rates, contract)
        finally:
            self.sup.stop([spec.name])
            watermarks.close()
            if contract is not None:
                contract.close()
        return fig


def _round(x: float) -> float:
    """Two significant figures."""
    return float(f"{x:.2g}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m ecomdesk.bench spark", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", default="ecomdesk,original,ceiling", help="comma-separated, of " + ",".join(ENTRIES))
    ap.add_argument("--masters", default="local[1],local[2]",
                    help="Spark masters for the ecomdesk job's scaling (the last one runs every job)")
    ap.add_argument("--rates", default="", help="comma-separated events/s to try, highest first, instead of "
                                                "searching below the drain capacity")
    ap.add_argument("--factors", default="0.85,0.65,0.45", help="fractions of the drain capacity to try")
    ap.add_argument("--burst", type=int, default=150_000, help="events of the drain-capacity burst")
    ap.add_argument("--drain-timeout", type=float, default=180.0)
    ap.add_argument("--window", type=float, default=40.0, help="seconds measured per rate")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds at 1,000 events/s before any measure")
    ap.add_argument("--latency-window", type=float, default=40.0, help="seconds of latency at 1,000 events/s")
    ap.add_argument("--fixed", type=float, default=30.0, help="seconds at ~5 events/s (fixed cost per batch)")
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between contract polls (latency)")
    ap.add_argument("--home", type=Path, help="run in this (kept) directory instead of a temporary one")
    ap.add_argument("--stack-warmup", type=float, default=0.0, metavar="S",
                    help="run the first job S s, unmeasured, before anything is measured (default 0: none)")
    ap.add_argument("--both-orders", action="store_true",
                    help="run the jobs again in the reverse order (A, B, then B, A) to bracket the machine's drift")
    args = ap.parse_args(argv)
    args.rates = sorted((float(r) for r in args.rates.split(",") if r), reverse=True)
    args.factors = sorted((float(f) for f in args.factors.split(",") if f), reverse=True)
    jobs = [j for j in args.jobs.split(",") if j]
    masters = [m for m in args.masters.split(",") if m]
    if unknown := set(jobs) - set(ENTRIES):
        ap.error(f"unknown job(s) {', '.join(sorted(unknown))}; known: {', '.join(ENTRIES)}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out
    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-spark-") as tmp:
        config = isolated_config(args.home or Path(tmp))
        main_master = masters[-1] if masters else config.spark.master
        runs = [(j, main_master, False, 0) for j in jobs]
        if args.both_orders:  # the same jobs again, last first: the machine's drift shows as a difference
            runs += [(j, main_master, False, 1) for j in reversed(jobs)]
        runs += [("ecomdesk", m, True, 0) for m in masters[:-1] if "ecomdesk" in jobs]
        specs = [s for s in build_specs(config) if s.name in STORAGE]
        specs += [job_service(config, j, m, o)[0] for j, m, _, o in runs]
        if args.stack_warmup:
            specs.append(job_service(config, jobs[0], main_master, STACK_WARMUP_ORDER)[0])
        print(f"spark jobs {', '.join(jobs)} on {main_master} (scaling: {', '.join(masters)}), trigger "
              f"{config.spark.trigger_seconds:g} s, {config.kafka.partitions} partitions per topic, "
              f"{os.cpu_count()} cores, {load()}", flush=True)
        sup = build_supervisor(config, specs)
        progress = Progress()
        sup.subscribe_logs(progress)
        bench = Bench(config, sup, progress, args)
        ordered: list[tuple[int, JobFigures]] = []
        try:
            t = time.monotonic()
            sup.start(STORAGE)
            print(f"storage up in {time.monotonic() - t:.0f} s | {load()}", flush=True)
            if args.stack_warmup:
                bench.warm_stack(jobs[0], main_master, args.stack_warmup)
            for job, master, short, order in runs:
                ordered.append((order, bench.job(job, master, short, order)))
        finally:
            sup.close()
        for order in sorted({o for o, _ in ordered}):
            rows = [f for o, f in ordered if o == order]
            print(f"order {order + 1}: {' -> '.join(f.job for f in rows if f.master == main_master)}")
            print(table(rows))
        scale = [f for o, f in ordered if f.job == "ecomdesk" and o == 0]  # each master once
        for f in scale:
            m = re.fullmatch(r"local\[(\d+)\]", f.master)
            cores = int(m.group(1)) if m else None
            per_core = f"{f.sustained / cores:,.0f}/s per core" if f.sustained and cores else "n/a per core"
            print(f"scaling: ecomdesk on {f.master}: {f.sustained or 0:,.0f} events/s sustained, {per_core} "
                  f"| {f.sustained_load or 'n/a'}")
    return 0
