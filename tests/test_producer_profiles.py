"""The simulator's profiles: the classroom shop exactly as before, the realistic shop's sessions,
conversion, hour-of-day traffic and campaigns (time passed in, no sleeping)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ecomdesk.producer.control import Command, ControlError, parse
from ecomdesk.producer.events import FIELDS, PROFILES, Encoder, EventGenerator, EventModel
from ecomdesk.producer.ledger import Ledger
from ecomdesk.producer.pacer import Pacer
from ecomdesk.producer.runner import ProducerRunner, Settings
from ecomdesk.producer.traffic import HOURLY, SHOP_UTC_OFFSET_HOURS, Traffic, diurnal
from ecomdesk.testing.reference import aggregates
from ecomdesk.testing.sandbox import free_ports

TS = 1795862935123
# sha256 of the first 5000 classroom events (seed 7, stamped TS), joined by newlines, as the
# generator gave them before the realistic profile existed (commit 1a645da)
CLASSROOM_DIGEST = "0829c1d7edeb235ed07f33f54da28a20264f1e39fb06e17c524a0d7e8dedace7"


def _events(model: EventModel, n: int, seed: int = 7) -> list[dict]:
    gen = EventGenerator(model, seed)
    return [json.loads(v) for v in Encoder(gen).values(gen.take(n), TS)]


def test_the_classroom_profile_is_the_original_generator():
    assert PROFILES["classroom"] == EventModel()
    gen = EventGenerator(PROFILES["classroom"], 7)
    values = Encoder(gen).values(gen.take(5000), TS)
    assert hashlib.sha256(b"\n".join(values)).hexdigest() == CLASSROOM_DIGEST


@pytest.fixture(scope="module")
def realistic() -> list[dict]:
    return _events(PROFILES["realistic"], 20000)


def test_realistic_events_have_the_original_fields_and_a_catalog(realistic):
    m = PROFILES["realistic"]
    assert all(tuple(e) == FIELDS for e in realistic)
    price, category = {}, {}
    for e in realistic:
        assert 1 <= e["user_id"] <= m.users and 100 <= e["product_id"] < 100 + m.products
        assert price.setdefault(e["product_id"], e["price"]) == e["price"]  # one price per product
        assert category.setdefault(e["product_id"], e["category"]) == e["category"]
        assert 10.0 <= e["price"] <= 500.0
    assert len(category) > 150 and len({e["user_id"] for e in realistic}) > 1000


def _sessions(events: list[dict], gap: int = 400) -> list[list[dict]]:
    """A user's events split where more than `gap` other events lie between two of them (sessions
    run about 16 at a time and last a few dozen events)."""
    by_user: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for i, e in enumerate(events):
        by_user[e["user_id"]].append((i, e))
    out = []
    for rows in by_user.values():
        current = [rows[0]]
        for prev, row in zip(rows, rows[1:], strict=False):
            if row[0] - prev[0] > gap:
                out.append([e for _, e in current])
                current = []
            current.append(row)
        out.append([e for _, e in current])
    return out


def test_realistic_sessions_view_one_category_then_cart_then_buy(realistic):
    sessions = _sessions(realistic)
    assert 3000 < len(sessions) < 5000  # about 5.3 events a session
    one_category = sum(len({e["category"] for e in s}) == 1 for s in sessions)
    assert one_category / len(sessions) > 0.97  # the rare rest: two sessions of one user close together
    for s in sessions:
        seen: dict[str, set] = {"page_view": set(), "add_to_cart": set()}
        for e in s:
            if e["event_type"] == "add_to_cart":
                assert e["product_id"] in seen["page_view"]
            if e["event_type"] == "purchase":
                assert e["product_id"] in seen["add_to_cart"]
            seen.get(e["event_type"], set()).add(e["product_id"])
        assert len({(e["store_id"], e["city"]) for e in s}) >= 1
    buying = sum(any(e["event_type"] == "purchase" for e in s) for s in sessions) / len(sessions)
    carting = sum(any(e["event_type"] == "add_to_cart" for e in s) for s in sessions) / len(sessions)
    assert 0.02 <= buying <= 0.05 and 0.07 <= carting <= 0.13


def test_realistic_funnel_is_of_the_order_real_shops_report(realistic):
    ev = pd.DataFrame(realistic)
    ev["user_id"], ev["product_id"] = ev["user_id"].astype(str), ev["product_id"].astype(str)
    ev["event_time"] = pd.Timestamp("2026-11-28T10:00:00Z") + pd.to_timedelta(np.arange(len(ev)), unit="ms")
    f = aggregates(ev)["conversion_overall"].iloc[0]
    assert f.viewed > f.carted > f.bought > 0
    assert 0.03 <= f.view_to_cart <= 0.10 and 0.005 <= f.view_to_buy <= 0.03
    assert 0.2 <= f.cart_conversion_rate <= 0.6


def test_the_ledger_records_realistic_events(tmp_path):
    gen = EventGenerator(PROFILES["realistic"], 5)
    enc = Encoder(gen)
    ledger = Ledger(tmp_path / "l.parquet", gen)
    batch = gen.take(3000)
    values = enc.values(batch, TS)
    ledger.record(0, batch, TS, values, {})
    ledger.handed(len(batch), [])
    for seq in range(len(batch)):
        ledger.acked(seq, 0, seq)
    rows = pq.read_table(ledger.close()).to_pylist()
    sent = [json.loads(v) for v in values]
    assert [(r["user_id"], r["product_id"], r["event_type"], r["price"]) for r in rows] == [
        (e["user_id"], e["product_id"], e["event_type"], e["price"]) for e in sent]


def test_traffic_by_hour_averages_the_configured_rate():
    day = [diurnal(h * 60.0) for h in range(24 * 60)]  # every minute of a day
    assert np.mean(day) == pytest.approx(1.0, abs=1e-3)
    assert np.mean(HOURLY) == pytest.approx(1.0)
    night = diurnal((3 - SHOP_UTC_OFFSET_HOURS) * 3600.0)  # 03:00 at the shop
    evening = diurnal((20 - SHOP_UTC_OFFSET_HOURS) * 3600.0)
    assert night < 0.3 < 1.5 < evening
    assert max(abs(a - b) for a, b in zip(day, day[1:], strict=False)) < 0.01  # smooth: no jumps


def test_a_campaign_multiplies_the_rate_for_its_minutes():
    t = Traffic(daily=False)
    assert t.multiplier(1000.0) == 1.0
    t.campaign(3.0, 10, now=1000.0)
    assert t.multiplier(1000.0) == t.multiplier(1599.0) == 3.0 and t.until == 1600.0
    assert t.multiplier(1600.0) == 1.0
    t.campaign(5.0, 10, now=2000.0)
    t.campaign(5.0, 0, now=2100.0)  # 0 minutes ends it
    assert t.multiplier(2100.0) == 1.0
    daily = Traffic(daily=True)
    daily.campaign(2.0, 1, now=0.0)
    assert daily.multiplier(30.0) == pytest.approx(2 * diurnal(30.0))


def test_the_runner_follows_a_campaign_and_its_end():
    port = free_ports(1)[0]  # nothing listens: the runner is driven by hand, nothing is sent
    logged: list[str] = []
    runner = ProducerRunner(Settings(bootstrap=f"127.0.0.1:{port}", rate=100.0), lambda r: None, logged.append)
    now = [50_000.0]
    runner.clock = lambda: now[0]
    runner._tick_at, runner._tick_sent = 0.0, 0  # as `run` sets them
    pacer = Pacer(runner.target_rate(), 0.0)
    runner._apply(parse("campaign 4 2"), pacer, 0.0)
    runner._steer(pacer, 0.0)
    assert logged == ["control: campaign 4 2"]
    assert runner.target_rate() == pacer.rate == 400.0
    assert runner.snapshot(0.0).target_rate == 400.0
    now[0] += 119
    runner._steer(pacer, 119.0)
    assert pacer.rate == 400.0
    now[0] += 1  # two minutes after the command
    runner._steer(pacer, 120.0)
    assert runner.target_rate() == pacer.rate == 100.0


def test_campaign_commands_parse_and_say_why_not():
    assert parse("campaign 3 10") == Command("campaign", 3.0, 10.0)
    assert parse("CAMPAIGN 1.5 0.5") == Command("campaign", 1.5, 0.5)
    for line, message in (("campaign 3", "factor and minutes"), ("campaign 0 5", "> 0"),
                          ("campaign 2 -1", ">= 0"), ("campaign x 1", "needs a number")):
        with pytest.raises(ControlError, match=message):
            parse(line)
