"""Cart -> purchase matching across micro-batches, on event time, with state bounded by the watermark.

A cart converts when the same user buys the same product 0..20 minutes after it. Matching is
order-independent, so a batch only has to match its carts against the purchases kept in the state
plus its own, and the carts kept open against its purchases. Open carts and purchases older than
`watermark - 20 min` can no longer match an on-time event and are dropped from the state, and of
the purchases only those that can decide a match are kept (`thin`), so the state does not grow with
the event rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS

WINDOW_US = FUNNEL_WINDOW_SECONDS * 1_000_000
MINUTE_US = 60 * 1_000_000
CART_COLUMNS = ["user_id", "product_id", "event_us", "topic", "partition", "offset"]
PURCHASE_COLUMNS = ["user_id", "product_id", "event_us"]


def empty_carts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("event_us", "partition", "offset") else object)
                         for c in CART_COLUMNS})


def empty_purchases() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "event_us" else object)
                         for c in PURCHASE_COLUMNS})


@dataclass
class FunnelState:
    carts: pd.DataFrame  # open carts: not converted yet and still able to convert
    purchases: pd.DataFrame  # recent purchases that a late-arriving cart may still match

    @classmethod
    def empty(cls) -> FunnelState:
        return cls(empty_carts(), empty_purchases())

    @property
    def rows(self) -> int:
        return len(self.carts) + len(self.purchases)


def _matched(carts: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    """Boolean per cart row: some purchase of the same user and product 0..20 min after it."""
    if carts.empty or purchases.empty:
        return pd.Series(False, index=carts.index)
    c = carts[["user_id", "product_id", "event_us"]].reset_index(names="_cart")
    m = c.merge(purchases[PURCHASE_COLUMNS], on=["user_id", "product_id"], suffixes=("", "_p"))
    lag = m["event_us_p"] - m["event_us"]
    hit = set(m.loc[(lag >= 0) & (lag <= WINDOW_US), "_cart"])
    return pd.Series(carts.index.isin(list(hit)), index=carts.index)


def thin(purchases: pd.DataFrame) -> pd.DataFrame:
    """The first and last purchase per user, product and half funnel window (10 min).

    A cart matches one of them whenever it matches any purchase of that slot: if the cart is not
    after the first, the first lies between cart and matched purchase; otherwise the last lies at
    or after the matched purchase and less than half a window after the first, hence after the cart
    and within the window. So matching against the thinned purchases gives the same answer.
    """
    if purchases.empty:
        return purchases
    slot = purchases["event_us"] // (WINDOW_US // 2)
    us = purchases.groupby([purchases["user_id"], purchases["product_id"], slot], sort=False)["event_us"]
    keep = (purchases["event_us"] == us.transform("min")) | (purchases["event_us"] == us.transform("max"))
    return purchases[keep].drop_duplicates(PURCHASE_COLUMNS)


def _per_minute(us: pd.Series, name: str) -> pd.DataFrame:
    minute = (us // MINUTE_US) * MINUTE_US
    return minute.value_counts().rename(name).rename_axis("minute_us").reset_index()


def advance(state: FunnelState, events: pd.DataFrame, watermark_us: int | None):
    """Fold one batch of funnel events (user_id, product_id, event_type, event_us, topic, partition,
    offset) into the state. Returns (new state, per-minute deltas: minute_us, carts, purchases, converted).
    """
    new_carts = events.loc[events["event_type"] == "add_to_cart", CART_COLUMNS].reset_index(drop=True)
    new_buys = events.loc[events["event_type"] == "purchase", PURCHASE_COLUMNS].reset_index(drop=True)
    all_buys = pd.concat([state.purchases, new_buys], ignore_index=True)

    new_hit = _matched(new_carts, all_buys)
    old_hit = _matched(state.carts, new_buys)
    converted_us = pd.concat([new_carts.loc[new_hit, "event_us"], state.carts.loc[old_hit, "event_us"]])

    parts = [_per_minute(new_carts["event_us"], "carts"), _per_minute(new_buys["event_us"], "purchases"),
             _per_minute(converted_us, "converted")]
    delta = parts[0]
    for p in parts[1:]:
        delta = delta.merge(p, on="minute_us", how="outer")
    delta = delta.fillna(0).astype("int64")

    carts = pd.concat([state.carts.loc[~old_hit], new_carts.loc[~new_hit]], ignore_index=True)
    if watermark_us is not None:
        horizon = watermark_us - WINDOW_US
        carts = carts[carts["event_us"] >= horizon]
        all_buys = all_buys[all_buys["event_us"] >= horizon]
    return FunnelState(carts.reset_index(drop=True), thin(all_buys).reset_index(drop=True)), delta
