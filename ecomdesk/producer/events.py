"""Synthetic e-commerce events: a seeded, vectorised generator and a fast JSON encoder.

Per-event `json.dumps` costs more than sending the message, so events are drawn as numpy
index arrays in fixed-size blocks (a seed gives the same sequence whatever the batch sizes)
and encoded by joining byte strings pre-encoded from the catalog. The output is the
same document `json.dumps` gives for those fields (compact, prices always with two decimals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ecomdesk.producer.sessions import Sessions, catalog_prices, session_block
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

EVENT_TYPES = tuple(TOPIC_BY_EVENT_TYPE)  # page_view, add_to_cart, purchase
FIELDS = (
    "user_id", "product_id", "category", "event_type", "price", "timestamp",
    "store_id", "store_type", "city", "province", "location",
)
STORE_TYPES = ("physical", "online")
BLOCK = 4096
LOCATIONS_PER_CITY = 64
LOCATION_JITTER_DEG = 0.05


@dataclass(frozen=True)
class City:
    name: str
    province: str
    lat: float
    lon: float


DEFAULT_CITIES = (
    City("Guayaquil", "Guayas", -2.1894, -79.8891),
    City("Quito", "Pichincha", -0.1807, -78.4678),
    City("Cuenca", "Azuay", -2.9001, -79.0059),
)


@dataclass(frozen=True)
class EventModel:
    """What the simulated shop looks like; the defaults are the original classroom shop.

    Product `first_product + i` belongs to category `categories[i % len(categories)]`;
    store `s` (1-based) is in city `cities[(s - 1) % len(cities)]`, physical or online in turns.
    Without `sessions` events are independent draws (`mix`, any price); with them, users browse
    in sessions (`ecomdesk.producer.sessions`) and each product has one price.
    """

    users: int = 100
    products: int = 20
    first_product: int = 100
    categories: tuple[str, ...] = ("Tech", "Home", "Sports", "Fashion")
    mix: tuple[float, float, float] = (0.60, 0.25, 0.15)  # weights in EVENT_TYPES order
    cities: tuple[City, ...] = DEFAULT_CITIES
    stores: int = 10
    min_price_cents: int = 1000
    max_price_cents: int = 50000
    sessions: Sessions | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.users < 1 or self.products < 1 or self.stores < 1:
            problems.append("users, products and stores must be >= 1")
        if not self.categories or not self.cities:
            problems.append("categories and cities must not be empty")
        if len(self.mix) != len(EVENT_TYPES) or min(self.mix) < 0 or sum(self.mix) <= 0:
            problems.append(f"mix needs {len(EVENT_TYPES)} non-negative weights with a positive sum")
        if not 0 < self.min_price_cents <= self.max_price_cents:
            problems.append("prices must satisfy 0 < min <= max")
        if problems:
            raise ValueError("invalid event model: " + "; ".join(problems))

    def category_of(self, product_id: int) -> str:
        return self.categories[(product_id - self.first_product) % len(self.categories)]

    def store(self, store_id: int) -> tuple[str, City]:
        """(store_type, city) of a store id."""
        n = len(self.cities)
        return STORE_TYPES[((store_id - 1) // n) % len(STORE_TYPES)], self.cities[(store_id - 1) % n]


PROFILES = {
    "realistic": EventModel(users=5000, products=200, sessions=Sessions(),
                            categories=("Tech", "Home", "Sports", "Fashion", "Books", "Toys", "Beauty", "Food")),
    "classroom": EventModel(),  # independent events, 60/25/15, users 1-100, products 100-119
}


@dataclass
class Batch:
    """Events as index arrays: cheap to slice, encode and write to the ledger."""

    user: np.ndarray  # user_id
    product: np.ndarray  # index into the product catalog
    etype: np.ndarray  # index into EVENT_TYPES
    cents: np.ndarray  # price in cents
    store: np.ndarray  # index into stores (store_id - 1)
    loc: np.ndarray  # index into the store city's location table
    chance: np.ndarray  # uniform [0, 1): below the invalid fraction means "corrupt this one"
    kind: np.ndarray  # which corruption, when corrupted (uniform int)

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index) -> Batch:
        return Batch(*(getattr(self, f)[index] for f in _ARRAYS))


_ARRAYS = ("user", "product", "etype", "cents", "store", "loc", "chance", "kind")


class EventGenerator:
    """Seeded source of event batches; identical seeds give identical event sequences."""

    def __init__(self, model: EventModel, seed: int | None = None):
        self.model = model
        self.rng = np.random.default_rng(seed)
        mix = np.asarray(model.mix, dtype=float)
        self._mix = mix / mix.sum()
        self._locations = self._draw_locations()
        self._prices = catalog_prices(model.products, model.min_price_cents, model.max_price_cents)
        self._buffer: Batch | None = None

    def _draw_locations(self) -> np.ndarray:
        """Per city, LOCATIONS_PER_CITY points around its centre: shape (cities, K, 2)."""
        centres = np.array([[c.lat, c.lon] for c in self.model.cities])
        jitter = self.rng.uniform(-LOCATION_JITTER_DEG, LOCATION_JITTER_DEG,
                                  (len(centres), LOCATIONS_PER_CITY, 2))
        return np.round(centres[:, None, :] + jitter, 4)

    def location(self, store_index: int, loc: int) -> tuple[float, float]:
        lat, lon = self._locations[store_index % len(self.model.cities), loc]
        return float(lat), float(lon)

    def _block(self) -> Batch:
        m, r, n = self.model, self.rng, BLOCK
        if m.sessions is not None:
            return self._session_block(m.sessions)
        return Batch(
            user=r.integers(1, m.users + 1, n),
            product=r.integers(0, m.products, n),
            etype=r.choice(len(EVENT_TYPES), n, p=self._mix),
            cents=r.integers(m.min_price_cents, m.max_price_cents + 1, n),
            store=r.integers(0, m.stores, n),
            loc=r.integers(0, LOCATIONS_PER_CITY, n),
            chance=r.random(n),
            kind=r.integers(0, 1 << 30, n),
        )

    def _session_block(self, sessions: Sessions) -> Batch:
        m, r = self.model, self.rng
        ev = session_block(sessions, m.users, len(m.categories), m.products, m.stores, LOCATIONS_PER_CITY, r)
        n = len(ev["user"])
        return Batch(cents=self._prices[ev["product"]], chance=r.random(n), kind=r.integers(0, 1 << 30, n), **ev)

    def take(self, n: int) -> Batch:
        """The next `n` events of the sequence."""
        parts: list[Batch] = []
        need = n
        while need > 0:
            if self._buffer is None or len(self._buffer) == 0:
                self._buffer = self._block()
            part = self._buffer.take(slice(0, need))
            self._buffer = self._buffer.take(slice(need, None))
            parts.append(part)
            need -= len(part)
        if len(parts) == 1:
            return parts[0]
        return Batch(*(np.concatenate([getattr(p, f) for p in parts]) for f in _ARRAYS))


def iso_utc(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and an explicit offset: 2026-11-28T10:42:12.123+00:00."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class Encoder:
    """Turns batches into (values, keys, event-type indexes) with pre-encoded byte pieces."""

    def __init__(self, generator: EventGenerator):
        self.gen = generator
        m = generator.model
        self._user = [b'{"user_id":%d,"product_id":' % u for u in range(m.users + 1)]
        self._product = [
            b'%d,"category":%b,"event_type":' % (pid, _js(m.category_of(pid)))
            for pid in range(m.first_product, m.first_product + m.products)
        ]
        self._etype = [_js(e) + b',"price":' for e in EVENT_TYPES]
        self._price = [_price(c).encode() for c in range(m.min_price_cents, m.max_price_cents + 1)]
        self._price_base = m.min_price_cents
        self._store: list[bytes] = []  # index: store * K + loc
        for s in range(m.stores):
            store_type, city = m.store(s + 1)
            head = b'%d,"store_type":%b,"city":%b,"province":%b,"location":' % (
                s + 1, _js(store_type), _js(city.name), _js(city.province))
            for k in range(LOCATIONS_PER_CITY):
                lat, lon = generator.location(s, k)
                self._store.append(head + json.dumps({"lat": lat, "lon": lon}, separators=(",", ":")).encode()
                                   + b"}")
        self._keys = [b"%d" % u for u in range(m.users + 1)]

    def values(self, batch: Batch, ts_ms: int) -> list[bytes]:
        """JSON of every event of the batch, all stamped with `ts_ms`."""
        stamp = b',"timestamp":"%b","store_id":' % iso_utc(ts_ms).encode()
        u, p, e = self._user, self._product, self._etype
        pr, st, join = self._price, self._store, b"".join
        cents = (batch.cents - self._price_base).tolist()
        stores = (batch.store * LOCATIONS_PER_CITY + batch.loc).tolist()
        return [
            join((u[a], p[b], e[c], pr[d], stamp, st[f]))
            for a, b, c, d, f in zip(batch.user.tolist(), batch.product.tolist(), batch.etype.tolist(),
                                     cents, stores, strict=True)
        ]

    def keys(self, batch: Batch) -> list[bytes]:
        k = self._keys
        return [k[u] for u in batch.user.tolist()]

    def event(self, batch: Batch, i: int, ts_ms: int) -> dict:
        """One event as a dict (the slow path, used for invalid events and tests)."""
        m = self.gen.model
        pid = m.first_product + int(batch.product[i])
        store_type, city = m.store(int(batch.store[i]) + 1)
        lat, lon = self.gen.location(int(batch.store[i]), int(batch.loc[i]))
        return {
            "user_id": int(batch.user[i]),
            "product_id": pid,
            "category": m.category_of(pid),
            "event_type": EVENT_TYPES[int(batch.etype[i])],
            "price": float(_price(int(batch.cents[i]))),
            "timestamp": iso_utc(ts_ms),
            "store_id": int(batch.store[i]) + 1,
            "store_type": store_type,
            "city": city.name,
            "province": city.province,
            "location": {"lat": lat, "lon": lon},
        }


def _js(text: str) -> bytes:
    return json.dumps(text).encode()


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
