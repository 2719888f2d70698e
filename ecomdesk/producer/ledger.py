"""Ground truth of a run: every event the producer handed to Kafka, and what became of it.

The ledger is a journal that survives SIGKILL, one per producer process, so a restarted producer
never overwrites the ledger of the process before it. Two append-only Arrow IPC streams
(`<stem>.events.arrows`, `<stem>.acks.arrows`), written with unbuffered writes; a kill can cut
only the record batch being written, which `read_journal` drops:

- **events**: every event (valid or deliberately invalid) *before* it is handed to the Kafka
  client: `seq` (its number in this process), the event's columns, its invalid kind (null for a
  valid event) and the exact message bytes. Nothing can reach the broker that is not here.
- **acks**: the outcome of each delivery report, from the per-message delivery callback: `seq`,
  `status` (ACKED with the partition and offset the broker gave it, FAILED with the error), and
  UNSENT for events recorded but never handed to the client (a stop while its queue was full).
  Outcomes are written every LEDGER_FLUSH seconds and at close.

So an event is *acknowledged* only when the broker's ack was journaled. The honest tail: when
SIGKILL lands, the events whose acks were not journaled yet (in flight, or acked in the last
flush interval) are **in doubt**: each may or may not be in Kafka. Failed deliveries are in doubt
too (librdkafka may time out a message the broker did write). The journal keeps their message
bytes, so a reader settles them against the topics themselves (`ecomdesk.bench.truth` does this:
an in-doubt event counts when its exact bytes are in its topic at an offset no acknowledged event
holds). Without that, an event acked but not journaled would look "doubled" and a journaled
event the broker never got would look "lost".

A clean close writes `<stem>.summary.json` (counts; its absence means the process was killed).
When the ledger path ends in `.parquet`, the journal is hidden next to it and the close also
writes that file (the acknowledged valid events, SCHEMA columns) with `<name>.summary.json`
beside it, then removes the journal; any other path is a directory that keeps the journals.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomdesk.producer.events import EVENT_TYPES, LOCATIONS_PER_CITY, Batch, EventGenerator
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

ROW_GROUP = 131072
LEDGER_FLUSH = 0.05  # seconds between writes of delivery outcomes
ACKED, FAILED, UNSENT = 1, 2, 3
STATUS_NAMES = {ACKED: "acked", FAILED: "failed", UNSENT: "unsent"}
EVENTS_SUFFIX, ACKS_SUFFIX, SUMMARY_SUFFIX = ".events.arrows", ".acks.arrows", ".summary.json"

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
# For an invalid event the columns are those of the valid event it was made from.
EVENTS_SCHEMA = pa.schema([("seq", pa.int64()), *SCHEMA, ("invalid", pa.string()), ("value", pa.binary())])
ACKS_SCHEMA = pa.schema([("seq", pa.int64()), ("status", pa.int8()), ("partition", pa.int32()),
                         ("offset", pa.int64()), ("error", pa.string())])
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")


def summary_path(path: Path) -> Path:
    """The summary of a `.parquet` ledger (a journal's is `<stem>.summary.json`)."""
    return path.with_name(path.name + SUMMARY_SUFFIX)


class _Stream:
    """An append-only Arrow IPC stream on an unbuffered file: each batch reaches the OS whole or cut."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, schema, options=_IPC)

    def write(self, columns: list) -> None:
        self._writer.write_batch(pa.record_batch(columns, schema=self.schema))

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


class Ledger:
    def __init__(self, path: Path, generator: EventGenerator):
        self.path = Path(path)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
        if self.path.suffix == ".parquet":
            self.final: Path | None = self.path
            self.stem = self.path.with_name(f".{self.path.name}.{stamp}")
        else:
            self.final = None
            self.stem = self.path / stamp
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        self._events = _Stream(Path(f"{self.stem}{EVENTS_SUFFIX}"), EVENTS_SCHEMA)
        self._acks = _Stream(Path(f"{self.stem}{ACKS_SUFFIX}"), ACKS_SCHEMA)
        self._acked: list[tuple[int, int, int]] = []
        self._other: list[tuple[int, int, str | None]] = []
        self._flushed_at = time.monotonic()
        self._invalid_seqs: set[int] = set()
        self.invalid: Counter[str] = Counter()  # invalid events handed to the client, by kind
        self.sent: Counter[str] = Counter()  # valid / invalid events handed to the client
        self.outcomes: Counter[str] = Counter()  # "<status> <valid|invalid>"
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

    # ----- called by the producer ----------------------------------------------------------
    def record(self, seq0: int, batch: Batch, ts_ms: int, values: list[bytes], invalid: dict[int, str]) -> None:
        """Journal events seq0.. (batch order) before they are handed to the client.
        `invalid` maps the index in the batch of each corrupted event to its kind."""
        n = len(batch)
        if n == 0:
            return
        store, etype, product = pa.array(batch.store), pa.array(batch.etype), pa.array(batch.product)
        kinds: list[str | None] = [None] * n
        for i, kind in invalid.items():
            kinds[i] = kind
            self._invalid_seqs.add(seq0 + i)
        self._events.write([
            pa.array(np.arange(seq0, seq0 + n, dtype=np.int64)),
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
            pa.array(kinds, pa.string()),
            pa.array(values, pa.binary()),
        ])

    def handed(self, valid: int, invalid_kinds: list[str]) -> None:
        """Recorded events handed to the client: this many valid ones, and invalid ones of these kinds."""
        self.sent["valid"] += valid
        self.sent["invalid"] += len(invalid_kinds)
        self.invalid.update(invalid_kinds)

    def acked(self, seq: int, partition: int, offset: int) -> None:
        self._acked.append((seq, partition, offset))

    def failed(self, seq: int, error: str) -> None:
        self._other.append((seq, FAILED, error))

    def unsent(self, seq0: int, seq1: int) -> None:
        """Events recorded but never handed to the client: they cannot be in Kafka."""
        self._other.extend((s, UNSENT, None) for s in range(seq0, seq1))
        self.flush()

    def maybe_flush(self, now: float) -> None:
        if now - self._flushed_at >= LEDGER_FLUSH:
            self.flush()

    def flush(self) -> None:
        """Journal the delivery outcomes received since the last flush."""
        self._flushed_at = time.monotonic()
        if not (self._acked or self._other):
            return
        acked, other = self._acked, self._other
        self._acked, self._other = [], []
        seqs = [s for s, _, _ in acked] + [s for s, _, _ in other]
        status = [ACKED] * len(acked) + [st for _, st, _ in other]
        for s, st in zip(seqs, status, strict=True):
            self.outcomes[f"{STATUS_NAMES[st]} {'invalid' if s in self._invalid_seqs else 'valid'}"] += 1
        self._acks.write([
            pa.array(seqs, pa.int64()),
            pa.array(status, pa.int8()),
            pa.array([p for _, p, _ in acked] + [None] * len(other), pa.int32()),
            pa.array([o for _, _, o in acked] + [None] * len(other), pa.int64()),
            pa.array([None] * len(acked) + [e for _, _, e in other], pa.string()),
        ])

    def close(self) -> Path:
        """Flush, close the journal and write the summary (and the Parquet file of a .parquet ledger)."""
        self.flush()
        self._events.close()
        self._acks.close()
        o = self.outcomes
        acked_valid = o["acked valid"]
        summary = {
            # the original three keys: acknowledged valid events, valid events handed to the
            # client but not acknowledged, invalid events handed to the client by kind
            "valid": acked_valid,
            "failed_removed": self.sent["valid"] - acked_valid,
            "invalid": dict(sorted(self.invalid.items())),
            "sent": {"valid": self.sent["valid"], "invalid": self.sent["invalid"]},
            "acknowledged": {"valid": acked_valid, "invalid": o["acked invalid"]},
            "failed": {"valid": o["failed valid"], "invalid": o["failed invalid"]},
            "unsent": o["unsent valid"] + o["unsent invalid"],
            "unconfirmed": self.sent["valid"] + self.sent["invalid"] - sum(
                o[f"{s} {v}"] for s in ("acked", "failed") for v in ("valid", "invalid")),
        }
        text = json.dumps(summary, indent=2) + "\n"
        if self.final is None:
            Path(f"{self.stem}{SUMMARY_SUFFIX}").write_text(text)
            return self.path
        journal = read_journal(self.stem)
        table = acknowledged_valid(journal)
        tmp = self.final.with_name(f".{self.final.name}.tmp")
        pq.write_table(table, tmp, row_group_size=ROW_GROUP)
        tmp.replace(self.final)
        summary_path(self.final).write_text(text)
        for suffix in (EVENTS_SUFFIX, ACKS_SUFFIX):
            Path(f"{self.stem}{suffix}").unlink()
        return self.final


# ----- reading ------------------------------------------------------------------------------
@dataclass
class Journal:
    stem: Path
    events: pa.Table  # EVENTS_SCHEMA (the columns asked for)
    acks: pa.Table  # ACKS_SCHEMA, one row per outcome journaled
    summary: dict | None  # None: the process never closed its ledger (it was killed)

    @property
    def name(self) -> str:
        return self.stem.name


def journal_stems(path: Path) -> list[Path]:
    """The journals of a ledger path: a directory's, or those hidden beside a .parquet ledger."""
    path = Path(path)
    if path.suffix == ".parquet":
        found = path.parent.glob(f".{path.name}.*{EVENTS_SUFFIX}")
    else:
        found = path.glob(f"*{EVENTS_SUFFIX}")
    return sorted(Path(str(p)[: -len(EVENTS_SUFFIX)]) for p in found)


def _read_stream(path: Path, schema: pa.Schema, columns: list[str] | None) -> pa.Table:
    """Every whole record batch of a stream; a batch cut by a kill (or a missing file) ends it."""
    batches = []
    try:
        with pa.OSFile(str(path)) as f:
            reader = pa.ipc.open_stream(f)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (OSError, pa.ArrowInvalid):
        pass
    table = pa.Table.from_batches(batches, schema) if batches else schema.empty_table()
    return table.select(columns) if columns else table


def read_journal(stem: Path, columns: list[str] | None = None) -> Journal:
    """One producer process's journal; `columns` picks event columns (seq is always included)."""
    if columns is not None and "seq" not in columns:
        columns = ["seq", *columns]
    summary_file = Path(f"{stem}{SUMMARY_SUFFIX}")
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return Journal(Path(stem), _read_stream(Path(f"{stem}{EVENTS_SUFFIX}"), EVENTS_SCHEMA, columns),
                   _read_stream(Path(f"{stem}{ACKS_SUFFIX}"), ACKS_SCHEMA, None), summary)


def acknowledged_valid(journal: Journal) -> pa.Table:
    """The valid events the broker acknowledged, SCHEMA columns, in the order they were sent."""
    acked = journal.acks.filter(pc.equal(journal.acks["status"], ACKED))["seq"]
    ev = journal.events
    keep = pc.and_(pc.is_in(ev["seq"], value_set=acked), pc.is_null(ev["invalid"]))
    return ev.filter(keep).sort_by("seq").select(SCHEMA.names)
