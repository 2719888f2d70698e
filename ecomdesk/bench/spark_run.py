"""What `bench spark` observes while a job runs: its batch reports, Kafka's high watermarks, the
CPU of its process tree, and the producer subprocess that feeds it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import psutil
from confluent_kafka import Consumer, TopicPartition

from ecomdesk.bench.spark_figures import Offsets, job_backlog
from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.telemetry import BatchReport, ProducerReport, parse


@dataclass
class Progress:
    """Every batch report of every job service, with the wall-clock time it was printed."""

    lines: dict[str, list[tuple[float, BatchReport]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, service: str, line: str) -> None:
        record = parse(line) if "{" in line else None
        if isinstance(record, BatchReport):
            with self.lock:
                self.lines[service].append((time.time(), record))

    def of(self, service: str, t0: float = 0.0, t1: float = float("inf")) -> list[tuple[float, BatchReport]]:
        with self.lock:
            return [(t, b) for t, b in self.lines[service] if t0 <= t < t1]

    def reads(self, service: str, at: float) -> dict[str, Offsets]:
        """Per query: the offsets its last batch finished by `at` read up to."""
        out: dict[str, Offsets] = {}
        for _, b in self.of(service, 0.0, at):
            if b.end_offsets:
                out[b.query] = b.end_offsets
        return out


class Watermarks:
    """Polls the high watermark of every partition of some topics (~every `interval` s) in a thread."""

    def __init__(self, bootstrap: str, topics: list[str], interval: float = 0.5):
        self.topics, self.interval = topics, interval
        self.samples: list[tuple[float, Offsets]] = []
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ecomdesk-bench-watch",
                                   "enable.auto.commit": False})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watermarks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            meta = self._consumer.list_topics(timeout=10)
            high: dict[str, dict[str, int]] = {}
            for topic in self.topics:
                for p in (meta.topics[topic].partitions if topic in meta.topics else {}):
                    _, hw = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                    high.setdefault(topic, {})[str(p)] = hw
            self.samples.append((time.time(), high))
            self._stop.wait(self.interval)

    def at(self, t: float) -> Offsets:
        """The last sample taken by t."""
        last: Offsets = {}
        for ts, high in list(self.samples):
            if ts > t:
                break
            last = high
        return last

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._consumer.close()


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants ([] once it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(pid: int) -> dict[int, float]:
    """pid -> user+system CPU seconds (with reaped children's) of a process and its descendants."""
    out = {}
    for p in process_tree(pid):
        try:
            c = p.cpu_times()
            out[p.pid] = c.user + c.system + c.children_user + c.children_system
        except psutil.NoSuchProcess:
            pass
    return out


@dataclass
class JobRun:
    """One job service running on its own topics (prefix) and HDFS base path."""

    sup: Supervisor
    service: str
    progress: Progress
    watermarks: Watermarks

    def backlog(self, at: float) -> int:
        return job_backlog(self.watermarks.at(at), self.progress.reads(self.service, at))

    def cpu(self) -> dict[int, float]:
        pid = self.sup.status(self.service).pid
        return tree_cpu(pid) if pid else {}

    def wait_caught_up(self, timeout: float) -> float | None:
        """Until a finished batch of every query has read all that is in Kafka now; when, or None."""
        deadline = time.time() + timeout
        time.sleep(self.watermarks.interval * 2)
        while time.time() < deadline:
            now = time.time()
            reads = self.progress.reads(self.service, now)
            if reads and job_backlog(self.watermarks.at(now), reads) == 0:
                return max(t for t, _ in self.progress.of(self.service))
            time.sleep(0.25)
        return None


class Producer:
    """`python -m ecomdesk.producer` as a subprocess; keeps its reports."""

    def __init__(self, config: Config, prefix: str, *args: str):
        cmd = [sys.executable, "-m", "ecomdesk.producer", "--json", "--seed", "7", "--flat",
               "--topic-prefix", prefix, *args]
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

    def stop(self) -> None:
        """Flush and exit now (SIGTERM), e.g. when a window ended before its --duration."""
        if self.proc.poll() is None:
            self.proc.terminate()

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
