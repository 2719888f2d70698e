"""Bounded time series of the pipeline telemetry, built from supervisor snapshots; no Qt.

The producer reports once a second and the snapshot only holds its latest line, so each poll
adds one producer sample when the counters moved. Spark lines are added once per batch of each query.
"""

from __future__ import annotations

import time
from collections import deque

import pandas as pd

from ecomdesk.telemetry import BatchReport, ProducerReport, published

MAX_POINTS = 1800  # 30 min of one-second samples per series


class Series:
    def __init__(self, maxlen: int = MAX_POINTS):
        self.t: deque[float] = deque(maxlen=maxlen)
        self.v: deque[float] = deque(maxlen=maxlen)

    def add(self, t: float, v: float) -> None:
        self.t.append(t)
        self.v.append(float(v))

    def __len__(self) -> int:
        return len(self.t)


class PipelineHistory:
    """Series keyed by name: producer_rate, target_rate, spark_input/<q>, spark_processed/<q>,
    batch_ms/<q>, behind/<topic>, quarantined."""

    def __init__(self, maxlen: int = MAX_POINTS):
        self._maxlen = maxlen
        self.series: dict[str, Series] = {}
        self._last_batch: dict[str, int] = {}
        self._last_producer: tuple | None = None

    def _add(self, key: str, t: float, v: float) -> None:
        self.series.setdefault(key, Series(self._maxlen)).add(t, v)

    def ingest(self, statuses, now: float | None = None) -> bool:
        """Add what is new in one snapshot; True when something was added."""
        now = time.time() if now is None else now
        added = False
        for st in statuses:
            for record in published(st.telemetry or {}):
                if isinstance(record, ProducerReport):
                    added |= self._producer(st.pid, record, now)
                elif isinstance(record, BatchReport):
                    added |= self._batch(record, now)
        return added

    def _producer(self, pid: int | None, r: ProducerReport, now: float) -> bool:
        mark = (pid, r.sent, r.delivered, r.target_rate, r.paused)
        if mark == self._last_producer:
            return False
        self._last_producer = mark
        self._add("producer_rate", now, r.rate)
        self._add("target_rate", now, 0.0 if r.paused else r.target_rate)
        return True

    def _batch(self, r: BatchReport, now: float) -> bool:
        q = r.query
        if q in self._last_batch and self._last_batch[q] == r.batch_id:
            return False
        self._last_batch[q] = r.batch_id
        self._add(f"spark_input/{q}", now, r.input_rows_per_second)
        self._add(f"spark_processed/{q}", now, r.processed_rows_per_second)
        self._add(f"batch_ms/{q}", now, r.batch_duration_ms)
        for topic, behind in r.offsets_behind.items():
            self._add(f"behind/{topic}", now, behind)
        self._add("quarantined", now, r.quarantined)
        return True

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.series if k.startswith(prefix))

    def frame(self, keys: list[str]) -> pd.DataFrame:
        """Long table (series, t, value) of the given series, for CSV export."""
        rows = [
            (k, t, v)
            for k in keys
            if k in self.series
            for t, v in zip(self.series[k].t, self.series[k].v, strict=True)
        ]
        return pd.DataFrame(rows, columns=["series", "t", "value"])
