"""The ground-truth ledger: what is written equals what was sent; failed deliveries leave it."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow.parquet as pq

from ecomdesk.producer import ledger as ledger_module
from ecomdesk.producer.events import Encoder, EventGenerator, EventModel
from ecomdesk.producer.ledger import Ledger, summary_path

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


def test_ledger_holds_exactly_the_events_sent(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "ROW_GROUP", 1000)
    gen = EventGenerator(EventModel(), 5)
    enc = Encoder(gen)
    ledger = Ledger(tmp_path / "sub" / "ledger.parquet", gen)
    sent = []
    for i, size in enumerate((10, 5000, 3)):  # several row groups
        batch = gen.take(size)
        ledger.add(batch, TS + i)
        sent += [json.loads(v) for v in enc.values(batch, TS + i)]
    ledger.add_invalid("negative_price")
    assert not (tmp_path / "sub" / "ledger.parquet").exists()  # only complete ledgers appear
    path = ledger.close()
    assert _sorted(_rows_as_events(path)) == _sorted(sent)
    assert pq.ParquetFile(path).num_row_groups > 1
    table = pq.read_table(path)
    assert table.num_rows == len(sent)
    topics = table.column("topic").to_pylist()
    etypes = table.column("event_type").to_pylist()
    assert {(e, t) for e, t in zip(etypes, topics, strict=True)} == {
        ("page_view", "page_views"), ("add_to_cart", "cart_events"), ("purchase", "orders")}
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"
    summary = json.loads(summary_path(path).read_text())
    assert summary == {"valid": len(sent), "failed_removed": 0, "invalid": {"negative_price": 1}}
    assert sorted(tmp_path.joinpath("sub").iterdir()) == sorted([path, summary_path(path)])


def test_failed_deliveries_are_taken_out_one_for_one(tmp_path):
    gen = EventGenerator(EventModel(users=1, products=1, stores=1, min_price_cents=1000, max_price_cents=1001), 1)
    enc = Encoder(gen)
    ledger = Ledger(tmp_path / "l.parquet", gen)
    batch = gen.take(400)  # few distinct events: many identical duplicates
    ledger.add(batch, TS)
    values = enc.values(batch, TS)
    failed = values[:3] + [b'{"user_id": 1, "trunc', b"not json"]
    for v in failed:
        ledger.failed(v)
    path = ledger.close()
    remaining = _rows_as_events(path)
    assert len(remaining) == 397
    expected = [json.loads(v) for v in values[3:]]
    assert _sorted(remaining) == _sorted(expected)
    assert json.loads(summary_path(path).read_text())["failed_removed"] == 3
    assert datetime.fromisoformat(remaining[0]["timestamp"]).utcoffset().total_seconds() == 0
