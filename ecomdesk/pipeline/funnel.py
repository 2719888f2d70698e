"""The conversion funnel across micro-batches, on event time, with state bounded by the watermark.

Two figures (definitions in docs/DATA_CONTRACT.md), both per (user, product) and within W = 20 min:
- the view funnel: a page view is *carted* when an add_to_cart follows it within W, and *bought*
  when a purchase follows such a cart, still within W of the view; counted once per view at the
  view's minute, so bought <= carted <= viewed by construction;
- the cart conversion: a cart *converts* when a purchase follows it within W; at the cart's minute.

More events can only advance a view or a cart, never set it back, so the answer does not depend
on the order events arrive in: a batch decides its own views and carts against the state plus its
events, and decides again the open views and carts that its carts and purchases can advance. Each
counts when it advances, hence once. State older than `watermark - W` can no longer be reached by
an on-time event and is dropped, so it holds about W + the watermark delay of events.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS

WINDOW_US = FUNNEL_WINDOW_SECONDS * 1_000_000
MINUTE_US = 60 * 1_000_000
KEY = ["user_id", "product_id"]
VIEW_COLUMNS = [*KEY, "event_us", "stage"]  # stage: 0 viewed, 1 carted (bought views leave the state)
CART_COLUMNS = [*KEY, "event_us", "topic", "partition", "offset", "converted"]
PURCHASE_COLUMNS = [*KEY, "event_us"]
EVENT_COLUMNS = [*KEY, "event_type", "event_us", "topic", "partition", "offset"]  # what `advance` takes
COUNTS = ["viewed", "carted", "bought", "carts", "purchases", "converted"]
_INT = ("event_us", "partition", "offset")


def _empty(columns: list[str]) -> pd.DataFrame:
    kinds = {"stage": "int8", "converted": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "int64" if c in _INT else object)) for c in columns})


@dataclass
class FunnelState:
    views: pd.DataFrame  # views not bought yet that a cart or purchase may still advance
    carts: pd.DataFrame  # every cart a late view or purchase may still reach; `converted` once bought
    purchases: pd.DataFrame  # distinct (user, product, time) a late view or cart may still reach

    @classmethod
    def empty(cls) -> FunnelState:
        return cls(_empty(VIEW_COLUMNS), _empty(CART_COLUMNS), _empty(PURCHASE_COLUMNS))

    @property
    def rows(self) -> int:
        return len(self.views) + len(self.carts) + len(self.purchases)


def _pairs(left: pd.DataFrame, right: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """Every row of `left` (its index as `_row`) with every event of `right` of the same key."""
    rows = left[[*KEY, "event_us"]].reset_index(names="_row")
    return rows.merge(right[PURCHASE_COLUMNS], on=KEY, suffixes=("", suffix))


def _converted(carts: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    """Boolean per cart row: some purchase of the same user and product 0..W after it."""
    if carts.empty or purchases.empty:
        return pd.Series(False, index=carts.index)
    m = _pairs(carts, purchases, "_p")
    lag = m["event_us_p"] - m["event_us"]
    return pd.Series(carts.index.isin(m.loc[(lag >= 0) & (lag <= WINDOW_US), "_row"]), index=carts.index)


def stages(views: pd.DataFrame, carts: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    """Stage per view row: 2 when bought, 1 when carted, else 0.

    The earliest cart at or after the view decides both: any later cart leaves less time to buy.
    """
    stage = pd.Series(0, index=views.index, dtype="int8")
    if views.empty or carts.empty:
        return stage
    m = _pairs(views, carts, "_c")
    lag = m["event_us_c"] - m["event_us"]
    m = m[(lag >= 0) & (lag <= WINDOW_US)]
    first = m.groupby("_row", sort=False).agg(cart_us=("event_us_c", "min"), event_us=("event_us", "first"))
    stage.loc[first.index] = 1
    if first.empty or purchases.empty:
        return stage
    first = first.join(views[KEY], how="left")
    b = _pairs(first, purchases, "_p")
    b = b.merge(first["cart_us"], left_on="_row", right_index=True)
    hit = (b["event_us_p"] >= b["cart_us"]) & (b["event_us_p"] - b["event_us"] <= WINDOW_US)
    stage.loc[b.loc[hit, "_row"].unique()] = 2
    return stage


def _touched(rows: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Boolean per row: its (user, product) occurs among `events`."""
    keys = pd.MultiIndex.from_frame(events[KEY])
    return pd.Series(pd.MultiIndex.from_frame(rows[KEY]).isin(keys), index=rows.index)


def _per_minute(us: pd.Series, name: str) -> pd.DataFrame:
    minute = (us // MINUTE_US) * MINUTE_US
    return minute.value_counts().rename(name).rename_axis("minute_us").reset_index()


def advance(state: FunnelState, events: pd.DataFrame, watermark_us: int | None):
    """Fold one batch of funnel events (EVENT_COLUMNS) into the state.
    Returns (new state, per-minute deltas: minute_us and COUNTS)."""
    of = events["event_type"]
    new_views = events.loc[of == "page_view", [*KEY, "event_us"]].reset_index(drop=True)
    new_views["stage"] = pd.Series(0, index=new_views.index, dtype="int8")
    new_carts = events.loc[of == "add_to_cart", CART_COLUMNS[:-1]].reset_index(drop=True)
    new_buys = events.loc[of == "purchase", PURCHASE_COLUMNS].reset_index(drop=True)
    buys = pd.concat([state.purchases, new_buys], ignore_index=True).drop_duplicates(ignore_index=True)

    new_carts["converted"] = _converted(new_carts, buys)
    old_carts = state.carts.copy()
    still_open = old_carts.loc[~old_carts["converted"]]
    old_hit = _converted(still_open, new_buys)
    old_carts.loc[old_hit.index[old_hit], "converted"] = True
    carts = pd.concat([old_carts, new_carts], ignore_index=True)

    # open views a new cart or purchase may advance, then this batch's views: all against everything
    touched = _touched(state.views, pd.concat([new_carts[KEY], new_buys[KEY]]))
    before = pd.concat([state.views.loc[touched, "stage"], new_views["stage"]], ignore_index=True)
    views = pd.concat([state.views.loc[touched], new_views], ignore_index=True)
    views["stage"] = stages(views, carts, buys).to_numpy()
    after = views["stage"]

    counts = {
        "viewed": new_views["event_us"],
        "carted": views.loc[(before < 1) & (after >= 1), "event_us"],
        "bought": views.loc[(before < 2) & (after >= 2), "event_us"],
        "carts": new_carts["event_us"],
        "purchases": new_buys["event_us"],
        "converted": pd.concat([new_carts.loc[new_carts["converted"], "event_us"],
                                still_open.loc[old_hit, "event_us"]]),
    }
    delta = pd.DataFrame({"minute_us": pd.Series(dtype="int64")})
    for name, us in counts.items():
        delta = delta.merge(_per_minute(us, name), on="minute_us", how="outer")
    delta = delta.fillna(0).astype("int64")

    views = pd.concat([state.views.loc[~touched], views[after < 2]], ignore_index=True)
    if watermark_us is not None:
        horizon = watermark_us - WINDOW_US
        views = views[views["event_us"] >= horizon]
        carts = carts[carts["event_us"] >= horizon]
        buys = buys[buys["event_us"] >= horizon]
    return FunnelState(*(df.reset_index(drop=True) for df in (views, carts, buys))), delta
