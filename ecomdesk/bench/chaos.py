"""`scripts/bench chaos [--minutes M] [--rate R] [--faults N] [--seed S]`: the whole stack under faults.

The whole stack (NameNode, DataNode, Kafka, the Spark job and the producer, all five as services of
the real Supervisor with its restart policy) runs in a throwaway home on free ports, the producer
at R events/s with 2 % invalid events and a crash-safe ledger directory (one journal per producer
process: `ecomdesk.producer.ledger`). Every 20-40 s (from one fault's start to the next; never
while a SIGSTOP is still in effect) one fault hits one service: SIGKILL of its process group, or
SIGSTOP of the group for 10-30 s, then SIGCONT. With `--after-recovery` the gap starts when the
previous fault has recovered instead, so faults never overlap. The job starts last, once Kafka
holds events, so its first run must read from the earliest offsets. With `--final-job-kill` the
job is SIGKILLed once more after the pipeline is whole again: a checkpoint that a recovered run
wrote must recover too (the suite's short run does that). Services are drawn in shuffled rounds
of all five (seeded), so any N >= 5 faults hit every service; the kind is a coin toss. A fault
waits until its target is up (running or unhealthy, with a process). The chaos lasts M minutes and at least N faults.

Recovery of a fault: from its end (the SIGKILL, or the SIGCONT) until the pipeline is whole again:
all five services `running` and the job has committed a batch with input after that (a
`spark_progress` line of the job). If the next fault comes first, the recovery includes it.

End check: the last faults' recoveries are awaited, the producer is stopped (a user Stop), the job
drains Kafka (its counted events and quarantine reach the messages in the topics, and it reports
having nothing more to read since its last batch with input), then the truth
is built from the ledgers settled against the topics (`ecomdesk.bench.truth`) and compared with
what the job wrote, read through the data contract: every aggregate equals the independent pandas
computation (`ecomdesk.testing.reference`: counts exact, sums within 1e-6), no key appears twice,
the quarantine holds exactly the invalid events sent, and per Kafka coordinates nothing was lost,
doubled or unexpected. After `Supervisor.close()` no process of the run may remain: neither any
process seen in a service's process tree during the run, nor any process whose command line or
environment names the run's home.

stdout carries the figures; progress and the supervisor's decisions go to stderr.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from math import nan
from pathlib import Path

import pandas as pd
import psutil

from ecomdesk import service_names as names
from ecomdesk.bench.measure import load, percentiles
from ecomdesk.bench.truth import Truth, build_truth, compare_events, topic_counts
from ecomdesk.config import Config
from ecomdesk.core.events import Event, StateChanged
from ecomdesk.core.process import killpg
from ecomdesk.core.spec import UP, State
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.data import contract as C
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.door import build_supervisor
from ecomdesk.stack.producer import producer_spec
from ecomdesk.telemetry import BatchReport, IdleReport, parse
from ecomdesk.testing.reference import aggregates, assert_same
from ecomdesk.testing.sandbox import isolated_config

SERVICES = (*names.STORAGE, names.SPARK_JOB, names.PRODUCER)
JOB, PRODUCER = names.SPARK_JOB, names.PRODUCER
KINDS = ("SIGKILL", "SIGSTOP")


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Options:
    minutes: float = 30.0
    rate: float = 1000.0
    faults: int = 5  # at least this many, whatever the minutes (>= 5 hits every service)
    seed: int = 1
    invalid_fraction: float = 0.02
    gap: tuple[float, float] = (20.0, 40.0)  # seconds between fault starts
    pause: tuple[float, float] = (10.0, 30.0)  # SIGSTOP duration
    warmup: float = 20.0  # seconds of steady pipeline before the first fault
    after_recovery: bool = False  # the gap counts from the previous fault's recovery (no overlapping faults)
    target_timeout: float = 420.0  # a fault's target must be up again by then
    settle_timeout: float = 600.0  # end: the pipeline whole again
    drain_timeout: float = 600.0  # end: the job has counted everything in Kafka
    restart_attempts: int | None = None  # override [restart] attempts (default: the config's default)
    restart_backoff: float | None = None  # override [restart] backoff_seconds (the first restart's wait)
    # once the pipeline is whole after the faults, SIGKILL the job once more: a checkpoint that a
    # recovered run wrote must recover too
    final_job_kill: bool = False
    home: Path | None = None


@dataclass
class Fault:
    n: int
    service: str
    kind: str
    pause: float
    waited: float = 0.0  # for the target to be up
    start: float = 0.0
    end: float = 0.0
    pgid: int = 0
    recovered_at: float | None = None
    overlapped: bool = False  # the next fault came before this one recovered

    @property
    def recovery(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.end

    @property
    def outage(self) -> float | None:
        """From the fault's start (a SIGSTOP's pause included) to the recovery."""
        return None if self.recovered_at is None else self.recovered_at - self.start


@dataclass
class Result:
    options: Options
    faults: list[Fault] = field(default_factory=list)
    started: float = 0.0
    chaos_seconds: float = 0.0
    before_job: int = 0  # events in Kafka when the job first started: its first run must read them too
    truth: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    aggregates: dict[str, str] = field(default_factory=dict)  # name -> "equal" or the difference
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    quarantine: dict = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    final_states: dict[str, str] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)  # the supervisor's [ecomdesk] log lines
    tracked_processes: int = 0
    orphans: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def plan(seed: int, opts: Options):
    """Endless (service, kind, pause, gap) draws: services in shuffled rounds of all five."""
    rng = random.Random(seed)
    while True:
        order = list(SERVICES)
        rng.shuffle(order)
        for service in order:
            yield service, rng.choice(KINDS), rng.uniform(*opts.pause), rng.uniform(*opts.gap)


class Watch:
    """The supervisor's log lines and events: batches, wholeness (all services running, from their state
    changes as they happen), recoveries, and every process seen in a service's tree, sampled (for the
    orphan check)."""

    def __init__(self, sup: Supervisor, result: Result):
        self.sup, self.result = sup, result
        self.lock = threading.Lock()
        self.batches: list[float] = []  # times of job batches that had input
        self.idle: list[float] = []  # times the job reported it had nothing to read
        self.whole_since: float | None = None
        self.states = {name: str(State.STOPPED) for name in SERVICES}
        self.seen: dict[int, tuple[float, str]] = {}  # pid -> (create time, service)
        self.stop = threading.Event()
        self._unsubscribe = sup.subscribe_logs(self._line)
        self._unsubscribe_events = sup.events.subscribe(self._event, since=0)
        self._thread = threading.Thread(target=self._loop, name="chaos-watch", daemon=True)
        self._thread.start()

    def _line(self, service: str, line: str) -> None:
        now = time.time()
        record = parse(line) if service == JOB else None
        if isinstance(record, BatchReport):
            if record.input_rows > 0:
                with self.lock:
                    self.batches.append(now)
        elif isinstance(record, IdleReport):
            with self.lock:
                self.idle.append(now)
        elif line.startswith("[ecomdesk]") and not line.startswith("[ecomdesk] starting:"):
            entry = f"{time.strftime('%H:%M:%S', time.localtime(now))} {service}: {line[11:]}"
            with self.lock:
                self.result.decisions.append(entry)
            log(f"supervisor: {service}: {line[11:]}")

    def _event(self, event: Event) -> None:
        if not isinstance(event, StateChanged) or event.service not in self.states:
            return
        with self.lock:
            self.states[event.service] = event.new
            if any(state != State.RUNNING for state in self.states.values()):
                self.whole_since = None
            elif self.whole_since is None:
                self.whole_since = event.at

    def whole(self) -> bool:
        with self.lock:
            return self.whole_since is not None

    def idle_since_input(self) -> bool:
        """Whether the job has reported nothing to read since its last batch with input."""
        with self.lock:
            return bool(self.idle) and (not self.batches or self.idle[-1] > self.batches[-1])

    def batch_after(self, t: float) -> float | None:
        with self.lock:
            i = bisect.bisect_right(self.batches, t)
            return self.batches[i] if i < len(self.batches) else None

    def _loop(self) -> None:
        n = 0
        while not self.stop.wait(0.5):
            now = time.time()
            with self.lock:
                since = self.whole_since
            if since is not None:
                for f in self.result.faults:
                    if f.recovered_at is None and f.end and now > f.end:
                        b = self.batch_after(max(f.end, since))
                        if b is not None:
                            f.recovered_at = b
                            log(f"fault {f.n} ({f.kind} {f.service}) recovered in {f.recovery:.1f} s")
            n += 1
            if n % 2 == 0:
                self.track()

    def track(self) -> None:
        for s in self.sup.snapshot():
            if s.pid is None:
                continue
            try:
                root = psutil.Process(s.pid)
                for p in [root, *root.children(recursive=True)]:
                    self.seen.setdefault(p.pid, (p.create_time(), s.name))
            except psutil.Error:
                continue

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        self._unsubscribe()
        self._unsubscribe_events()


def _same_process(pid: int, ctime: float) -> bool:
    try:
        p = psutil.Process(pid)
        return p.create_time() == ctime and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def inject(sup: Supervisor, watch: Watch, fault: Fault, opts: Options, result: Result) -> bool:
    """Wait for the target to be up, then hit it; False when it never came up."""
    t0 = time.time()
    while True:
        st = sup.status(fault.service)
        if st.state in UP and st.pid:
            break
        if time.time() - t0 > opts.target_timeout:
            result.problems.append(f"fault {fault.n}: {fault.service} not up after {opts.target_timeout:.0f} s "
                                   f"(state {st.state}: {st.message})")
            return False
        time.sleep(0.2)
    fault.waited = time.time() - t0
    watch.track()
    pgid = fault.pgid = st.pid
    try:
        ctime = psutil.Process(pgid).create_time()
    except psutil.Error:
        ctime = 0.0
    for f in result.faults:
        if f.recovered_at is None:
            f.overlapped = True
    result.faults.append(fault)
    fault.start = time.time()
    if fault.kind == "SIGKILL":
        killpg(pgid, signal.SIGKILL)
        # The supervisor notices within its 1 s tick; until then the stack still looks whole, and a
        # batch committed meanwhile would count as a recovery. The recovery is still timed from the kill.
        while sup.status(fault.service).pid == pgid and time.time() - fault.start < 10:
            time.sleep(0.05)
        fault.end = fault.start
        log(f"fault {fault.n}: SIGKILL {fault.service} (group {pgid}); {load()}")
        return True
    killpg(pgid, signal.SIGSTOP)
    log(f"fault {fault.n}: SIGSTOP {fault.service} (group {pgid}) for {fault.pause:.1f} s; {load()}")
    time.sleep(fault.pause)
    if _same_process(pgid, ctime):
        killpg(pgid, signal.SIGCONT)
        log(f"fault {fault.n}: SIGCONT {fault.service} (group {pgid})")
    else:
        log(f"fault {fault.n}: {fault.service} group {pgid} is gone (the supervisor replaced it); no SIGCONT")
    fault.end = time.time()
    return True


def chaos_specs(config: Config, ledger: Path):
    """The catalog's specs, with the producer writing its journals into `ledger`."""
    specs = build_specs(config)
    out = []
    for s in specs:
        if s.name == PRODUCER:
            s = dataclasses.replace(producer_spec(config, ledger), depends_on=s.depends_on, restart=s.restart)
        out.append(s)
    return out


def wait_whole(watch: Watch, after: float, timeout: float) -> float | None:
    """Until all services run and a batch with input committed after `after` (and after they all ran)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with watch.lock:
            since = watch.whole_since
        if since is not None:
            b = watch.batch_after(max(after, since))
            if b is not None:
                return b
        time.sleep(0.5)
    return None


def kafka_messages(config: Config) -> int:
    return sum(topic_counts(config.kafka_bootstrap).values())


def counted(fs, base: str) -> int:
    overall = C.read_current(fs, "conversion_overall", base)
    views = C.read_current(fs, "views_by_category", base)["views"].sum()
    bad = C.quarantine_counts(fs, base)["count"].sum()
    return (int(overall[["carts", "purchases"]].sum().sum()) if len(overall) else 0) + int(views) + int(bad)


def drain(config: Config, fs, watch: Watch, total: int, timeout: float) -> int:
    """Until the job has counted `total` records (valid + quarantined) and then reported that it has
    nothing more to read (so no later batch can bring a record twice); returns the count reached."""
    base = config.hdfs.base_path
    deadline = time.time() + timeout
    seen, last_log = -1, 0.0
    while time.time() < deadline:
        try:
            seen = counted(fs, base)
        except Exception as exc:  # the contract is read while the job may still write: retry
            log(f"drain: read failed ({type(exc).__name__}: {exc}); retrying")
            time.sleep(2)
            continue
        if seen >= total and watch.idle_since_input():
            break
        if time.time() - last_log > 15:
            log(f"drain: job counted {seen:,d} of {total:,d} messages in Kafka")
            last_log = time.time()
        time.sleep(0.5)
    return counted(fs, base)


def check_output(config: Config, fs, truth: Truth, result: Result) -> None:
    base = config.hdfs.base_path
    expected = aggregates(truth.valid)
    for name in C.AGGREGATES:
        got = C.read_current(fs, name, base)
        keys = C.AGGREGATE_KEYS[name]
        dups = int(got.duplicated(list(keys)).sum()) if keys else max(0, len(got) - 1)
        result.duplicate_keys[name] = dups
        if dups:
            result.problems.append(f"{name}: {dups} key(s) appear more than once")
        try:
            assert_same(name, got, expected[name], keys)
            result.aggregates[name] = "equal"
        except AssertionError as exc:
            result.aggregates[name] = str(exc).splitlines()[0]
            result.problems.append(f"aggregate {result.aggregates[name]}")
    qcounts = int(C.quarantine_counts(fs, base)["count"].sum())
    quarantine = C.read_quarantine(fs, base)
    raw = pd.concat([C.read_events(fs, kind, base)[["topic", "partition", "offset"]] for kind in C.RAW_DIRS],
                    ignore_index=True)
    sent_invalid = truth.figures["truth invalid"]
    result.quarantine = {"invalid sent": sent_invalid, "quarantine counts": qcounts, "quarantine rows": len(quarantine)}
    if not qcounts == len(quarantine) == sent_invalid:
        result.problems.append(f"quarantine: counts {qcounts}, rows {len(quarantine)}, invalid sent {sent_invalid}")
    result.events = compare_events(truth, raw, quarantine)
    e = result.events
    for k in ("lost", "doubled", "unexpected", "wrong side"):
        if e[k]:
            result.problems.append(f"events {k}: {e[k]} (sample {e.get(k + ' sample', '')})")
    for k in ("in Kafka, not in any ledger", "acknowledged twice at one offset"):
        if truth.figures.get(k):
            result.problems.append(f"{k}: {truth.figures[k]}")


def find_orphans(home: Path, seen: dict[int, tuple[float, str]], wait: float = 15.0) -> list[str]:
    """Processes of the run still alive after close (waits a little for those exiting)."""
    deadline = time.time() + wait
    me = os.getpid()
    while True:
        left = []
        for pid, (ctime, service) in seen.items():
            if _same_process(pid, ctime):
                left.append(f"pid {pid} ({service}): {' '.join(_cmdline(pid))[:160]}")
        for p in psutil.process_iter(["pid", "cmdline", "environ", "status"]):
            if p.info["pid"] == me or p.info["pid"] in seen or p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            env = p.info["environ"] or {}
            if str(home) in cmd or env.get("ECOMDESK_HOME") == str(home):
                left.append(f"pid {p.info['pid']}: {cmd[:160]}")
        if not left or time.time() > deadline:
            return left
        time.sleep(1)


def _cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


class ChaosRun:
    """One run's throwaway home, Supervisor and watcher, driven in stages: `start`, `faults`,
    `final_job_kill`, `end_check` (after which `resume` starts the producer again), then `close`.
    `run` takes them in that order; the suite's tests share one started run and take a stage each."""

    def __init__(self, opts: Options):
        self.opts, self.result = opts, Result(opts)
        self._tmp = tempfile.TemporaryDirectory(prefix="ecomdesk-chaos-")
        self.home = (opts.home or Path(self._tmp.name)).resolve()
        config = isolated_config(self.home)
        config.producer = dataclasses.replace(config.producer, rate=opts.rate, flat=True,  # R at any hour
                                              invalid_fraction=opts.invalid_fraction, seed=None)
        if opts.restart_attempts is not None:
            config.restart = dataclasses.replace(config.restart, attempts=opts.restart_attempts)
        if opts.restart_backoff is not None:
            config.restart = dataclasses.replace(config.restart, backoff_seconds=opts.restart_backoff)
        config.save()
        self.config, self.ledger = config, self.home / "ledger"
        self._old_home = os.environ.get("ECOMDESK_HOME")
        os.environ["ECOMDESK_HOME"] = str(self.home)  # every process of the run carries it (orphan check)
        self.sup = build_supervisor(config, chaos_specs(config, self.ledger))
        self.watch = Watch(self.sup, self.result)
        self._unchecked = 0  # the first fault that no end check has looked at yet
        self._fs = None  # the contract's file system, from the first end check on

    def start(self) -> None:
        """Everything but the job, then the job once Kafka holds events (its first run starts from the
        earliest offsets, and the end check finds any of those events it skipped); then until the
        pipeline is whole and the warm-up is over."""
        opts, result = self.opts, self.result
        result.started = time.time()
        result.load.append(f"start {load()}")
        log(f"home {self.home}; starting {', '.join(SERVICES)}; {load()}")
        self.sup.start([s for s in SERVICES if s != JOB])
        deadline = time.time() + opts.settle_timeout
        while (held := kafka_messages(self.config)) == 0:
            if time.time() > deadline:
                raise RuntimeError(f"Kafka held no event {opts.settle_timeout:.0f} s after the producer started")
            time.sleep(0.2)
        result.before_job = held
        log(f"Kafka holds {held:,d} events; starting {JOB}")
        self.sup.start([JOB])
        if wait_whole(self.watch, time.time(), opts.settle_timeout) is None:
            raise RuntimeError("the pipeline never became whole after the start")
        log(f"pipeline whole in {time.time() - result.started:.0f} s; warm-up {opts.warmup:.0f} s")
        time.sleep(opts.warmup)

    def faults(self) -> None:
        """Faults by the seeded plan (at least `opts.faults`, for at least `opts.minutes`), then until the
        pipeline is whole again after the last."""
        opts, result = self.opts, self.result
        t0 = time.time()
        draws = plan(opts.seed, opts)
        next_at, n = t0, 0
        while n < opts.faults or time.time() - t0 < opts.minutes * 60:
            service, kind, pause, gap = next(draws)
            time.sleep(max(0.0, next_at - time.time()))
            n += 1
            fault = Fault(len(result.faults) + 1, service, kind, pause)
            if not inject(self.sup, self.watch, fault, opts, result):
                break
            next_at = max(fault.start + gap, fault.end + 1.0)
            if opts.after_recovery:
                recovered = wait_whole(self.watch, fault.end, opts.settle_timeout)
                if recovered is None:
                    result.problems.append(f"fault {fault.n} ({kind} {service}) not recovered after "
                                           f"{opts.settle_timeout:.0f} s")
                    break
                next_at = recovered + gap
        result.chaos_seconds += time.time() - t0
        result.load.append(f"after chaos {load()}")
        log(f"chaos over: {n} faults in {time.time() - t0:.0f} s; waiting for the pipeline")
        last_end = max((f.end for f in result.faults), default=time.time())
        if wait_whole(self.watch, last_end, opts.settle_timeout) is None:
            states = {s.name: f"{s.state} ({s.message})" for s in self.sup.snapshot()}
            result.problems.append(f"pipeline not whole {opts.settle_timeout:.0f} s after the last fault: {states}")

    def final_job_kill(self) -> None:
        """SIGKILL the job, whose checkpoint a recovered run wrote (a batch committed since), and wait
        for the pipeline to be whole again."""
        fault = Fault(len(self.result.faults) + 1, JOB, "SIGKILL", 0.0)
        if not inject(self.sup, self.watch, fault, self.opts, self.result):
            return
        if wait_whole(self.watch, fault.end, self.opts.settle_timeout) is None:
            self.result.problems.append(f"the job's SIGKILL {fault.n} not recovered after "
                                        f"{self.opts.settle_timeout:.0f} s")

    def end_check(self) -> None:
        """Stop the producer (a user Stop), wait until the job has drained Kafka, and compare what it
        wrote with the truth of every ledger of the run."""
        result = self.result
        time.sleep(1.0)  # the watcher marks the last recoveries
        for f in result.faults[self._unchecked:]:
            if f.recovered_at is None:
                result.problems.append(f"fault {f.n} ({f.kind} {f.service}) never recovered")
        self._unchecked = len(result.faults)
        self.sup.stop([PRODUCER])
        log(f"producer stopped ({self.sup.status(PRODUCER).message})")
        if self._fs is None:
            from ecomdesk.data.hdfs import hadoop_filesystem  # starts a JVM in this process: only now

            self._fs = hadoop_filesystem(self.config)
        total = kafka_messages(self.config)
        t = time.time()
        reached = drain(self.config, self._fs, self.watch, total, self.opts.drain_timeout)
        log(f"drain: job counted {reached:,d} of {total:,d} messages in Kafka after {time.time() - t:.0f} s")
        if reached < total:
            result.problems.append(f"the job counted {reached:,d} records, Kafka holds {total:,d}")
        truth = build_truth(self.ledger, self.config.kafka_bootstrap)
        result.truth = truth.figures
        check_output(self.config, self._fs, truth, result)

    def resume(self) -> None:
        """The producer running again after an end check (nothing to do otherwise), and the pipeline
        whole with a batch committed since."""
        if self.sup.status(PRODUCER).state in UP:
            return
        t = time.time()
        self.sup.start([PRODUCER])
        if wait_whole(self.watch, t, self.opts.settle_timeout) is None:
            raise RuntimeError(f"the pipeline not whole {self.opts.settle_timeout:.0f} s after the producer's start")

    def close(self) -> None:
        """Stop everything, and find any process of the run left behind."""
        result = self.result
        try:
            result.restarts = {s.name: s.restarts for s in self.sup.snapshot()}
            result.final_states = {s.name: s.state for s in self.sup.snapshot()}
            self.watch.track()
            self.watch.close()
        finally:
            t = time.time()
            self.sup.close()
            log(f"supervisor closed in {time.time() - t:.1f} s")
            if self._old_home is None:
                os.environ.pop("ECOMDESK_HOME", None)
            else:
                os.environ["ECOMDESK_HOME"] = self._old_home
        result.tracked_processes = len(self.watch.seen)
        result.orphans = find_orphans(self.home, self.watch.seen)
        if result.orphans:
            result.problems.append(f"{len(result.orphans)} process(es) of the run left after close")
        result.load.append(f"end {load()}")
        self._tmp.cleanup()


def run(opts: Options) -> Result:
    chaos = ChaosRun(opts)
    try:
        chaos.start()
        chaos.faults()
        if opts.final_job_kill and not chaos.result.problems:
            chaos.final_job_kill()
        chaos.end_check()
    except Exception as exc:
        chaos.result.problems.append(f"run aborted: {type(exc).__name__}: {exc}")
        log(f"run aborted: {type(exc).__name__}: {exc}")
    finally:
        chaos.close()
    return chaos.result


# ----- report ---------------------------------------------------------------------------------
def report(r: Result, out=sys.stdout) -> None:
    o = r.options
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"chaos run: rate {o.rate:g} events/s, {o.invalid_fraction:.0%} invalid, seed {o.seed}, "
      f"{len(r.faults)} faults in {r.chaos_seconds / 60:.1f} min (gaps {o.gap[0]:g}-{o.gap[1]:g} s, "
      f"SIGSTOP {o.pause[0]:g}-{o.pause[1]:g} s), {os.cpu_count()} cores, load {'; '.join(r.load)}")
    p("faults by kind and service:")
    by = Counter((f.service, f.kind) for f in r.faults)
    p(f"  {'service':<15} {'SIGKILL':>8} {'SIGSTOP':>8} {'total':>6}   recovery p50 / max (s)")
    for s in SERVICES:
        rec = [f.recovery for f in r.faults if f.service == s and f.recovery is not None]
        fig = f"{statistics.median(rec):6.1f} / {max(rec):6.1f}" if rec else "     - / -"
        p(f"  {s:<15} {by[(s, 'SIGKILL')]:>8} {by[(s, 'SIGSTOP')]:>8} "
          f"{by[(s, 'SIGKILL')] + by[(s, 'SIGSTOP')]:>6}   {fig}")
    p(f"  {'all':<15} {sum(by[(s, 'SIGKILL')] for s in SERVICES):>8} "
      f"{sum(by[(s, 'SIGSTOP')] for s in SERVICES):>8} {len(r.faults):>6}")
    rec = [f.recovery for f in r.faults if f.recovery is not None]
    if rec:
        kinds = "; ".join(
            f"{k} p50 {statistics.median(v):.1f} s max {max(v):.1f} s"
            for k in KINDS if (v := [f.recovery for f in r.faults if f.kind == k and f.recovery is not None]))
        p90 = (percentiles(rec, (90,)) or (nan,))[0]
        p(f"time to recover (fault end -> all services running + a batch committed): "
          f"p50 {statistics.median(rec):.1f} s, p90 {p90:.1f} s, max {max(rec):.1f} s "
          f"over {len(rec)}/{len(r.faults)} faults "
          f"({kinds}; {sum(f.overlapped for f in r.faults)} overlapped by the next fault)")
        outage = [f.outage for f in r.faults if f.outage is not None]
        p(f"  from the fault's start (a SIGSTOP's pause included): p50 {statistics.median(outage):.1f} s, "
          f"max {max(outage):.1f} s; waiting for the target to be up before a fault: "
          f"p50 {statistics.median(f.waited for f in r.faults):.1f} s, max {max(f.waited for f in r.faults):.1f} s")
    p(f"policy restarts: {', '.join(f'{k} {v}' for k, v in r.restarts.items())}; "
      f"final states: {', '.join(f'{k} {v}' for k, v in r.final_states.items())}")
    t, e = r.truth, r.events
    if t:
        p(f"events: acknowledged {t.get('acknowledged valid', 0) + t.get('acknowledged invalid', 0):,d} "
          f"(valid {t.get('acknowledged valid', 0):,d}, invalid {t.get('acknowledged invalid', 0):,d}); "
          f"in doubt {t.get('in doubt', 0):,d} (found in Kafka {t.get('in doubt, found in Kafka', 0):,d}, "
          f"not in Kafka {t.get('in doubt, not in Kafka', 0):,d}); never handed to the client "
          f"{t.get('never handed to the client', 0):,d}; producer processes {t.get('producer processes', 0)} "
          f"({t.get('processes killed (no summary)', 0)} killed)")
        p(f"        truth {t['truth valid'] + t['truth invalid']:,d} (valid {t['truth valid']:,d}, invalid "
          f"{t['truth invalid']:,d}); in Kafka {t['in Kafka']:,d} (not in any ledger "
          f"{t['in Kafka, not in any ledger']:,d})")
    if e:
        p(f"        counted by the job {e['counted valid'] + e['counted invalid']:,d} (valid {e['counted valid']:,d}, "
          f"quarantined {e['counted invalid']:,d}): lost {e['lost']}, doubled {e['doubled']}, "
          f"unexpected {e['unexpected']}, wrong side {e['wrong side']}")
    if r.aggregates:
        equal = [n for n, v in r.aggregates.items() if v == "equal"]
        p(f"aggregates equal to the ledger (counts exact, sums within 1e-6): {len(equal)}/{len(r.aggregates)}"
          + ("" if len(equal) == len(r.aggregates) else
             " — " + "; ".join(v for v in r.aggregates.values() if v != "equal")))
        p(f"keys appearing twice: {sum(r.duplicate_keys.values())}")
    if r.quarantine:
        q = r.quarantine
        p(f"quarantine: {q['quarantine rows']:,d} rows, counts {q['quarantine counts']:,d}, invalid sent "
          f"{q['invalid sent']:,d}")
    p(f"events in Kafka when the job first started (read from the earliest offsets): {r.before_job:,d}")
    p(f"processes left after close: {len(r.orphans)} (of {r.tracked_processes} seen in the services' trees)"
      + "".join(f"\n  {o}" for o in r.orphans))
    p(f"verdict: {'PASS' if r.ok else 'FAIL'}" + "".join(f"\n  - {x}" for x in r.problems))


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    a, b = float(lo), float(hi or lo)
    if not 0 <= a <= b:
        raise argparse.ArgumentTypeError(f"expected LO,HI with 0 <= LO <= HI, got {text!r}")
    return a, b


def main(argv: list[str]) -> int:
    d = Options()
    ap = argparse.ArgumentParser(prog="python -m ecomdesk.bench chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=d.minutes, help="minutes of faults (default 30)")
    ap.add_argument("--rate", type=float, default=d.rate, help="producer events/s (default 1000)")
    ap.add_argument("--faults", type=int, default=d.faults,
                    help="at least this many faults, even past --minutes (default 5: every service once)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seed of the fault schedule (default 1)")
    ap.add_argument("--invalid-fraction", type=float, default=d.invalid_fraction)
    ap.add_argument("--gap", type=_range, default=d.gap, metavar="LO,HI",
                    help="seconds between fault starts (default 20,40)")
    ap.add_argument("--pause", type=_range, default=d.pause, metavar="LO,HI",
                    help="SIGSTOP duration in seconds (default 10,30)")
    ap.add_argument("--warmup", type=float, default=d.warmup)
    ap.add_argument("--after-recovery", action="store_true",
                    help="start the gap to the next fault when the previous one has recovered (no overlap)")
    ap.add_argument("--restart-attempts", type=int, help="override the restart policy's attempts per window")
    ap.add_argument("--restart-backoff", type=float, help="override the restart policy's first backoff (seconds)")
    ap.add_argument("--final-job-kill", action="store_true",
                    help="after the faults, once the pipeline is whole, SIGKILL the job once more")
    ap.add_argument("--home", type=Path, help="run in this (kept) directory instead of a temporary one")
    ap.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    a = ap.parse_args(argv)
    opts = Options(minutes=a.minutes, rate=a.rate, faults=a.faults, seed=a.seed, invalid_fraction=a.invalid_fraction,
                   gap=a.gap, pause=a.pause, warmup=a.warmup, after_recovery=a.after_recovery,
                   restart_attempts=a.restart_attempts, restart_backoff=a.restart_backoff,
                   final_job_kill=a.final_job_kill, home=a.home)
    result = run(opts)
    report(result)
    if a.json:
        a.json.write_text(json.dumps(dataclasses.asdict(result), default=str, indent=1))
    return 0 if result.ok else 1
