"""Alerts: conditions worth a user's attention, derived from the services' states and telemetry.

Each alert fires once when its condition starts and resolves once when it ends; while it lasts its
message may change (the current lag, say). The owner of the stack evaluates them on every snapshot
(Supervisor's `annotate`, at least once a second) and publishes each firing and resolving as an event
(`AlertFired`, `AlertResolved`) in the supervisor's stream: this is the one alert tracker, and the
window, `stack up` and `stack events` read its events. Each status also lists its service's active
alerts, for `stack status` in other terminals.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from dataclasses import dataclass

from ecomdesk import service_names as names
from ecomdesk.config import Alerts, Config
from ecomdesk.core.events import AlertFired, AlertResolved, EventStream
from ecomdesk.core.spec import State
from ecomdesk.core.status import ServiceStatus
from ecomdesk.stack.spark_job import NAME as JOB
from ecomdesk.stack.spark_job import interval_seconds
from ecomdesk.telemetry import BatchReport, ProducerReport, published


@dataclass
class Alert:
    key: str
    service: str
    message: str
    started: float
    ended: float | None = None


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class AlertMonitor:
    """Evaluates the rules of `[alerts]` over successive snapshots; thread-safe."""

    def __init__(self, rules: Alerts, trigger_seconds: float, watermark_seconds: float, history: int = 200,
                 events: EventStream | None = None):
        self.rules = rules
        self.events = events
        self.trigger_ms = trigger_seconds * 1000
        self.watermark_seconds = watermark_seconds
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=history)  # resolved alerts, oldest first
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}  # query -> last batch id evaluated
        self._quarantined: dict[str, int] = {}
        self._slow = 0
        self._lag: float | None = None
        self._share: float | None = None  # percent of the last batch's records quarantined
        self._last_input: float | None = None
        self._sending_since: float | None = None

    @classmethod
    def from_config(cls, config: Config, events: EventStream | None = None) -> AlertMonitor:
        return cls(config.alerts, config.spark.trigger_seconds, interval_seconds(config.spark.watermark),
                   events=events)

    def annotate(self, statuses: list[ServiceStatus]) -> None:
        """Supervisor hook: evaluate, then list each service's active alerts on its status."""
        with self._lock:
            self._update(statuses, time.time())
            for s in statuses:
                s.alerts = [{"key": a.key, "message": a.message, "started": a.started}
                            for a in self.active.values() if a.service == s.name]

    def update(self, statuses: list[ServiceStatus], now: float) -> tuple[list[Alert], list[Alert]]:
        """Evaluate at `now`; returns the alerts that fired and those that resolved."""
        with self._lock:
            return self._update(statuses, now)

    def _update(self, statuses: list[ServiceStatus], now: float) -> tuple[list[Alert], list[Alert]]:
        by_name = {s.name: s for s in statuses}
        conditions: dict[str, tuple[str, str]] = {}  # key -> (service, message) of what holds now
        if self.rules.service_down:
            for s in statuses:
                if s.state in (State.FAILED, State.RESTARTING):
                    conditions[f"down:{s.name}"] = (s.name, f"{s.title} {s.state}: {s.message}")
        self._job(by_name.get(JOB), now, conditions)
        self._silence(by_name.get(names.PRODUCER), by_name.get(JOB), now, conditions)
        fired, resolved = [], []
        for key, (service, message) in conditions.items():
            if key in self.active:
                self.active[key].message = message
            else:
                self.active[key] = alert = Alert(key, service, message, now)
                fired.append(alert)
        for key in [k for k in self.active if k not in conditions]:
            alert = self.active.pop(key)
            alert.ended = now
            self.history.append(alert)
            resolved.append(alert)
        if self.events is not None:
            for alert in fired:
                self.events.publish(AlertFired, alert.service, key=alert.key, message=alert.message)
            for alert in resolved:
                self.events.publish(AlertResolved, alert.service, key=alert.key, message=alert.message,
                                    started=alert.started)
        return fired, resolved

    def _job(self, job: ServiceStatus | None, now: float, conditions: dict[str, tuple[str, str]]) -> None:
        """Lag, slow batches and quarantine share, from the job's batches (each evaluated once)."""
        if job is None or job.state not in (State.RUNNING, State.UNHEALTHY):
            self._seen.clear()
            self._slow, self._lag, self._share = 0, None, None
            return
        for report in published(job.telemetry):
            if isinstance(report, BatchReport) and report.batch_id > self._seen.get(report.query, -1):
                self._seen[report.query] = report.batch_id
                self._batch(report, now)
        rules = self.rules
        if rules.lag_seconds and self._lag is not None and self._lag > rules.lag_seconds:
            conditions["lag"] = (JOB, f"the job's newest committed event is {self._lag:.0f} s old "
                                      f"(threshold {rules.lag_seconds:g} s)")
        if rules.slow_batches and self._slow >= rules.slow_batches:
            conditions["slow"] = (JOB, f"{self._slow} batches in a row took longer than the "
                                       f"{self.trigger_ms / 1000:g} s trigger")
        if rules.quarantine_percent and self._share is not None and self._share > rules.quarantine_percent:
            conditions["quarantine"] = (JOB, f"{self._share:.1f} % of the last batch's records quarantined "
                                             f"(threshold {rules.quarantine_percent:g} %)")

    def _batch(self, report: BatchReport, now: float) -> None:
        """A batch seen for the first time: its lag (when it was seen minus its newest event), duration, share."""
        newest = _epoch(report.watermark)
        if newest is not None:
            self._lag = now - (newest + self.watermark_seconds)
        self._slow = self._slow + 1 if report.batch_duration_ms > self.trigger_ms else 0
        before = self._quarantined.get(report.query)
        self._quarantined[report.query] = report.quarantined
        if before is not None and report.input_rows:
            self._share = 100.0 * (report.quarantined - before) / report.input_rows
        if report.input_rows:
            self._last_input = now

    def _silence(self, producer: ServiceStatus | None, job: ServiceStatus | None, now: float,
                 conditions: dict[str, tuple[str, str]]) -> None:
        reports = [r for r in published(producer.telemetry) if isinstance(r, ProducerReport)] if producer else []
        sending = (producer is not None and producer.state == State.RUNNING and job is not None
                   and job.state in (State.RUNNING, State.UNHEALTHY)
                   and bool(reports) and not reports[0].paused and reports[0].target_rate > 0)
        if not sending:
            self._sending_since = None
            return
        self._sending_since = self._sending_since or now
        quiet_since = max(self._sending_since, self._last_input or 0.0)
        if self.rules.silence_seconds and now - quiet_since > self.rules.silence_seconds:
            conditions["silence"] = (names.PRODUCER, f"no events reached the job for {now - quiet_since:.0f} s "
                                                     f"while the producer sends (threshold "
                                                     f"{self.rules.silence_seconds:g} s)")
