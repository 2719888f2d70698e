"""Deliberately invalid events: each kind breaks its rule, and the chosen share matches the fraction."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ecomdesk.producer.events import EVENT_TYPES, Encoder, EventGenerator, EventModel
from ecomdesk.producer.invalid import (
    BAD_TIMESTAMP,
    INVALID_KINDS,
    REQUIRED_FIELDS,
    chosen,
    corrupt,
    kind_of,
)

TS = 1795862935123


@pytest.fixture(scope="module")
def sample():
    gen = EventGenerator(EventModel(), 11)
    return gen, Encoder(gen), gen.take(20000)


def _valid(event: dict) -> bool:
    return (all(k in event for k in REQUIRED_FIELDS) and event["event_type"] in EVENT_TYPES
            and event["price"] >= 0 and event["timestamp"] != BAD_TIMESTAMP)


def test_each_kind_breaks_exactly_its_rule(sample):
    _, enc, batch = sample
    event = enc.event(batch, 0, TS)
    seen = set()
    for draw in range(50):
        kind = kind_of(draw)
        seen.add(kind)
        raw = corrupt(event, draw)
        if kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw)
            continue
        broken = json.loads(raw)
        assert not _valid(broken)
        if kind == "missing_field":
            assert len(set(event) - set(broken)) == 1
        elif kind == "unknown_event_type":
            assert broken["event_type"] not in EVENT_TYPES
        elif kind == "negative_price":
            assert broken["price"] == -event["price"] < 0
        else:
            assert broken["timestamp"] == BAD_TIMESTAMP
        # everything else is intact
        diff = {k for k in event if broken.get(k) != event[k]}
        assert len(diff) == 1
    assert seen == set(INVALID_KINDS)


def test_missing_field_varies_over_required_fields(sample):
    _, enc, batch = sample
    event = enc.event(batch, 1, TS)
    missing = {next(iter(set(event) - set(json.loads(corrupt(event, d)))))
               for d in range(0, 200) if kind_of(d) == "missing_field"}
    assert missing == set(REQUIRED_FIELDS)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.05, 0.3, 1.0])
def test_share_of_invalid_events_follows_the_fraction(sample, fraction):
    _, _, batch = sample
    picked = chosen(batch.chance, fraction)
    assert abs(len(picked) / len(batch) - fraction) < 0.01
    kinds = Counter(kind_of(int(k)) for k in batch.kind[picked])
    if len(picked) > 1000:
        assert set(kinds) == set(INVALID_KINDS)
        assert max(kinds.values()) / min(kinds.values()) < 1.3
