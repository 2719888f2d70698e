"""Ground truth of a run: every valid event the broker acknowledged, as a local Parquet file.

Tests reconcile the streaming job's aggregates against it. Rows are written as they are
produced (row groups, to a hidden partial file); events whose delivery finally failed are
taken out again when the ledger closes, and the file appears under its name only then.
A JSON summary next to it (`<name>.summary.json`) counts the invalid events sent by kind.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomdesk.producer.events import EVENT_TYPES, LOCATIONS_PER_CITY, Batch, EventGenerator
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

ROW_GROUP = 131072
# Columns that identify an event well enough to take a failed one out again.
_IDENTITY = ["user_id", "product_id", "event_type", "price", "timestamp", "store_id", "lat", "lon"]

SCHEMA = pa.schema([
    ("user_id", pa.int64()),
    ("product_id", pa.int64()),
    ("category", pa.string()),
    ("event_type", pa.string()),
    ("price", pa.float64()),
    ("timestamp", pa.timestamp("ms", tz="UTC")),
    ("store_id", pa.int64()),
    ("store_type", pa.string()),
    ("city", pa.string()),
    ("province", pa.string()),
    ("lat", pa.float64()),
    ("lon", pa.float64()),
    ("topic", pa.string()),
])


def summary_path(path: Path) -> Path:
    return path.with_name(path.name + ".summary.json")


class Ledger:
    def __init__(self, path: Path, generator: EventGenerator):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._writer = pq.ParquetWriter(self._partial, SCHEMA)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._failed: list[dict] = []
        self.invalid: Counter[str] = Counter()
        self.rows = 0
        m = generator.model
        pids = np.arange(m.first_product, m.first_product + m.products)
        self._product_id = pids
        self._category = pa.array([m.category_of(int(p)) for p in pids])
        stores = [m.store(s + 1) for s in range(m.stores)]
        self._store_type = pa.array([t for t, _ in stores])
        self._city = pa.array([c.name for _, c in stores])
        self._province = pa.array([c.province for _, c in stores])
        self._etype = pa.array(list(EVENT_TYPES))
        self._topic = pa.array([TOPIC_BY_EVENT_TYPE[e] for e in EVENT_TYPES])
        locs = np.array([[generator.location(s, k) for k in range(LOCATIONS_PER_CITY)]
                         for s in range(m.stores)])
        self._lat, self._lon = locs[..., 0], locs[..., 1]

    def add(self, batch: Batch, ts_ms: int) -> None:
        """Record valid events (the caller passes only those) stamped `ts_ms`."""
        n = len(batch)
        if n == 0:
            return
        store = pa.array(batch.store)
        etype = pa.array(batch.etype)
        product = pa.array(batch.product)
        self._pending.append(pa.record_batch([
            pa.array(batch.user, pa.int64()),
            pa.array(self._product_id[batch.product], pa.int64()),
            pc.take(self._category, product),
            pc.take(self._etype, etype),
            pa.array(batch.cents / 100.0),
            pa.array(np.full(n, ts_ms, dtype="datetime64[ms]")).cast(SCHEMA.field("timestamp").type),
            pa.array(batch.store + 1, pa.int64()),
            pc.take(self._store_type, store),
            pc.take(self._city, store),
            pc.take(self._province, store),
            pa.array(self._lat[batch.store, batch.loc]),
            pa.array(self._lon[batch.store, batch.loc]),
            pc.take(self._topic, etype),
        ], schema=SCHEMA))
        self._pending_rows += n
        self.rows += n
        if self._pending_rows >= ROW_GROUP:
            self._write_pending()

    def add_invalid(self, kind: str) -> None:
        self.invalid[kind] += 1

    def failed(self, value: bytes) -> None:
        """A message whose delivery failed: if it was a valid event, it leaves the ledger."""
        try:
            event = json.loads(value)
            row = {k: event[k] for k in _IDENTITY[:-2]}
            row["lat"], row["lon"] = event["location"]["lat"], event["location"]["lon"]
            row["timestamp"] = pd.Timestamp(datetime.fromisoformat(row["timestamp"]))
        except (ValueError, KeyError, TypeError):
            return  # an invalid event: it was never in the ledger
        if row["event_type"] in EVENT_TYPES and row["price"] >= 0:
            self._failed.append(row)

    def close(self) -> Path:
        self._write_pending()
        self._writer.close()
        removed = self._remove_failed() if self._failed else 0
        self._partial.replace(self.path)
        summary = {"valid": self.rows - removed, "failed_removed": removed,
                   "invalid": dict(sorted(self.invalid.items()))}
        summary_path(self.path).write_text(json.dumps(summary, indent=2) + "\n")
        return self.path

    def _write_pending(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, SCHEMA))
            self._pending, self._pending_rows = [], 0

    def _remove_failed(self) -> int:
        """Anti-join as multisets: each failed event removes one identical ledger row."""
        table = pq.read_table(self._partial)
        rows = table.to_pandas()
        failed = pd.DataFrame(self._failed)
        failed["timestamp"] = pd.to_datetime(failed["timestamp"], utc=True).astype(rows["timestamp"].dtype)
        rows["_nth"] = rows.groupby(_IDENTITY).cumcount()
        failed["_nth"] = failed.groupby(_IDENTITY).cumcount()
        merged = rows.merge(failed[[*_IDENTITY, "_nth"]], on=[*_IDENTITY, "_nth"], how="left", indicator=True)
        keep = merged["_merge"].to_numpy() == "left_only"
        pq.write_table(table.filter(pa.array(keep)), self._partial)
        return int((~keep).sum())
