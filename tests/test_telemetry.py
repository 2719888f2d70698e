"""Telemetry lines: what the producer and the Spark job print is what the readers parse back."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from ecomdesk import telemetry as T
from ecomdesk.data.pipeline_history import PipelineHistory
from ecomdesk.pipeline.progress import ProgressListener
from ecomdesk.producer import cli

PRODUCER = T.ProducerReport(sent=12, delivered=10, failed=1, in_flight=1, rate=11.5, target_rate=12.0, paused=False,
                            invalid_fraction=0.1, per_topic={"orders": 2, "cart_events": 3, "page_views": 7},
                            invalid=1)
PROGRESS = {"name": "ecommerce", "id": "q-1", "batchId": 4, "numInputRows": 300, "inputRowsPerSecond": 150.0,
            "processedRowsPerSecond": 600.0, "batchDuration": 500,
            "durationMs": {"addBatch": 400, "walCommit": 40, "triggerExecution": 500},
            "sources": [{"latestOffset": {"orders": {"0": 50}}, "endOffset": '{"orders": {"0": 45}}'}]}
STATE = {"state_rows": 9, "watermark": "2024-03-01T23:40:00Z", "quarantined": 2, "job_ms": {"publish": 120}}


def _printed(capsys) -> list[T.Record | None]:
    return [T.parse(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("report", [PRODUCER, replace(PRODUCER, paused=True, final=True)])
def test_the_producer_prints_what_the_parser_reads(report, capsys):
    cli._print_json(report)
    assert _printed(capsys) == [report]


def test_the_spark_listener_prints_what_the_parser_reads(capsys):
    listener = ProgressListener(lambda batch_id: STATE)
    listener.onQueryStarted(SimpleNamespace(name="ecommerce", id="q-1"))
    listener.onQueryProgress(SimpleNamespace(progress=SimpleNamespace(json=json.dumps(PROGRESS))))
    listener.onQueryIdle(SimpleNamespace(id="q-1"))
    listener.onQueryTerminated(SimpleNamespace(id="q-1", exception=None))
    assert _printed(capsys) == [
        T.QueryStarted(query="ecommerce", id="q-1"),
        T.BatchReport(query="ecommerce", batch_id=4, input_rows=300, input_rows_per_second=150.0,
                      processed_rows_per_second=600.0, batch_duration_ms=500, offsets_behind={"orders": 5},
                      state_rows=9, watermark="2024-03-01T23:40:00Z", quarantined=2,
                      durations_ms={"addBatch": 400, "walCommit": 40, "triggerExecution": 500, "job.publish": 120},
                      end_offsets={"orders": {"0": 45}}),
        T.IdleReport(query="q-1"),
        T.QueryTerminated(id="q-1", error=None),
    ]


def test_a_line_starts_with_its_type():
    assert T.to_line(PRODUCER).startswith('{"type": "producer", ')
    assert T.from_dict(T.to_dict(PRODUCER)) == PRODUCER


@pytest.mark.parametrize("line", [
    "",
    "plain log line",
    "{not json",
    "[1, 2]",
    '{"type": "producer"}',  # fields missing
    '{"type": ["producer"]}',
    '{"type": "spark_exploded", "query": "q"}',
    '{"query": "q"}',
    T.to_line(PRODUCER).replace('"sent": 12', '"sent": "12"'),
    T.to_line(PRODUCER).replace('"sent": 12', '"sent": true'),
    T.to_line(PRODUCER).replace('"per_topic": {', '"per_topic": [1], "x": {'),
])
def test_anything_else_is_no_record(line):
    assert T.parse(line) is None


def test_an_old_producer_line_without_final_is_a_report():
    data = T.to_dict(PRODUCER)
    del data["final"]
    assert T.parse(json.dumps(data)) == PRODUCER


def test_pipeline_history_reads_the_published_records():
    batch = T.BatchReport(query="sales", batch_id=1, input_rows=10, input_rows_per_second=5.0,
                          processed_rows_per_second=4.0, batch_duration_ms=800, offsets_behind={"orders": 42},
                          state_rows=0, watermark=None, quarantined=7)
    statuses = [SimpleNamespace(pid=1, telemetry=T.to_dict(PRODUCER)),
                SimpleNamespace(pid=2, telemetry=T.job_state({"sales": batch}, batch)),
                SimpleNamespace(pid=3, telemetry={})]
    history = PipelineHistory()
    assert history.ingest(statuses, now=1.0)
    assert not history.ingest(statuses, now=2.0)  # nothing new
    assert {k: list(s.v) for k, s in history.series.items()} == {
        "producer_rate": [11.5], "target_rate": [12.0], "spark_input/sales": [5.0], "spark_processed/sales": [4.0],
        "batch_ms/sales": [800.0], "behind/orders": [42.0], "quarantined": [7.0]}
