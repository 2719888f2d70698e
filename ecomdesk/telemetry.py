"""The telemetry lines of the producer and the Spark job: one format for the writers and the readers.

A telemetry line is one JSON object on stdout whose first key, "type", names its kind; any other
line is an ordinary log line. Writers print `to_line(record)` and readers call `parse(line)`, so the
two cannot drift apart. `to_dict`/`from_dict` are the same records as plain dicts, the form the
supervisor publishes (ServiceStatus.telemetry, state file, control socket). No Qt, no Spark: the job's
driver and the producer import this too.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from types import UnionType
from typing import ClassVar, get_args, get_origin


@dataclass(frozen=True)
class ProducerReport:
    """The producer's counters, once a second, on every control command and once at exit (`final`)."""

    KIND: ClassVar[str] = "producer"
    sent: int
    delivered: int
    failed: int
    in_flight: int
    rate: float
    target_rate: float
    paused: bool
    invalid_fraction: float
    per_topic: dict[str, int]
    invalid: int
    final: bool = False


@dataclass(frozen=True)
class BatchReport:
    """One finished micro-batch of a streaming query: Spark's progress plus the job's own state."""

    KIND: ClassVar[str] = "spark_progress"
    query: str
    batch_id: int
    input_rows: int
    input_rows_per_second: float
    processed_rows_per_second: float
    batch_duration_ms: int
    offsets_behind: dict[str, int]  # per topic: the newest offsets minus those this batch read up to
    state_rows: int
    watermark: str | None
    quarantined: int  # records quarantined so far, all batches
    # where the batch's time went: Spark's phases (walCommit, addBatch, commitOffsets, ...) and the
    # job's own steps inside addBatch ("job.partials", "job.writes", "job.pending", "job.wait": for the
    # publish before) and those of the newest publish, which ran behind it ("job.merge", "job.publish", ...)
    durations_ms: dict[str, int] = field(default_factory=dict)
    end_offsets: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> partition -> read up to
    state_bytes: int = 0  # the funnel state's memory in the driver
    key_codes: int = 0  # (user, product) pairs the funnel state has codes for
    spark_jobs: int = 0  # Spark jobs the batch ran before it ended (its publish runs none)
    spark_tasks: int = 0  # the tasks of those jobs' stages


@dataclass(frozen=True)
class IdleReport:
    """A query is active with nothing to read (every few seconds): a sign of life before any batch."""

    KIND: ClassVar[str] = "spark_idle"
    query: str


@dataclass(frozen=True)
class QueryStarted:
    """A streaming query started; `id` tells it apart from its earlier runs."""

    KIND: ClassVar[str] = "spark_started"
    query: str | None
    id: str


@dataclass(frozen=True)
class QueryTerminated:
    """A streaming query ended; `error` is Spark's exception text when it failed."""

    KIND: ClassVar[str] = "spark_terminated"
    id: str
    error: str | None


Record = ProducerReport | BatchReport | IdleReport | QueryStarted | QueryTerminated
_KINDS = {cls.KIND: cls for cls in get_args(Record)}


def to_dict(record: Record) -> dict:
    return {"type": record.KIND, **asdict(record)}


def to_line(record: Record) -> str:
    return json.dumps(to_dict(record))


def from_dict(data) -> Record | None:
    """The record a dict holds, or None when it is not one (unknown type, missing or ill-typed field)."""
    kind = data.get("type") if isinstance(data, dict) else None
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if not all(_fits(values[f.name], f.type) for f in fields(cls) if f.name in values):
        return None
    try:
        return cls(**values)
    except TypeError:  # a required field is missing
        return None


def parse(line: str) -> Record | None:
    """The record a stdout line carries, or None for an ordinary log line or a malformed one."""
    if not line.startswith("{"):
        return None
    try:
        return from_dict(json.loads(line))
    except ValueError:
        return None


def job_state(queries: dict[str, BatchReport], last: BatchReport) -> dict:
    """The Spark job's published telemetry: the latest batch of each query, and the latest of all."""
    return {"queries": {q: to_dict(r) for q, r in queries.items()}, "last": to_dict(last)}


def published(telemetry: dict) -> list[Record]:
    """The records in a service's published telemetry: a producer's report, or job_state's batches."""
    found = [from_dict(telemetry), *map(from_dict, (telemetry.get("queries") or {}).values())]
    return [r for r in found if r is not None]


def _fits(value, hint) -> bool:
    """JSON value against a field's annotation; an int is a valid float, a bool is no number."""
    kinds = tuple(get_origin(h) or h for h in (get_args(hint) if isinstance(hint, UnionType) else (hint,)))
    if float in kinds:
        kinds += (int,)
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
