"""The spark-job service's telemetry parsing, readiness and health messages."""

from __future__ import annotations

from ecomdesk.stack.spark_job import JobTelemetry
from ecomdesk.telemetry import BatchReport, IdleReport, to_line

IDLE = to_line(IdleReport(query="ecommerce"))


def _line(batch_id: int, rows: int, ms: int, behind: dict) -> str:
    return to_line(BatchReport(query="ecommerce", batch_id=batch_id, input_rows=rows, input_rows_per_second=1.0,
                               processed_rows_per_second=1.0, batch_duration_ms=ms, offsets_behind=behind,
                               state_rows=0, watermark=None, quarantined=0))


def test_ready_after_first_batch_and_health_tracks_the_latest():
    t = JobTelemetry()
    assert t("plain log line") is None
    assert not t.probe().ok and not t.health().ok
    first = t(_line(0, 100, 1500, {"orders": 0}))
    assert first["last"]["batch_id"] == 0 and set(first["queries"]) == {"ecommerce"}
    assert t.probe().ok and t.probe().message == "batch 0 committed"
    t(_line(7, 4000, 1200, {"orders": 5, "page_views": 10}))
    h = t.health()
    assert h.ok and h.message == "batch 7: 4000 rows in 1.2 s, 15 behind"


def test_idle_topics_count_as_ready():
    t = JobTelemetry()
    t(IDLE)
    assert t.probe().ok and t.health().ok


def test_a_job_that_reports_nothing_for_too_long_is_unhealthy(monkeypatch):
    import time

    from ecomdesk.stack import spark_job

    t = JobTelemetry()
    t(_line(3, 10, 900, {}))
    assert t.health().ok
    now = time.monotonic()
    monkeypatch.setattr(spark_job.time, "monotonic", lambda: now + spark_job.STALE_AFTER + 5)
    h = t.health()
    assert not h.ok and "no batch and no idle report for 12" in h.message
    t(IDLE)  # an idle report counts as a sign of life
    assert t.health().ok
