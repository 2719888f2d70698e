"""`funnel.advance`, the job's cross-batch view funnel and cart conversion, on small hand-made
batches and random streams, against a plain Python loop over every (view, cart, purchase)."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline import funnel
from ecomdesk.pipeline.funnel import CODE, COUNTS, FunnelState, KeyCodes, advance, stages

MIN = 60 * 1_000_000  # µs
WINDOW = FUNNEL_WINDOW_SECONDS * 1_000_000
T0 = 1_709_287_200_000_000  # 2024-03-01T10:00:00Z in µs
KINDS = {"view": ("page_view", "page_views"), "cart": ("add_to_cart", "cart_events"), "buy": ("purchase", "orders")}


def batch(rows) -> pd.DataFrame:
    """rows: (kind, user_id, product_id, event_us), as `collect_partials` hands them over."""
    return pd.DataFrame({
        "user_id": [str(r[1]) for r in rows],
        "product_id": [str(r[2]) for r in rows],
        "event_type": [KINDS[r[0]][0] for r in rows],
        "event_us": pd.Series([r[3] for r in rows], dtype="int64"),
        "topic": [KINDS[r[0]][1] for r in rows],
        "partition": pd.Series([0] * len(rows), dtype="int64"),
        "offset": pd.Series(range(len(rows)), dtype="int64"),
    })


def loop_funnel(rows) -> dict[int, tuple[int, ...]]:
    """Minute -> COUNTS, each view paired with each cart and purchase in plain Python: a view is
    carted when some cart of its user and product lies in [view, view + W], bought when some
    purchase lies in [that cart, view + W]; a cart converts when a purchase lies in [cart, cart + W]."""
    of = {k: [(u, p, t) for kind, u, p, t in rows if kind == k] for k in KINDS}
    count: Counter = Counter()
    for u, p, t in of["view"]:
        in_window = [tc for uc, pc, tc in of["cart"] if (uc, pc) == (u, p) and t <= tc <= t + WINDOW]
        bought = any((ub, pb) == (u, p) and tc <= tb <= t + WINDOW for tc in in_window for ub, pb, tb in of["buy"])
        count[t // MIN * MIN, "viewed"] += 1
        count[t // MIN * MIN, "carted"] += bool(in_window)
        count[t // MIN * MIN, "bought"] += bought
    for u, p, t in of["cart"]:
        count[t // MIN * MIN, "carts"] += 1
        count[t // MIN * MIN, "converted"] += any((ub, pb) == (u, p) and 0 <= tb - t <= WINDOW
                                                  for ub, pb, tb in of["buy"])
    for _, _, t in of["buy"]:
        count[t // MIN * MIN, "purchases"] += 1
    minutes = sorted({m for m, _ in count})
    return {m: tuple(count[m, c] for c in COUNTS) for m in minutes if any(count[m, c] for c in COUNTS)}


def summed(deltas: list[pd.DataFrame]) -> dict[int, tuple[int, ...]]:
    """The per-minute deltas of several batches added up, as the snapshot merge does."""
    both = pd.concat(deltas).groupby("minute_us")[COUNTS].sum()
    both = both[(both != 0).any(axis=1)]
    return {int(m): tuple(int(v) for v in row) for m, row in both.iterrows()}


def run(batches, watermarks) -> tuple[FunnelState, list[pd.DataFrame]]:
    state, deltas = FunnelState.empty(), []
    for rows, wm in zip(batches, watermarks, strict=True):
        state, delta = advance(state, batch(rows), wm)
        deltas.append(delta)
    return state, deltas


def totals(counts: dict[int, tuple[int, ...]]) -> dict[str, int]:
    return {c: sum(v[i] for v in counts.values()) for i, c in enumerate(COUNTS)}


def test_view_funnel_edges_in_one_batch():
    """A view counts once per step; the cart must lie in [view, view + W] and the purchase in
    [that cart, view + W] (both ends included), of the same user and product."""
    rows = [
        ("view", 1, 10, T0), ("cart", 1, 10, T0 + 5 * MIN), ("buy", 1, 10, T0 + WINDOW),  # bought at the edge
        ("view", 2, 10, T0), ("cart", 2, 10, T0 + WINDOW), ("buy", 2, 10, T0 + WINDOW),  # all at the edge
        ("view", 3, 10, T0), ("cart", 3, 10, T0 + WINDOW + 1),  # cart 1 µs too late: only viewed
        ("view", 4, 10, T0), ("cart", 4, 10, T0 - 1), ("buy", 4, 10, T0 + 1),  # cart before the view
        ("view", 5, 10, T0), ("buy", 5, 10, T0 + MIN // 2), ("cart", 5, 10, T0 + MIN),  # bought before carting
        ("view", 6, 10, T0), ("cart", 6, 10, T0 + MIN), ("buy", 6, 10, T0 + WINDOW + 1),  # bought too late
        ("view", 7, 10, T0), ("cart", 7, 11, T0 + MIN), ("buy", 7, 11, T0 + 2 * MIN),  # another product
        ("view", 8, 10, T0), ("view", 8, 10, T0 + 2 * MIN), ("cart", 8, 10, T0 + 3 * MIN),
        ("buy", 8, 10, T0 + 4 * MIN),  # two views, one journey each
    ]
    state, delta = advance(FunnelState.empty(), batch(rows), None)
    want = loop_funnel(rows)
    assert summed([delta]) == want
    assert {c: totals(want)[c] for c in ("viewed", "carted", "bought")} == {"viewed": 9, "carted": 6, "bought": 4}
    assert want[T0][:3] == (8, 5, 3)  # users 1, 2, 5, 6, 8 carted; 1, 2, 8 bought
    # bought views leave the state; the others stay open with their stage
    assert sorted(zip(state.saved()["views"]["user_id"], state.views["stage"], strict=True)) == [
        ("3", 0), ("4", 0), ("5", 1), ("6", 1), ("7", 0)]


def test_cart_conversion_edges_in_one_batch():
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
    assert totals(want)["converted"] == 2  # users 1 and 4
    assert sorted(zip(state.saved()["carts"]["user_id"], state.carts["converted"], strict=True)) == [
        ("1", True), ("2", False), ("3", False), ("4", True), ("5", False)]
    assert len(state.purchases) == 6


def test_a_journey_completes_across_batches_in_any_order_and_counts_once():
    first = [("buy", 1, 10, T0 + 4 * MIN), ("cart", 2, 10, T0 + MIN)]
    second = [("cart", 1, 10, T0 + 2 * MIN),  # converts with the purchase of the first batch
              ("view", 2, 10, T0), ("buy", 2, 10, T0 + 3 * MIN)]  # a view arriving after its cart
    third = [("view", 1, 10, T0 + MIN),  # completes user 1's journey, all of whose steps came earlier
             ("buy", 1, 10, T0 + 5 * MIN), ("buy", 2, 10, T0 + 6 * MIN)]  # more purchases: nothing new
    state, deltas = run([first, second, third], [None, None, None])
    assert summed(deltas) == loop_funnel(first + second + third)
    assert [[int(d[c].sum()) for c in ("viewed", "carted", "bought", "converted")] for d in deltas] == [
        [0, 0, 0, 0], [1, 1, 1, 2], [1, 1, 1, 0]]
    assert state.views.empty and state.carts["converted"].all()


def test_an_open_view_advances_step_by_step():
    state, a = advance(FunnelState.empty(), batch([("view", 1, 10, T0)]), None)
    state, b = advance(state, batch([("cart", 1, 10, T0 + MIN)]), None)
    state, c = advance(state, batch([("buy", 1, 10, T0 + 2 * MIN)]), None)
    assert [tuple(int(d[k].sum()) for k in ("viewed", "carted", "bought")) for d in (a, b, c)] == [
        (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    assert all(set(d["minute_us"]) <= {T0, T0 + MIN, T0 + 2 * MIN} for d in (a, b, c))
    assert b.set_index("minute_us").loc[T0, "carted"] == 1  # counted at the view's minute
    assert state.views.empty


def test_the_watermark_drops_state_that_can_no_longer_be_reached():
    """After a batch, views, carts and purchases older than its watermark - 20 min leave the state:
    no on-time event can reach them any more. A purchase too late for the watermark then finds no cart."""
    old = [("view", 1, 10, T0), ("cart", 1, 10, T0), ("buy", 2, 10, T0)]
    recent = [("view", 3, 10, T0 + 30 * MIN), ("cart", 3, 10, T0 + 30 * MIN), ("buy", 4, 10, T0 + 30 * MIN)]
    state, _ = advance(FunnelState.empty(), batch(old + recent), None)
    assert state.rows == 6 and state.views["stage"].tolist() == [1, 1]
    state, _ = advance(state, batch([]), T0 + 30 * MIN)  # horizon: T0 + 10 min
    assert [df["user_id"].tolist() for df in state.saved().values()] == [["3"], ["3"], ["4"]]
    late = [("buy", 1, 10, T0 + 15 * MIN)]  # would have bought the cart (and the view) at T0
    state, delta = advance(state, batch(late), T0 + 30 * MIN)
    assert loop_funnel(old + late)[T0][COUNTS.index("converted")] == 1
    assert int(delta["converted"].sum()) == 0 and int(delta["bought"].sum()) == 0
    assert sorted(state.saved()["purchases"]["user_id"]) == ["1", "4"]  # the late purchase is within the horizon
    state, _ = advance(state, batch([]), T0 + 60 * MIN)  # horizon T0 + 40 min: nothing is left
    assert state.rows == 0


def test_the_state_keeps_what_a_late_event_within_the_horizon_can_reach():
    horizon = T0 + 10 * MIN
    early = [("buy", 1, 10, horizon + MIN // 2), ("buy", 2, 10, horizon - 1),
             ("cart", 1, 10, horizon + MIN // 4), ("cart", 2, 10, horizon - 1)]
    state, _ = advance(FunnelState.empty(), batch(early), horizon + 20 * MIN)
    saved = state.saved()
    assert saved["purchases"]["user_id"].tolist() == ["1"] and saved["carts"]["user_id"].tolist() == ["1"]
    late = [("cart", 1, 10, horizon), ("cart", 2, 10, horizon - MIN), ("view", 1, 10, horizon)]
    _, delta = advance(state, batch(late), horizon + 20 * MIN)
    assert delta.set_index("minute_us")[["converted", "bought"]].to_dict("list") == {
        "converted": [0, 1], "bought": [0, 1]}


def _random_rows(rng: random.Random, n: int, start: int, span: int) -> list:
    """Few users and products, views twice as often as carts and carts as purchases."""
    kinds = ["view"] * 4 + ["cart"] * 2 + ["buy"]
    return [(rng.choice(kinds), rng.randint(1, 3), rng.randint(10, 13), start + rng.randrange(span))
            for _ in range(n)]


def test_state_stays_bounded_on_a_long_stream():
    """Two hours of one batch a minute: the state holds about the last 20 minutes + the delay, and
    keeps the rows it dropped for a while at most (until their run is merged: sorted_runs)."""
    rng = random.Random(3)
    delay, state, peak, held = 2 * MIN, FunnelState.empty(), 0, 0
    for minute in range(120):
        start = T0 + minute * MIN
        state, _ = advance(state, batch(_random_rows(rng, 20, start, MIN)), None if minute == 0 else start - delay)
        peak = max(peak, sum(len(df) for df in (state.views, state.carts, state.purchases)))
        held = max(held, state.rows)
        if minute > 30:
            for df in (state.views, state.carts, state.purchases):
                assert df["event_us"].min() >= start - delay - WINDOW
    assert peak <= 23 * 20  # 20 events a minute: at most 23 minutes' worth of events
    assert held <= 2 * 23 * 20


def _stream(seed: int, n: int, delay_us: int):
    """n events over 90 minutes, few users and products; they arrive late by up to `delay_us`, so
    every event is on time for the watermark (max event time seen - delay)."""
    rng = random.Random(seed)
    rows = _random_rows(rng, n, T0, 90 * MIN)
    return sorted(rows, key=lambda r: r[3] + rng.randrange(delay_us))


@pytest.mark.parametrize(("seed", "n_batches"), [(1, 1), (2, 3), (3, 7), (4, 25), (5, 60)])
def test_any_split_into_batches_counts_as_one_pass_over_all_events(seed, n_batches):
    delay = 5 * MIN
    rows = _stream(seed, 500, delay)
    size = -(-len(rows) // n_batches)
    batches = [rows[i:i + size] for i in range(0, len(rows), size)]
    watermarks, seen = [], None
    for b in batches:
        watermarks.append(None if seen is None else seen - delay)
        seen = max(r[3] for r in b) if seen is None else max(seen, *(r[3] for r in b))
    assert all(r[3] >= wm for b, wm in zip(batches, watermarks, strict=True) if wm is not None for r in b)
    _, deltas = run(batches, watermarks)
    want = loop_funnel(rows)
    t = totals(want)
    assert t["viewed"] > t["carted"] > t["bought"] > 20 and t["converted"] > 20  # enough of each to test
    assert summed(deltas) == want
    per_minute = pd.DataFrame(want.values(), columns=COUNTS)
    assert (per_minute["bought"] <= per_minute["carted"]).all()
    assert (per_minute["carted"] <= per_minute["viewed"]).all()


def test_stages_of_views_against_a_loop():
    rng = random.Random(11)
    rows = _random_rows(rng, 400, T0, 60 * MIN)
    events = batch(rows)
    events[CODE] = KeyCodes().of(events)  # what `advance` matches on
    views = events[events["event_type"] == "page_view"].reset_index(drop=True)
    of = {k: events[events["event_type"] == KINDS[k][0]] for k in ("cart", "buy")}
    got = stages(views, of["cart"], of["buy"]).tolist()
    want = []
    for u, p, t in zip(views["user_id"], views["product_id"], views["event_us"], strict=True):
        carts = [c for c in of["cart"].itertuples()
                 if (c.user_id, c.product_id) == (u, p) and t <= c.event_us <= t + WINDOW]
        bought = any((b.user_id, b.product_id) == (u, p) and c.event_us <= b.event_us <= t + WINDOW
                     for c in carts for b in of["buy"].itertuples())
        want.append(2 if bought else 1 if carts else 0)
    assert got == want and {0, 1, 2} <= set(got)


def test_a_replayed_batch_gives_the_same_state_and_deltas():
    """The job replays batch N from snapshot N-1: same input, same output, input state untouched;
    the order of the events inside the batch does not matter."""
    rows = _stream(9, 300, 5 * MIN)
    state, _ = advance(FunnelState.empty(), batch(rows[:150]), None)
    frames = ("views", "carts", "purchases")
    before = [getattr(state, f).copy() for f in frames]
    nxt = batch(rows[150:])
    watermark = max(r[3] for r in rows[:150]) - 5 * MIN
    a_state, a_delta = advance(state, nxt, watermark)
    b_state, b_delta = advance(state, nxt, watermark)
    pd.testing.assert_frame_equal(a_delta, b_delta)
    for f, old in zip(frames, before, strict=True):
        pd.testing.assert_frame_equal(getattr(a_state, f), getattr(b_state, f))
        pd.testing.assert_frame_equal(getattr(state, f), old)
    c_state, c_delta = advance(state, nxt.sample(frac=1, random_state=0), watermark)

    def rows_of(df):
        return sorted(map(tuple, df.to_numpy().tolist()))

    assert rows_of(c_delta) == rows_of(a_delta)
    for f in frames:
        assert rows_of(getattr(c_state, f)) == rows_of(getattr(a_state, f))


def _late_stream(seed: int, n: int, delay_us: int):
    """Like `_stream`, but a tenth of the events come up to 40 minutes late: behind the watermark,
    some behind the horizon, where the stream ignores what they could reach."""
    rng = random.Random(seed)
    rows = _random_rows(rng, n, T0, 90 * MIN)
    return sorted(rows, key=lambda r: r[3] + rng.randrange(delay_us) + (rng.random() < 0.1) * rng.randrange(40 * MIN))


@pytest.mark.parametrize(("seed", "n_batches"), [(21, 5), (22, 30)])
def test_the_state_derived_from_the_events_equals_the_state_the_batches_built(seed, n_batches):
    """What a restart does (commit.load): the state from every event so far, or only those at or
    after the horizon, in one pass, is the state the stream built batch by batch, late events and all."""
    delay = 5 * MIN
    rows = _late_stream(seed, 600, delay)
    offsets = pd.Series(range(len(rows)), dtype="int64")  # each event's own, as in Kafka

    def events(index: list[int]) -> pd.DataFrame:
        return batch([rows[i] for i in index]).assign(offset=offsets[index].to_numpy())

    size = -(-len(rows) // n_batches)
    state, seen, dropped = FunnelState.empty(), None, 0
    for i in range(0, len(rows), size):
        b = rows[i:i + size]
        state, _ = advance(state, events(list(range(i, i + len(b)))), None if seen is None else seen - delay)
        seen = max(r[3] for r in b) if seen is None else max(seen, *(r[3] for r in b))
        so_far = list(range(i + len(b)))
        kept = [j for j in so_far if state.horizon_us is None or rows[j][3] >= state.horizon_us]
        dropped = max(dropped, len(so_far) - len(kept))
        for index in (so_far, kept) if (i // size) % 5 in (0, 4) else ():
            derived = FunnelState.derived(events(index), state.horizon_us)
            assert derived.horizon_us == state.horizon_us
            for kind, df in state.saved().items():
                pd.testing.assert_frame_equal(_by_value(derived.saved()[kind]), _by_value(df))
    assert dropped > 100 and state.rows > 50  # the horizon moved well past the first events


def _by_value(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def test_codes_of_pairs_that_left_the_state_are_forgotten(monkeypatch):
    """New users every minute, for an hour: the codes are compacted as pairs leave the state, and
    the state and counts are those of a run that keeps every code."""
    def stream(recode_slack: int):
        monkeypatch.setattr(funnel, "RECODE_SLACK", recode_slack)
        rng, state, deltas, most = random.Random(5), FunnelState.empty(), [], 0
        for minute in range(60):
            start = T0 + minute * MIN
            rows = [(k, f"{minute}-{u}", p, t) for k, u, p, t in _random_rows(rng, 30, start, MIN)]
            state, delta = advance(state, batch(rows), None if minute == 0 else start - 2 * MIN)
            deltas.append(delta)
            most = max(most, state.codes.size)
        return state, summed(deltas), most

    kept, kept_counts, kept_most = stream(10**9)
    compacted, counts, most = stream(0)
    assert counts == kept_counts and totals(counts)["bought"] > 0
    for kind, df in kept.saved().items():
        pd.testing.assert_frame_equal(_by_value(compacted.saved()[kind]), _by_value(df))
    assert kept.codes.size > 600  # every pair ever seen (3 users and 4 products a minute)
    assert compacted.codes.size <= 2 * compacted.rows
    assert most <= 2 * 23 * 30 + 30  # at most twice the state, plus a batch
