"""The producer as a managed service of the supervisor.

It reads control commands on stdin (see `ecomdesk.producer.control`: `rate N`, `pause`,
`resume`, `invalid F`, `campaign N M`, `status`, `stop`), writes one telemetry line (a ProducerReport) per second,
and is ready once the first of those lines arrived (it has connected and started sending).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.kafka_client import process_arguments
from ecomdesk.stack import members
from ecomdesk.telemetry import ProducerReport, parse, to_dict

FLUSH_TIMEOUT = 10.0  # below stop_timeout, so SIGTERM ends with a flush, never a SIGKILL
STALE_AFTER = 5.0  # telemetry comes every second; this much silence means the loop is stuck


class _TelemetryState:
    """Shared by the telemetry parser and the ready probe; reset at every start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None

    def reset(self) -> None:
        with self._lock:
            self._last = None

    def parse(self, line: str) -> dict | None:
        report = parse(line)
        if not isinstance(report, ProducerReport):
            return None
        with self._lock:
            self._last = time.monotonic()
        return to_dict(report)

    def ready(self) -> Probe:
        with self._lock:
            last = self._last
        if last is None:
            return Probe(False, "no telemetry yet")
        return Probe(True, "sending")

    def health(self) -> Probe:
        with self._lock:
            last = self._last
        if last is None or time.monotonic() - last > STALE_AFTER:
            return Probe(False, f"no telemetry for more than {STALE_AFTER:.0f} s")
        return Probe(True, "sending")


def producer_command(config: Config, ledger: Path | None = None) -> list[str]:
    p = config.producer
    cmd = [
        sys.executable, "-m", "ecomdesk.producer",
        "--bootstrap", config.kafka_bootstrap,
        "--rate", repr(float(p.rate)),
        "--invalid-fraction", repr(float(p.invalid_fraction)),
        "--profile", p.profile,
        "--partitions", str(config.kafka.partitions),
        "--replication", str(config.topic_replication),
        "--flush-timeout", str(FLUSH_TIMEOUT),
        *process_arguments(config),
    ]
    if p.seed is not None:
        cmd += ["--seed", str(p.seed)]
    if p.flat:
        cmd += ["--flat"]
    if ledger is not None:
        cmd += ["--ledger", str(ledger)]
    return cmd


def producer_spec(config: Config, ledger: Path | None = None) -> ServiceSpec:
    """`ledger`: a directory gets one crash-safe journal per producer process, so a restarted
    producer never overwrites its predecessor's (a `.parquet` path would be rewritten by each)."""
    state = _TelemetryState()

    def command() -> list[str]:
        state.reset()
        return producer_command(config, ledger)

    return ServiceSpec(
        name=names.PRODUCER,
        title="Event producer",
        command=command,
        ready=state.ready,
        health=state.health,
        env=lambda: {"PYTHONUNBUFFERED": "1"},
        depends_on=tuple(members.brokers(config)),
        stop_timeout=FLUSH_TIMEOUT + 5,
        ready_timeout=60.0,
        telemetry=state.parse,
        accepts_control=True,
        # librdkafka reconnects by itself; stopping it while the broker is down would purge its queue
        rides_out_dependency_restarts=True,
    )
