"""Alerts fire once when their condition starts and resolve once when it ends."""

from __future__ import annotations

import datetime as dt

from ecomdesk.cli.stack import format_alerts
from ecomdesk.config import Alerts
from ecomdesk.core.status import ServiceStatus
from ecomdesk.stack.alerts import AlertMonitor
from ecomdesk.telemetry import BatchReport, ProducerReport, job_state, to_dict

T0 = 1_800_000_000.0
WATERMARK = 600.0


def monitor(**rules) -> AlertMonitor:
    return AlertMonitor(Alerts(**rules), trigger_seconds=2.0, watermark_seconds=WATERMARK)


def batch(batch_id: int, *, newest: float, ms: int = 500, rows: int = 1000, quarantined: int = 0) -> BatchReport:
    watermark = dt.datetime.fromtimestamp(newest - WATERMARK, dt.UTC).isoformat().replace("+00:00", "Z")
    return BatchReport(query="ecommerce", batch_id=batch_id, input_rows=rows, input_rows_per_second=1.0,
                       processed_rows_per_second=1.0, batch_duration_ms=ms, offsets_behind={}, state_rows=0,
                       watermark=watermark, quarantined=quarantined)


def job(report: BatchReport | None, state: str = "running") -> ServiceStatus:
    telemetry = job_state({report.query: report}, report) if report else {}
    return ServiceStatus("spark-job", "Spark job", state, telemetry=telemetry)


def producer(state: str = "running", paused: bool = False) -> ServiceStatus:
    report = ProducerReport(sent=1, delivered=1, failed=0, in_flight=0, rate=100.0, target_rate=100.0, paused=paused,
                            invalid_fraction=0.0, per_topic={}, invalid=0)
    return ServiceStatus("producer", "Producer", state, telemetry=to_dict(report))


def test_a_failed_service_fires_once_and_resolves_once():
    m = monitor()
    kafka = ServiceStatus("kafka", "Kafka broker", "restarting", message="crashed with exit code -9")
    fired, resolved = m.update([kafka], T0)
    assert [a.key for a in fired] == ["down:kafka"] and resolved == []
    assert "crashed with exit code -9" in fired[0].message
    kafka.state = "failed"
    assert m.update([kafka], T0 + 5) == ([], [])  # still down: no second alert
    assert m.active["down:kafka"].message.startswith("Kafka broker failed")
    kafka.state = "running"
    fired, resolved = m.update([kafka], T0 + 9)
    assert fired == [] and [(a.key, a.started, a.ended) for a in resolved] == [("down:kafka", T0, T0 + 9)]
    assert list(m.history) == resolved


def test_a_user_stop_is_no_alert():
    assert monitor().update([ServiceStatus("kafka", "Kafka broker", "stopped")], T0) == ([], [])


def test_lag_counts_from_when_the_batch_was_seen():
    m = monitor(lag_seconds=60)
    fired, _ = m.update([job(batch(1, newest=T0 - 90))], T0)
    assert [a.key for a in fired] == ["lag"] and "90 s old" in fired[0].message
    # no new batch (nothing to read): the lag is that of the last batch, it does not grow
    assert m.update([job(batch(1, newest=T0 - 90))], T0 + 300) == ([], [])
    _, resolved = m.update([job(batch(2, newest=T0 + 299))], T0 + 300)
    assert [a.key for a in resolved] == ["lag"]


def test_slow_batches_in_a_row():
    m = monitor(slow_batches=3)
    for i in range(1, 3):
        assert m.update([job(batch(i, newest=T0, ms=2500))], T0 + i) == ([], [])
    fired, _ = m.update([job(batch(3, newest=T0, ms=2500))], T0 + 3)
    assert [a.key for a in fired] == ["slow"]
    assert m.update([job(batch(4, newest=T0, ms=3000))], T0 + 4) == ([], [])
    _, resolved = m.update([job(batch(5, newest=T0, ms=900))], T0 + 5)
    assert [a.key for a in resolved] == ["slow"]


def test_quarantine_share_of_a_batch():
    m = monitor(quarantine_percent=5)
    m.update([job(batch(1, newest=T0, rows=1000, quarantined=10))], T0)
    fired, _ = m.update([job(batch(2, newest=T0, rows=1000, quarantined=90))], T0 + 1)
    assert [a.key for a in fired] == ["quarantine"] and "8.0 %" in fired[0].message
    _, resolved = m.update([job(batch(3, newest=T0, rows=1000, quarantined=100))], T0 + 2)
    assert [a.key for a in resolved] == ["quarantine"]


def test_silence_while_the_producer_sends():
    m = monitor(silence_seconds=30)
    running = job(batch(1, newest=T0, rows=0))
    assert m.update([producer(), running], T0) == ([], [])
    fired, _ = m.update([producer(), running], T0 + 31)
    assert [(a.key, a.service) for a in fired] == [("silence", "producer")]
    _, resolved = m.update([producer(paused=True), running], T0 + 32)  # paused: no events expected
    assert [a.key for a in resolved] == ["silence"]
    m.update([producer(), running], T0 + 40)
    assert m.update([producer(), job(batch(2, newest=T0 + 60, rows=500))], T0 + 60) == ([], [])


def test_annotate_lists_alerts_on_their_service_and_status_shows_them():
    m = monitor()
    statuses = [ServiceStatus("kafka", "Kafka broker", "failed", message="gave up after 5 restarts"),
                ServiceStatus("producer", "Producer", "stopped")]
    m.annotate(statuses)
    assert [a["message"] for a in statuses[0].alerts] == ["Kafka broker failed: gave up after 5 restarts"]
    assert statuses[0].alerts[0]["key"] == "down:kafka" and statuses[1].alerts == []
    text = format_alerts([s.to_dict() for s in statuses])
    assert text.startswith("ACTIVE ALERTS") and "kafka: Kafka broker failed" in text
    assert format_alerts([ServiceStatus("kafka", "Kafka broker", "running").to_dict()]) == "no active alerts"
