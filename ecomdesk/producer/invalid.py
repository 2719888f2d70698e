"""Deliberately broken events, so the streaming job's validation and quarantine get exercised."""

from __future__ import annotations

import json

import numpy as np

# Each kind breaks one rule a consumer must check; the order is part of the seeded sequence.
INVALID_KINDS = (
    "malformed_json",
    "missing_field",
    "unknown_event_type",
    "negative_price",
    "bad_timestamp",
)
REQUIRED_FIELDS = ("user_id", "product_id", "event_type", "price", "timestamp")
UNKNOWN_EVENT_TYPE = "refund_requested"
BAD_TIMESTAMP = "28/13/2026 25:61"


def chosen(chance: np.ndarray, fraction: float) -> np.ndarray:
    """Indexes of the events to corrupt: each with probability `fraction` (seeded draws)."""
    return np.flatnonzero(chance < fraction)


def kind_of(draw: int) -> str:
    return INVALID_KINDS[draw % len(INVALID_KINDS)]


def corrupt(event: dict, draw: int) -> bytes:
    """The message for a valid `event` broken the way `draw` selects (see `kind_of`)."""
    kind = kind_of(draw)
    broken = dict(event)
    if kind == "malformed_json":
        text = json.dumps(event, separators=(",", ":"))
        return text[: len(text) // 2].encode()  # cut mid-document: no parser accepts it
    if kind == "missing_field":
        del broken[REQUIRED_FIELDS[(draw // len(INVALID_KINDS)) % len(REQUIRED_FIELDS)]]
    elif kind == "unknown_event_type":
        broken["event_type"] = UNKNOWN_EVENT_TYPE
    elif kind == "negative_price":
        broken["price"] = -event["price"]
    else:
        broken["timestamp"] = BAD_TIMESTAMP
    return json.dumps(broken, separators=(",", ":")).encode()
