"""The job's telemetry: a BatchReport built from Spark's progress plus the job's own state (see ecomdesk.telemetry)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import NamedTuple

from pyspark.sql.streaming import StreamingQueryListener

from ecomdesk.telemetry import BatchReport, IdleReport, QueryStarted, QueryTerminated, Record, to_line


def _offsets(value) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def offsets_behind(sources: list[dict]) -> dict[str, int]:
    """Per topic: sum over partitions of (latest offset - offset the batch read up to)."""
    behind: dict[str, int] = {}
    for src in sources:
        latest, end = _offsets(src.get("latestOffset")), _offsets(src.get("endOffset"))
        for topic, parts in latest.items():
            done = end.get(topic, {})
            behind[topic] = behind.get(topic, 0) + sum(
                max(0, int(off) - int(done.get(p, 0))) for p, off in parts.items())
    return behind


def end_offsets(sources: list[dict]) -> dict[str, dict[str, int]]:
    """Per topic and partition: the offset the batch read up to (the next one it will read)."""
    out: dict[str, dict[str, int]] = {}
    for src in sources:
        for topic, parts in _offsets(src.get("endOffset")).items():
            out.setdefault(topic, {}).update({str(p): int(o) for p, o in parts.items()})
    return out


class SparkWork(NamedTuple):
    """What Spark ran for one batch before the batch ended: its jobs, and their stages' tasks."""

    jobs: int = 0
    tasks: int = 0


def batch_report(progress: dict, state: dict) -> BatchReport:
    """progress: StreamingQueryProgress as JSON dict; state: state_rows, state_bytes, key_codes, watermark,
    quarantined, spark_work (a SparkWork) and job_ms (the job's own steps of the
    batch, in ms)."""
    durations = {k: int(v) for k, v in (progress.get("durationMs") or {}).items()}
    durations |= {f"job.{k}": int(v) for k, v in (state.get("job_ms") or {}).items()}
    work = state.get("spark_work") or SparkWork()
    return BatchReport(
        query=progress.get("name") or progress["id"],
        batch_id=int(progress["batchId"]),
        input_rows=int(progress.get("numInputRows", 0)),
        input_rows_per_second=float(progress.get("inputRowsPerSecond") or 0.0),
        processed_rows_per_second=float(progress.get("processedRowsPerSecond") or 0.0),
        batch_duration_ms=int(progress.get("batchDuration") or progress.get("durationMs", {}).get(
            "triggerExecution", 0)),
        offsets_behind=offsets_behind(progress.get("sources", [])),
        state_rows=int(state.get("state_rows", 0)),
        watermark=state.get("watermark"),
        quarantined=int(state.get("quarantined", 0)),
        durations_ms=durations,
        end_offsets=end_offsets(progress.get("sources", [])),
        state_bytes=int(state.get("state_bytes", 0)),
        key_codes=int(state.get("key_codes", 0)),
        spark_jobs=work.jobs,
        spark_tasks=work.tasks,
    )


def emit(record: Record) -> None:
    sys.stdout.write(to_line(record) + "\n")
    sys.stdout.flush()


class ProgressListener(StreamingQueryListener):
    """Prints one BatchReport per micro-batch, and an IdleReport when there is no data
    (so that readiness does not wait for the first event when the topics are empty)."""

    def __init__(self, state: Callable[[int], dict] = lambda batch_id: {}):
        self.state = state  # batch id -> the job's state after that batch (see batch_report)

    def onQueryStarted(self, event) -> None:
        emit(QueryStarted(query=event.name, id=str(event.id)))

    def onQueryProgress(self, event) -> None:
        progress = json.loads(event.progress.json)
        emit(batch_report(progress, self.state(int(progress["batchId"]))))

    def onQueryIdle(self, event) -> None:
        emit(IdleReport(query=str(event.id)))

    def onQueryTerminated(self, event) -> None:
        emit(QueryTerminated(id=str(event.id), error=event.exception))
