"""Fakes at the window's boundaries: the stack (`stack.door.Stack`), the data reader and the health source
(nothing else is faked). The fake stack runs no process; its services are the real catalog's (names, titles,
ports, dependencies), and tests/test_stack_door.py holds its behaviour to the real stack's."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ecomdesk.core.events import AlertFired, AlertResolved, EventStream, StateChanged
from ecomdesk.core.spec import State, dependency_order, dependents_order
from ecomdesk.core.supervisor import ServiceStatus, StartError
from ecomdesk.data.chart_views import Business, business
from ecomdesk.data.contract import QUARANTINE_COUNTS
from ecomdesk.data.health import hdfs as hdfs_health
from ecomdesk.data.health import kafka as kafka_health
from ecomdesk.data.health import spark as spark_health
from ecomdesk.data.health.model import (
    DEGRADED,
    OK,
    Application,
    Broker,
    ClusterHealth,
    DataNode,
    HdfsDetail,
    KafkaDetail,
    NameNode,
    Partition,
    SparkDetail,
    SystemHealth,
    Worker,
)
from ecomdesk.data.readers import DirStats, KafkaMessage, TopicStats, Unreachable
from ecomdesk.testing.contract_data import sample_frames

# The real services' messages once ready, as `stack status --json` gave them with the real stack running
# (2026-12-08, the window's screenshots in docs/screenshots).
READY = {
    "hdfs-namenode": "NameNode active",
    "hdfs-datanode": "DataNode serving, registered with localhost",
    "kafka": "1 broker(s), 4 topic(s)",
    "spark-job": "batch 55: 3628 rows in 0.7 s, 0 behind",
    "producer": "sending",
}


class FakeStack:
    """A `Stack` that keeps states in memory and publishes their changes as events, as the real one does;
    `fail` makes a service's start fail, `gate` makes starts wait. Destroy and rebuild are the real ones,
    with this stack as their supervisor."""

    def __init__(self, log_dir: Path, config=None, installer=None):
        from ecomdesk.stack.catalog import build_specs

        self.config = config or make_config(log_dir)
        self.installer = installer or FakeInstaller()
        self.specs = {spec.name: spec for spec in build_specs(self.config)}
        self.events = EventStream()
        self.state = {name: State.STOPPED for name in self.specs}
        self.message = {name: "" for name in self.specs}
        self.telemetry: dict[str, dict] = {name: {} for name in self.specs}
        self.alerts: dict[str, list[dict]] = {}  # what the owner's AlertMonitor would list per service
        self.calls: list[tuple] = []
        self.command_threads: list[str] = []
        self.controls: list[tuple[str, str]] = []
        self.listeners = []
        self.fail: dict[str, str] = {}
        self.gate: threading.Event | None = None
        self.closed = False
        self.log_dir = log_dir
        self._next_pid = 4000

    def _record(self, *call) -> None:
        self.calls.append(call)
        self.command_threads.append(threading.current_thread().name)

    def set_state(self, name: str, state: State, message: str) -> None:
        """Change a service's state and publish it, as the supervisor's one transition does."""
        old, self.state[name], self.message[name] = self.state[name], state, message
        if old != state:
            self.events.publish(StateChanged, name, old=str(old), new=str(state), message=message)

    def start(self, names=None) -> None:
        """Each service and its dependencies up, in order; a failure stops what this start started."""
        self._record("start", names)
        if self.gate is not None:
            self.gate.wait(30)
        started = []
        for n in dependency_order(self.specs, names):
            if self.state[n] == State.RUNNING:
                continue
            self.set_state(n, State.STARTING, "waiting for readiness")
            if n in self.fail:
                self.set_state(n, State.FAILED, self.fail[n])
                for m in reversed(started):
                    self.set_state(m, State.STOPPING, "stopping")
                    self.set_state(m, State.STOPPED, "stopped (exit code 0)")
                raise StartError(f"{n}: {self.fail[n]}")
            self.set_state(n, State.RUNNING, READY.get(n, "ready"))
            started.append(n)
            self._next_pid += 1

    def stop(self, names=None) -> None:
        self._record("stop", names)
        for n in dependents_order(self.specs, names or list(self.specs)):
            if self.state[n] in (State.RUNNING, State.UNHEALTHY, State.RESTARTING):
                self.set_state(n, State.STOPPING, "stopping")
                self.set_state(n, State.STOPPED, "stopped (exit code 0)")

    def restart(self, name: str) -> None:
        """The service and the dependents that run now, stopped and started again (as the supervisor does)."""
        self._record("restart", name)
        group = [n for n in dependents_order(self.specs, [name])
                 if n == name or self.state[n] in (State.RUNNING, State.UNHEALTHY, State.RESTARTING)]
        self.stop([name])
        self.start(group)

    def fire_alert(self, service: str, key: str, message: str) -> None:
        """What the owner's AlertMonitor does when a condition starts: list it on the service, publish it."""
        self.alerts.setdefault(service, []).append({"key": key, "message": message, "started": time.time()})
        self.events.publish(AlertFired, service, key=key, message=message)

    def resolve_alert(self, service: str, key: str) -> None:
        alert = next(a for a in self.alerts[service] if a["key"] == key)
        self.alerts[service].remove(alert)
        self.events.publish(AlertResolved, service, key=key, message=alert["message"], started=alert["started"])

    def subscribe(self, listener, since=None):
        return self.events.subscribe(listener, since)

    def destroy_plan(self):
        from ecomdesk.stack.destroy import plan

        return plan(self.config)

    def destroy(self):
        from ecomdesk.stack.destroy import stop_and_destroy

        return stop_and_destroy(self, self.config)

    def rebuild(self) -> dict:
        from ecomdesk.stack.rebuild_run import rebuild_around

        return rebuild_around(self, self.config)

    def installed(self) -> bool:
        return self.installer.installed()

    def setup(self, say, cancel: threading.Event) -> None:
        self.installer.run(say, cancel)

    def snapshot(self) -> list[ServiceStatus]:
        out = []
        for i, (name, spec) in enumerate(self.specs.items()):
            live = self.state[name] == State.RUNNING
            out.append(
                ServiceStatus(
                    name=name,
                    title=spec.title,
                    state=str(self.state[name]),
                    pid=1000 + i if live else None,
                    uptime=65.0 if live else None,
                    cpu_percent=12.5 if live else None,
                    rss=256 * 1024 * 1024 if live else None,
                    endpoints=spec.endpoints,
                    message=self.message[name],
                    exit_code=1 if self.state[name] == State.FAILED else None,
                    last_lines=["boom: address in use"] if self.state[name] == State.FAILED else [],
                    telemetry=dict(self.telemetry[name]),
                    alerts=list(self.alerts.get(name, [])),
                )
            )
        return out

    def subscribe_logs(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit_log(self, service: str, line: str) -> None:
        for listener in list(self.listeners):
            listener(service, line)

    def send_control(self, name: str, line: str) -> None:
        if not self.specs[name].accepts_control:
            raise ValueError(f"{name} takes no control commands")
        if self.state[name] != State.RUNNING:
            raise RuntimeError(f"{name} is not running")
        self.controls.append((name, line))

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def close(self) -> None:
        self._record("close")
        self.stop()
        self.closed = True


class FakeReader:
    """Serves sample aggregates; `down` makes a source unreachable."""

    base_path = "/ecommerce"

    def __init__(self, days: int = 1, products: int = 6):
        self.frames = sample_frames(days, products, users=50)
        self.frames["quarantine"] = self.frames.pop(QUARANTINE_COUNTS)
        self.down: set[str] = set()
        self.threads: list[str] = []
        self.business_calls = 0
        self.views: list = []  # the ChartView of each business read
        self.peeks: list[tuple[str, int]] = []

    def _check(self, source: str) -> None:
        self.threads.append(threading.current_thread().name)
        if source in self.down:
            raise Unreachable(source, "Connection refused")

    def business(self, top_n: int, user_sort: str = "avg_ticket", view=None) -> Business:
        self._check("hdfs")
        self.business_calls += 1
        self.views.append(view)
        frames = {k: v.copy() for k, v in self.frames.items()}
        frames[QUARANTINE_COUNTS] = frames.pop("quarantine")
        return business(frames, top_n, user_sort, view)

    def hdfs_listing(self):
        self._check("hdfs")
        return [
            DirStats("/ecommerce", 5, 5000, 1.7e9),
            DirStats("/ecommerce/aggregates", 4, 4000, 1.7e9),
            DirStats("/ecommerce/aggregates/sales_per_minute", 2, 1500, 1.7e9),
        ]

    def kafka_topics(self):
        self._check("kafka")
        return [
            TopicStats("orders", 3, {0: 10, 1: 12, 2: 9}, 4.5),
            TopicStats("page_views", 3, {0: 1, 1: 2, 2: 3}, None),
        ]

    def kafka_peek(self, topic: str, n: int):
        self._check("kafka")
        self.peeks.append((topic, n))
        return [KafkaMessage(0, i, 1.7e9 + i, f"k{i}", f'{{"i": {i}}}') for i in range(n)]


def make_config(tmp_path: Path):
    from ecomdesk.config import Config
    from ecomdesk.paths import Paths

    paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "logs", tmp_path / "run").ensure()
    config = Config(paths=paths)
    config.ui.refresh_seconds = 0.2
    return config


class FakeInstaller:
    """The window's third boundary: `ecomdesk setup`. `lines` are said one by one; `gate` holds the run
    until set (or until cancelled); `error` makes it fail."""

    def __init__(self, installed: bool = True, lines: tuple[str, ...] = (), error: str | None = None):
        self.is_installed = installed
        self.lines = lines
        self.error = error
        self.gate = threading.Event()
        self.cancelled = False

    def installed(self) -> bool:
        return self.is_installed

    def run(self, say, cancel: threading.Event) -> None:
        for line in self.lines:
            say(line)
        while not (self.gate.is_set() or cancel.is_set()):
            cancel.wait(0.05)
        if cancel.is_set():
            self.cancelled = True
            raise RuntimeError("setup cancelled")
        if self.error:
            raise RuntimeError(self.error)
        self.is_installed = True


class FakeHealth:
    """The window's health source: a 3-broker, 3-DataNode, 2-worker cluster, healthy or with one of each
    lost (`degraded`); `error` makes the read itself fail. Problems come from the real readers' rules."""

    def __init__(self):
        self.degraded = False
        self.error: str | None = None
        self.calls: list[dict[str, str]] = []
        self.threads: list[str] = []

    def __call__(self, states):
        self.calls.append(dict(states))
        self.threads.append(threading.current_thread().name)
        if self.error:
            raise RuntimeError(self.error)
        return sample_health(self.degraded)


def sample_health(degraded: bool) -> ClusterHealth:
    brokers = tuple(Broker(i, "127.0.0.1", 9091 + i) for i in ((1, 3) if degraded else (1, 2, 3)))
    parts = []
    for topic in ("orders", "page_views"):
        for p in range(3):
            isr = (1, 3) if degraded else (1, 2, 3)
            parts.append(Partition(topic, p, 1, (1, 2, 3), isr, 100 + p, 90 + p, 10,
                                   "under-replicated" if degraded else "ok"))
    kafka = KafkaDetail("c1", 1, brokers, tuple(parts), 6 if degraded else 0, 0, "job offsets from its checkpoint, "
                        "batch 7", 60)
    nodes = tuple(DataNode(f"127.0.0.1:986{i}", "dead" if degraded and i == 2 else "live", 1.0, 2**40, 2**30, 2**39)
                  for i in (1, 2, 3))
    hdfs = HdfsDetail((NameNode("127.0.0.1:9870", "active"),), 2 if degraded else 3, 0, 1 if degraded else 0, 0,
                      3 * 2**40, 3 * 2**30, 3 * 2**39, 12 if degraded else 0, 0, 0, "", nodes)
    workers = tuple(Worker(f"worker-{i}", f"127.0.0.1:{7100 + i}", f"http://127.0.0.1:{8100 + i}",
                           "DEAD" if degraded and i == 2 else "ALIVE", 1, 1, 1024, 1024) for i in (1, 2))
    spark = SparkDetail("spark://127.0.0.1:7077", "ALIVE", (("127.0.0.1:8080", "ALIVE"),), 1 if degraded else 2,
                        2, 2, 2048, 2048, workers, (Application("app-1", "ecomdesk-ecommerce-stream", "RUNNING", 2,
                                                                1024, 60.0),))

    def system(name: str, detail, problems: list[str]) -> SystemHealth:
        return SystemHealth(name, DEGRADED if problems else OK, f"{name} summary", f"{name}-endpoint",
                            tuple(problems), detail, time.time(), 0.1)

    return ClusterHealth(system("kafka", kafka, kafka_health.problems(kafka)),
                         system("hdfs", hdfs, hdfs_health.problems(hdfs)),
                         system("spark", spark, spark_health.problems(spark)))


# ----- helpers of the window's tests ----------------------------------------------------------
def started(qtbot, window):
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)


def reads_done(qtbot, reader, n: int = 3):
    """Wait for `n` more reads to have run (each read records its thread)."""
    target = len(reader.threads) + n
    qtbot.waitUntil(lambda: len(reader.threads) >= target, timeout=5000)
