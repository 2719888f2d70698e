"""The ground-truth ledger: a crash-safe journal of what was sent and what the broker acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

import pyarrow.parquet as pq

from ecomdesk.producer import ledger as ledger_module
from ecomdesk.producer.events import Encoder, EventGenerator, EventModel
from ecomdesk.producer.ledger import ACKED, FAILED, UNSENT, Ledger, journal_stems, read_journal, summary_path
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

TS = 1795862935123


def _rows_as_events(path) -> list[dict]:
    out = []
    for r in pq.read_table(path).to_pylist():
        lat, lon = r.pop("lat"), r.pop("lon")
        r.pop("topic")
        r["timestamp"] = r["timestamp"].isoformat(timespec="milliseconds")
        r["location"] = {"lat": lat, "lon": lon}
        out.append(r)
    return out


def _sorted(events):
    return sorted(events, key=lambda e: json.dumps(e, sort_keys=True))


def _send(ledger: Ledger, gen, enc, seq0: int, size: int, ts: int, invalid: dict | None = None):
    batch = gen.take(size)
    values = enc.values(batch, ts)
    ledger.record(seq0, batch, ts, values, invalid or {})
    ledger.handed(size - len(invalid or {}), list((invalid or {}).values()))
    return batch, values


def test_parquet_ledger_holds_exactly_the_acknowledged_valid_events(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "ROW_GROUP", 1000)
    gen = EventGenerator(EventModel(), 5)
    enc = Encoder(gen)
    ledger = Ledger(tmp_path / "sub" / "ledger.parquet", gen)
    sent, seq = [], 0
    for i, size in enumerate((10, 5000, 3)):  # several row groups
        _, values = _send(ledger, gen, enc, seq, size, TS + i, {0: "negative_price"} if i == 0 else None)
        sent += [json.loads(v) for v in values[1 if i == 0 else 0:]]
        for k in range(size):
            ledger.acked(seq + k, 0, seq + k)
        seq += size
    assert not (tmp_path / "sub" / "ledger.parquet").exists()  # only complete ledgers appear
    path = ledger.close()
    assert _sorted(_rows_as_events(path)) == _sorted(sent)
    assert pq.ParquetFile(path).num_row_groups > 1
    table = pq.read_table(path)
    assert table.num_rows == len(sent)
    topics = table.column("topic").to_pylist()
    etypes = table.column("event_type").to_pylist()
    assert {(e, t) for e, t in zip(etypes, topics, strict=True)} == set(TOPIC_BY_EVENT_TYPE.items())
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"
    summary = json.loads(summary_path(path).read_text())
    assert (summary["valid"], summary["failed_removed"], summary["invalid"]) == (len(sent), 0, {"negative_price": 1})
    assert summary["acknowledged"] == {"valid": len(sent), "invalid": 1} and summary["unconfirmed"] == 0
    assert sorted(tmp_path.joinpath("sub").iterdir()) == sorted([path, summary_path(path)])  # journal removed


def test_failed_unsent_and_unconfirmed_events_stay_out_of_the_parquet_ledger(tmp_path):
    gen = EventGenerator(EventModel(users=1, products=1, stores=1, min_price_cents=1000, max_price_cents=1001), 1)
    enc = Encoder(gen)
    ledger = Ledger(tmp_path / "l.parquet", gen)
    batch = gen.take(400)  # few distinct events: many identical duplicates
    values = enc.values(batch, TS)
    ledger.record(0, batch, TS, values, {})
    ledger.handed(395, [])  # the last 5 were never handed to the client
    for s in range(3, 390):
        ledger.acked(s, 1, s)
    for s in range(3):
        ledger.failed(s, "Local: Message timed out")
    ledger.unsent(395, 400)
    path = ledger.close()
    remaining = _rows_as_events(path)
    assert _sorted(remaining) == _sorted([json.loads(v) for v in values[3:390]])
    summary = json.loads(summary_path(path).read_text())
    assert summary["failed_removed"] == 395 - 387 and summary["failed"]["valid"] == 3
    assert summary["unsent"] == 5 and summary["unconfirmed"] == 5  # 390..394 never reported
    assert datetime.fromisoformat(remaining[0]["timestamp"]).utcoffset().total_seconds() == 0


def test_directory_ledger_keeps_one_journal_per_process(tmp_path):
    gen = EventGenerator(EventModel(), 2)
    enc = Encoder(gen)
    first = Ledger(tmp_path / "ledger", gen)
    _, values = _send(first, gen, enc, 0, 20, TS, {3: "malformed_json"})
    first.acked(0, 2, 7)
    first.failed(1, "boom")
    first.unsent(19, 20)
    first.close()
    (stem,) = journal_stems(tmp_path / "ledger")
    j = read_journal(stem)
    assert j.summary is not None and j.events.num_rows == 20
    assert j.events["value"].to_pylist() == values
    assert j.events["invalid"].to_pylist()[3] == "malformed_json" and j.events["invalid"].null_count == 19
    got = {r["seq"]: (r["status"], r["partition"], r["offset"]) for r in j.acks.to_pylist()}
    assert got == {0: (ACKED, 2, 7), 1: (FAILED, None, None), 19: (UNSENT, None, None)}


def test_a_sigkilled_producer_leaves_a_readable_journal(tmp_path):
    """Everything journaled before the kill is read back; the kill cuts at most a batch being written."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        from ecomdesk.producer.events import Encoder, EventGenerator, EventModel
        from ecomdesk.producer.ledger import Ledger
        gen = EventGenerator(EventModel(), 3)
        enc = Encoder(gen)
        ledger = Ledger(Path({str(tmp_path / 'ledger')!r}), gen)
        for i in range(50):
            batch = gen.take(100)
            ledger.record(i * 100, batch, {TS} + i, enc.values(batch, {TS} + i), {{}})
            for k in range(100):
                ledger.acked(i * 100 + k, 0, i * 100 + k)
            ledger.flush()
        for k in range(50):  # acks received but not flushed: lost with the process
            ledger.acked(5000 + k, 0, 5000 + k)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (stem,) = journal_stems(tmp_path / "ledger")
    j = read_journal(stem)
    assert j.summary is None
    assert j.events.num_rows == 5000 and j.acks.num_rows == 5000
    # a batch cut in the middle (the kill landing during a write) is dropped, the rest kept
    events_file = f"{stem}.events.arrows"
    with open(events_file, "r+b") as f:
        f.truncate(os.path.getsize(events_file) - 10)
    assert read_journal(stem).events.num_rows == 4900
