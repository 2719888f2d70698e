"""`funnel.advance` and `funnel.thin`, the job's cross-batch cart -> purchase matching, on small
hand-made batches, against a plain Python loop over every (cart, purchase) pair."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline.funnel import FunnelState, advance, thin

MIN = 60 * 1_000_000  # µs
WINDOW = FUNNEL_WINDOW_SECONDS * 1_000_000
T0 = 1_709_287_200_000_000  # 2024-03-01T10:00:00Z in µs


def batch(rows) -> pd.DataFrame:
    """rows: (event_type, user_id, product_id, event_us), as `collect_partials` hands them over."""
    kinds = {"cart": "add_to_cart", "buy": "purchase"}
    return pd.DataFrame({
        "user_id": [str(r[1]) for r in rows],
        "product_id": [str(r[2]) for r in rows],
        "event_type": [kinds[r[0]] for r in rows],
        "event_us": pd.Series([r[3] for r in rows], dtype="int64"),
        "topic": ["cart_events" if r[0] == "cart" else "orders" for r in rows],
        "partition": pd.Series([0] * len(rows), dtype="int64"),
        "offset": pd.Series(range(len(rows)), dtype="int64"),
    })


def loop_funnel(rows) -> dict[int, tuple[int, int, int]]:
    """Minute -> (carts, purchases, converted): each cart pairs with each purchase, plain Python."""
    carts = [r for r in rows if r[0] == "cart"]
    buys = [r for r in rows if r[0] == "buy"]
    count = Counter()
    for _, user, product, t in carts:
        count[t // MIN * MIN, 0] += 1
        if any(u == user and p == product and 0 <= tb - t <= WINDOW for _, u, p, tb in buys):
            count[t // MIN * MIN, 2] += 1
    for _, _, _, t in buys:
        count[t // MIN * MIN, 1] += 1
    minutes = sorted({m for m, _ in count})
    return {m: (count[m, 0], count[m, 1], count[m, 2]) for m in minutes}


def summed(deltas: list[pd.DataFrame]) -> dict[int, tuple[int, int, int]]:
    """The per-minute deltas of several batches added up, as the snapshot merge does."""
    both = pd.concat(deltas).groupby("minute_us")[["carts", "purchases", "converted"]].sum()
    both = both[(both != 0).any(axis=1)]
    return {int(m): tuple(int(v) for v in row) for m, row in both.iterrows()}


def run(batches, watermarks) -> tuple[FunnelState, list[pd.DataFrame]]:
    state, deltas = FunnelState.empty(), []
    for rows, wm in zip(batches, watermarks, strict=True):
        state, delta = advance(state, batch(rows), wm)
        deltas.append(delta)
    return state, deltas


def test_window_edges_in_one_batch():
    """0 and exactly 20 minutes convert; 20 min + 1 µs, a purchase before the cart and a purchase of
    another product or by another user do not."""
    rows = [
        ("cart", 1, 10, T0), ("buy", 1, 10, T0 + WINDOW),  # the edge: converts
        ("cart", 2, 10, T0), ("buy", 2, 10, T0 + WINDOW + 1),  # 1 µs too late
        ("buy", 3, 10, T0 - 1), ("cart", 3, 10, T0),  # bought before the cart
        ("cart", 4, 10, T0 + 5 * MIN), ("buy", 4, 10, T0 + 5 * MIN),  # same instant: converts
        ("cart", 5, 10, T0), ("buy", 5, 11, T0 + MIN), ("buy", 6, 10, T0 + MIN),  # other product, other user
    ]
    state, delta = advance(FunnelState.empty(), batch(rows), None)
    want = loop_funnel(rows)
    assert summed([delta]) == want
    assert sum(c for _, _, c in want.values()) == 2  # users 1 and 4
    assert want[T0] == (4, 0, 1)
    # the converted carts left the state, the others stay open; every purchase is kept
    assert sorted(state.carts["user_id"]) == ["2", "3", "5"]
    assert len(state.purchases) == 6


def test_a_cart_converts_across_batches_in_either_order_and_only_once():
    first = [("cart", 1, 10, T0), ("buy", 2, 10, T0 + 3 * MIN)]
    second = [("buy", 1, 10, T0 + 4 * MIN),  # buys the cart of the first batch
              ("cart", 2, 10, T0 + MIN),  # a cart that arrives after its purchase
              ("buy", 1, 10, T0 + 6 * MIN)]  # a second purchase of the already converted cart
    third = [("buy", 1, 10, T0 + 7 * MIN), ("buy", 2, 10, T0 + 8 * MIN)]  # and more of both
    state, deltas = run([first, second, third], [None, None, None])
    assert summed(deltas) == loop_funnel(first + second + third)
    assert [int(d["converted"].sum()) for d in deltas] == [0, 2, 0]
    # both conversions count at their cart's minute, in the batch that completed them
    assert deltas[1].set_index("minute_us")["converted"].to_dict() == {T0: 1, T0 + MIN: 1, T0 + 4 * MIN: 0,
                                                                       T0 + 6 * MIN: 0}
    assert state.carts.empty


def test_the_watermark_drops_state_that_can_no_longer_match():
    """After a batch, carts and purchases older than its watermark - 20 min leave the state: no
    on-time event can match them any more. A purchase too late for the watermark then finds no cart."""
    old = [("cart", 1, 10, T0), ("buy", 2, 10, T0)]
    recent = [("cart", 3, 10, T0 + 30 * MIN), ("buy", 4, 10, T0 + 30 * MIN)]
    state, _ = advance(FunnelState.empty(), batch(old + recent), None)
    assert state.rows == 4
    state, _ = advance(state, batch([]), T0 + 30 * MIN)  # horizon: T0 + 10 min
    assert state.carts["user_id"].tolist() == ["3"] and state.purchases["user_id"].tolist() == ["4"]
    late = [("buy", 1, 10, T0 + 15 * MIN)]  # would have bought the cart at T0 (lag 15 min)
    state, delta = advance(state, batch(late), T0 + 30 * MIN)
    assert loop_funnel(old + late)[T0][2] == 1 and int(delta["converted"].sum()) == 0
    assert sorted(state.purchases["user_id"]) == ["1", "4"]  # the late purchase is within the horizon
    state, _ = advance(state, batch([]), T0 + 60 * MIN)  # horizon T0 + 40 min: nothing is left
    assert state.rows == 0


def test_the_state_keeps_what_a_late_event_within_the_horizon_can_match():
    horizon = T0 + 10 * MIN
    buys = [("buy", 1, 10, horizon + MIN // 2), ("buy", 2, 10, horizon - 1)]
    state, _ = advance(FunnelState.empty(), batch(buys), horizon + 20 * MIN)
    assert state.purchases["user_id"].tolist() == ["1"]
    late_carts = [("cart", 1, 10, horizon), ("cart", 2, 10, horizon - MIN)]
    _, delta = advance(state, batch(late_carts), horizon + 20 * MIN)
    assert delta.set_index("minute_us")["converted"].to_dict() == {horizon - MIN: 0, horizon: 1}


def test_state_stays_bounded_on_a_long_stream():
    """Two hours of one batch a minute: the state holds about the last 20 minutes + the delay."""
    rng = random.Random(3)
    delay, state, peak = 2 * MIN, FunnelState.empty(), 0
    for minute in range(120):
        start = T0 + minute * MIN
        rows = [(rng.choice(["cart", "buy"]), rng.randint(1, 3), rng.randint(10, 12),
                 start + rng.randrange(MIN)) for _ in range(20)]
        state, _ = advance(state, batch(rows), None if minute == 0 else start - delay)
        peak = max(peak, state.rows)
        if minute > 30:
            assert state.carts["event_us"].min() >= start - delay - WINDOW
            assert state.purchases["event_us"].min() >= start - delay - WINDOW
    # 20 events a minute: at most 23 minutes' worth of events; `thin` keeps less of the purchases
    assert peak <= 23 * 20


def _stream(seed: int, n: int, delay_us: int):
    """n events over 90 minutes, few users and products; they arrive late by up to `delay_us`, so
    every event is on time for the watermark (max event time seen - delay)."""
    rng = random.Random(seed)
    rows = [(rng.choice(["cart", "cart", "buy"]), rng.randint(1, 3), rng.randint(10, 13),
             T0 + rng.randrange(90 * MIN)) for _ in range(n)]
    return sorted(rows, key=lambda r: r[3] + rng.randrange(delay_us))


@pytest.mark.parametrize(("seed", "n_batches"), [(1, 1), (2, 3), (3, 7), (4, 25), (5, 60)])
def test_any_split_into_batches_counts_as_one_pass_over_all_events(seed, n_batches):
    delay = 5 * MIN
    rows = _stream(seed, 400, delay)
    size = -(-len(rows) // n_batches)
    batches = [rows[i:i + size] for i in range(0, len(rows), size)]
    watermarks, seen = [], None
    for b in batches:
        watermarks.append(None if seen is None else seen - delay)
        seen = max(r[3] for r in b) if seen is None else max(seen, *(r[3] for r in b))
    assert all(r[3] >= wm for b, wm in zip(batches, watermarks, strict=True) if wm is not None for r in b)
    _, deltas = run(batches, watermarks)
    want = loop_funnel(rows)
    assert sum(c for _, _, c in want.values()) > 20  # the stream converts often enough to test
    assert summed(deltas) == want


def test_a_replayed_batch_gives_the_same_state_and_deltas():
    """The job replays batch N from snapshot N-1: same input, same output, input state untouched;
    the order of the events inside the batch does not matter."""
    rows = _stream(9, 300, 5 * MIN)
    state, _ = advance(FunnelState.empty(), batch(rows[:150]), None)
    before = (state.carts.copy(), state.purchases.copy())
    nxt = batch(rows[150:])
    watermark = max(r[3] for r in rows[:150]) - 5 * MIN
    a_state, a_delta = advance(state, nxt, watermark)
    b_state, b_delta = advance(state, nxt, watermark)
    pd.testing.assert_frame_equal(a_delta, b_delta)
    pd.testing.assert_frame_equal(a_state.carts, b_state.carts)
    pd.testing.assert_frame_equal(a_state.purchases, b_state.purchases)
    pd.testing.assert_frame_equal(state.carts, before[0])
    pd.testing.assert_frame_equal(state.purchases, before[1])
    c_state, c_delta = advance(state, nxt.sample(frac=1, random_state=0), watermark)

    def rows_of(df):
        return sorted(map(tuple, df.to_numpy().tolist()))

    assert rows_of(c_delta) == rows_of(a_delta)
    assert rows_of(c_state.carts) == rows_of(a_state.carts)
    assert rows_of(c_state.purchases) == rows_of(a_state.purchases)


def _matches(cart, purchases) -> bool:
    _, user, product, t = cart
    return any(u == user and p == product and 0 <= tb - t <= WINDOW for _, u, p, tb in purchases)


@pytest.mark.parametrize("seed", range(5))
def test_thin_keeps_an_answer_for_every_cart(seed):
    """A cart matches the thinned purchases exactly when it matches all of them."""
    rng = random.Random(seed)
    buys = [("buy", rng.randint(1, 2), rng.randint(10, 11), T0 + rng.randrange(60 * MIN)) for _ in range(200)]
    purchases = batch(buys)[["user_id", "product_id", "event_us"]]
    kept = thin(purchases)
    kept_rows = [("buy", int(u), int(p), int(t)) for u, p, t in kept.itertuples(index=False)]
    assert len(kept) < len(purchases) / 4  # 4 keys x 6 slots of 10 min x at most first + last
    assert set(kept_rows) <= set(buys)
    carts = [("cart", rng.randint(1, 2), rng.randint(10, 11), T0 + rng.randrange(-30 * MIN, 70 * MIN))
             for _ in range(300)]
    carts += [("cart", u, p, t - d) for _, u, p, t in buys[:50] for d in (0, WINDOW, WINDOW + 1)]
    assert sum(_matches(c, buys) for c in carts) > 50
    assert [_matches(c, kept_rows) for c in carts] == [_matches(c, buys) for c in carts]


def test_thin_of_nothing_is_nothing():
    empty = FunnelState.empty().purchases
    assert thin(empty).empty and list(thin(empty).columns) == ["user_id", "product_id", "event_us"]
