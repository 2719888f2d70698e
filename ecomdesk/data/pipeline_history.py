"""Bounded time series of the pipeline telemetry, built from supervisor snapshots; no Qt.

The producer reports once a second and the snapshot only holds its latest line, so each poll
adds one producer sample when the counters moved. Spark lines are added once per batch of each query.
"""

from __future__ import annotations

import time
from collections import deque

import pandas as pd

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
        self._last_batch: dict[str, int | None] = {}
        self._last_producer: tuple | None = None

    def _add(self, key: str, t: float, v) -> None:
        if v is None:
            return
        self.series.setdefault(key, Series(self._maxlen)).add(t, v)

    def ingest(self, statuses, now: float | None = None) -> bool:
        """Add what is new in one snapshot; True when something was added."""
        now = time.time() if now is None else now
        added = False
        for st in statuses:
            tel = st.telemetry or {}
            if tel.get("type") == "producer" or "sent" in tel:
                mark = (
                    st.pid,
                    tel.get("sent"),
                    tel.get("delivered"),
                    tel.get("target_rate"),
                    tel.get("paused"),
                )
                if mark != self._last_producer:
                    self._last_producer = mark
                    self._add("producer_rate", now, tel.get("rate"))
                    self._add("target_rate", now, 0.0 if tel.get("paused") else tel.get("target_rate"))
                    added = True
            for q, line in (tel.get("queries") or {}).items():
                if q in self._last_batch and self._last_batch[q] == line.get("batch_id"):
                    continue
                self._last_batch[q] = line.get("batch_id")
                self._add(f"spark_input/{q}", now, line.get("input_rows_per_second"))
                self._add(f"spark_processed/{q}", now, line.get("processed_rows_per_second"))
                self._add(f"batch_ms/{q}", now, line.get("batch_duration_ms"))
                for topic, behind in (line.get("offsets_behind") or {}).items():
                    self._add(f"behind/{topic}", now, behind)
                self._add("quarantined", now, line.get("quarantined"))
                added = True
        return added

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
