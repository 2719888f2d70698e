"""Generated events: schema, value ranges, distributions and reproducibility with a seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from ecomdesk.producer.events import (
    DEFAULT_CITIES,
    EVENT_TYPES,
    FIELDS,
    PROFILES,
    Encoder,
    EventGenerator,
    EventModel,
    iso_utc,
)

TS = 1795862935123  # 2026-11-28T...


def _events(n: int, seed: int = 7, model: EventModel | None = None) -> list[dict]:
    gen = EventGenerator(model or EventModel(), seed)
    enc = Encoder(gen)
    batch = gen.take(n)
    return [json.loads(v) for v in enc.values(batch, TS)]


def test_schema_and_ranges_match_the_original_shop():
    events = _events(20000)
    provinces = {c.name: c.province for c in DEFAULT_CITIES}
    for e in events:
        assert tuple(e) == FIELDS
        assert 1 <= e["user_id"] <= 100
        assert 100 <= e["product_id"] <= 119
        assert e["category"] in ("Tech", "Home", "Sports", "Fashion")
        assert e["event_type"] in EVENT_TYPES
        assert 10.0 <= e["price"] <= 500.0 and round(e["price"], 2) == e["price"]
        assert provinces[e["city"]] == e["province"]
        assert e["store_type"] in ("physical", "online")
        assert set(e["location"]) == {"lat", "lon"}
    assert {e["city"] for e in events} == set(provinces)
    assert len({e["user_id"] for e in events}) == 100
    assert len({e["product_id"] for e in events}) == 20


def test_timestamp_is_iso_utc_with_offset():
    e = _events(1)[0]
    assert e["timestamp"].endswith("+00:00")
    parsed = datetime.fromisoformat(e["timestamp"])
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    assert int(parsed.timestamp() * 1000) == TS
    assert iso_utc(0) == "1970-01-01T00:00:00.000+00:00"


def test_event_mix_and_uniform_fields():
    n = 100000
    events = _events(n)
    mix = Counter(e["event_type"] for e in events)
    for etype, share in zip(EVENT_TYPES, (0.60, 0.25, 0.15), strict=True):
        assert abs(mix[etype] / n - share) < 0.01, mix
    cities = Counter(e["city"] for e in events)  # 10 stores over 3 cities: 4/3/3
    assert abs(cities["Guayaquil"] / n - 0.4) < 0.01
    prices = np.array([e["price"] for e in events])
    assert abs(prices.mean() - 255.0) < 3.0
    users = Counter(e["user_id"] for e in events)
    assert max(users.values()) / min(users.values()) < 1.5


def test_product_belongs_to_one_category_and_store_to_one_city():
    events = _events(5000)
    by_product = {}
    by_store = {}
    for e in events:
        assert by_product.setdefault(e["product_id"], e["category"]) == e["category"]
        assert by_store.setdefault(e["store_id"], (e["city"], e["store_type"])) == (e["city"], e["store_type"])


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_seed_reproduces_the_sequence_whatever_the_batch_sizes(profile):
    model = PROFILES[profile]
    a_gen, b_gen = EventGenerator(model, 42), EventGenerator(model, 42)
    a = Encoder(a_gen).values(a_gen.take(10000), TS)
    b_enc = Encoder(b_gen)
    b = []
    for size in (1, 7, 4096, 3000, 2896):
        b += b_enc.values(b_gen.take(size), TS)
    assert a == b
    c_gen = EventGenerator(model, 43)
    assert Encoder(c_gen).values(c_gen.take(100), TS) != a[:100]


def test_fast_encoding_equals_the_dict_path():
    gen = EventGenerator(EventModel(), 3)
    enc = Encoder(gen)
    batch = gen.take(500)
    for i, value in enumerate(enc.values(batch, TS)):
        assert json.loads(value) == enc.event(batch, i, TS)
    assert enc.keys(batch) == [str(u).encode() for u in batch.user.tolist()]


def test_configurable_catalog_mix_and_cities():
    model = EventModel(users=5, products=3, first_product=100, categories=("Books",), mix=(0, 0, 1),
                       cities=(DEFAULT_CITIES[1],), stores=2)
    events = _events(2000, model=model)
    assert {e["user_id"] for e in events} == {1, 2, 3, 4, 5}
    assert {e["product_id"] for e in events} == {100, 101, 102}
    assert {e["category"] for e in events} == {"Books"}
    assert {e["event_type"] for e in events} == {"purchase"}
    assert {(e["city"], e["province"]) for e in events} == {("Quito", "Pichincha")}


@pytest.mark.parametrize("kwargs", [{"users": 0}, {"mix": (0, 0, 0)}, {"mix": (1, 2)}, {"categories": ()},
                                    {"min_price_cents": 500, "max_price_cents": 100}])
def test_bad_models_are_rejected_with_a_reason(kwargs):
    with pytest.raises(ValueError, match="invalid event model"):
        EventModel(**kwargs)


def test_timestamps_are_utc_now_not_local_time():
    now = datetime.now(UTC)
    ms = int(now.timestamp() * 1000)
    assert datetime.fromisoformat(iso_utc(ms)) == now.replace(microsecond=(now.microsecond // 1000) * 1000)
