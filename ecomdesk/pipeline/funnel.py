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

import numpy as np
import pandas as pd

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline.sorted_runs import SortedRuns

WINDOW_US = FUNNEL_WINDOW_SECONDS * 1_000_000
MINUTE_US = 60 * 1_000_000
KEY = ["user_id", "product_id"]
CODE = "key"  # an int64 per (user, product), for matching: hashing and comparing strings was most of a batch
VIEW_COLUMNS = [*KEY, "event_us", "stage"]  # stage: 0 viewed, 1 carted (bought views leave the state)
CART_COLUMNS = [*KEY, "event_us", "topic", "partition", "offset", "converted"]
PURCHASE_COLUMNS = [*KEY, "event_us"]
EVENT_COLUMNS = [*KEY, "event_type", "event_us", "topic", "partition", "offset"]  # what `advance` takes
COUNTS = ["viewed", "carted", "bought", "carts", "purchases", "converted"]
_INT = ("event_us", "partition", "offset")
# the codes are compacted when they outnumber the state's rows this many times (plus the slack): the
# cost, a pass over the state, comes once per that many new pairs, so it stays a constant per event
RECODE_FACTOR, RECODE_SLACK = 2, 100_000


def empty_frame(columns: list[str]) -> pd.DataFrame:
    """No rows, each column typed as the funnel types it."""
    kinds = {"stage": "int8", "converted": "bool", CODE: "int64"}
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "int64" if c in _INT else object)) for c in columns})


class KeyCodes:
    """Exact int64 codes of (user, product) pairs: a code is never reused or changed, so the state's
    frames of every version can share one instance."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], int] = {}
        self.users: list[str] = []
        self.products: list[str] = []

    def of(self, frame: pd.DataFrame) -> pd.Series:
        """The codes of the frame's (user_id, product_id) rows, new pairs coded as they come."""
        codes, values = self.codes, []
        for pair in zip(frame["user_id"], frame["product_id"], strict=True):
            code = codes.get(pair)
            if code is None:
                code = codes[pair] = len(codes)
                self.users.append(pair[0])
                self.products.append(pair[1])
            values.append(code)
        return pd.Series(values, index=frame.index, dtype="int64")

    @classmethod
    def of_pairs(cls, users: list[str], products: list[str]) -> KeyCodes:
        """Codes 0..n-1 for n distinct pairs."""
        out = cls()
        out.users, out.products = users, products
        out.codes = dict(zip(zip(users, products, strict=True), range(len(users)), strict=True))
        return out

    @property
    def size(self) -> int:
        return len(self.codes)

    def pairs(self, codes: pd.Series) -> dict[str, list[str]]:
        return {"user_id": [self.users[c] for c in codes], "product_id": [self.products[c] for c in codes]}


# in memory a (user, product) is its code: copying and hashing ints is what keeps a batch cheap
_MEMORY = {"views": [CODE, "event_us", "stage"],
           "carts": [CODE, *CART_COLUMNS[2:]],
           "purchases": [CODE, "event_us"]}
SAVED = {"views": VIEW_COLUMNS, "carts": CART_COLUMNS, "purchases": PURCHASE_COLUMNS}


def _alive(horizon: float, views: bool = False):
    """The rows still in the state: at or after the horizon (and, for views, not bought)."""
    def keep(cols: dict[str, np.ndarray]) -> np.ndarray:
        mask = cols["event_us"] >= horizon
        return mask & (cols["stage"] < 2) if views else mask
    return keep


def _runs(kind: str) -> SortedRuns:
    return SortedRuns(CODE, "event_us", tuple(_MEMORY[kind]))


@dataclass(frozen=True)
class FunnelState:
    """The open views, carts and purchases, each sorted by key code (`sorted_runs`: a batch touches
    the rows of its own keys, never the whole state); `saved()` gives them with user and product ids.

    The state is a function of the valid events at or after its horizon (the batches' order does not
    matter: module doc), so it is never saved: a restart derives it again from the raw events
    (`derived`). `horizon_us` is the horizon its last batch applied (None: nothing dropped yet)."""

    held: dict[str, SortedRuns]  # views not bought yet; carts, `converted` once bought; purchases
    codes: KeyCodes
    horizon_us: int | None = None

    @classmethod
    def empty(cls) -> FunnelState:
        return cls({kind: _runs(kind) for kind in _MEMORY}, KeyCodes())

    @classmethod
    def derived(cls, events: pd.DataFrame, horizon_us: int | None) -> FunnelState:
        """The state of a stream whose last batch applied `horizon_us`, from its valid events
        (EVENT_COLUMNS; those before the horizon may be left out). Equal to the state the batches
        built one by one: a row the stream dropped is before the horizon, and a view, cart or
        purchase can only be advanced by a later event, so none that the horizon keeps was ever
        advanced by one it drops."""
        state, _ = advance(cls.empty(), events, None if horizon_us is None else horizon_us + WINDOW_US)
        return state

    @property
    def _horizon(self) -> float:
        return float("-inf") if self.horizon_us is None else self.horizon_us

    def _frame(self, kind: str) -> pd.DataFrame:
        if not len(self.held[kind]):
            return empty_frame(_MEMORY[kind])
        return self.held[kind].frame(_alive(self._horizon, kind == "views"))

    @property
    def views(self) -> pd.DataFrame:
        return self._frame("views")

    @property
    def carts(self) -> pd.DataFrame:
        return self._frame("carts")

    @property
    def purchases(self) -> pd.DataFrame:
        return self._frame("purchases")

    def saved(self) -> dict[str, pd.DataFrame]:
        """The rows with user and product ids (SAVED columns): the state as it can be compared."""
        out = {}
        for kind in _MEMORY:
            df = self._frame(kind)
            out[kind] = pd.DataFrame({**self.codes.pairs(df[CODE]), **{c: df[c] for c in _MEMORY[kind][1:]}},
                                     columns=SAVED[kind]).astype({c: "int64" for c in _INT if c in SAVED[kind]})
        return out

    @property
    def rows(self) -> int:
        """Rows held, those dropped but not yet merged away included."""
        return sum(len(r) for r in self.held.values())

    @property
    def nbytes(self) -> int:
        """The rows' memory (the key codes' strings not counted: `codes.size` says how many)."""
        return sum(r.nbytes for r in self.held.values())

    def recoded(self) -> FunnelState:
        """The same state with codes for the pairs it holds only. KeyCodes never forgets a pair, so
        the pairs that left the state would otherwise pile up for as long as the job runs."""
        live = np.unique(np.concatenate([r.keys() for r in self.held.values()]))
        codes = KeyCodes.of_pairs(np.asarray(self.codes.users, dtype=object)[live].tolist(),
                                  np.asarray(self.codes.products, dtype=object)[live].tolist())
        held = {k: r.rekeyed(lambda c: np.searchsorted(live, c)) for k, r in self.held.items()}
        return FunnelState(held, codes, self.horizon_us)


def _first_after(left: pd.DataFrame, on: str, right: pd.DataFrame) -> pd.Series:
    """Per row of `left` (CODE, time column `on`, may be NaN): the time of the first
    event of `right` of the same user and product at or after it and at most W after the row's
    latest `on`, NaN when none. An as-of join, n log n where pairing every row with every event of
    its key would be quadratic per key."""
    out = pd.Series(float("nan"), index=left.index)
    lhs = left.loc[left[on].notna(), [CODE, on]]
    if lhs.empty or right.empty:
        return out
    # only events that can answer some row (callers look at most W after): a cheap cut of the state
    us = right["event_us"]
    near = (us >= lhs[on].min()) & (us <= lhs[on].max() + WINDOW_US)
    rhs = right.loc[near & right[CODE].isin(lhs[CODE].unique()), [CODE, "event_us"]]
    if rhs.empty:
        return out
    lhs = lhs.astype({on: "int64"}).rename(columns={on: "_t"}).reset_index(names="_row").sort_values("_t")
    rhs = rhs.rename(columns={"event_us": "_t"}).sort_values("_t")
    hit = pd.merge_asof(lhs, rhs.assign(_next=rhs["_t"]), on="_t", by=CODE, direction="forward")
    out.loc[hit["_row"].to_numpy()] = hit["_next"].to_numpy()
    return out


def _converted(carts: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    """Boolean per cart row: some purchase of the same user and product 0..W after it."""
    return (_first_after(carts, "event_us", purchases) - carts["event_us"]) <= WINDOW_US


def stages(views: pd.DataFrame, carts: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    """Stage per view row: 2 when bought, 1 when carted, else 0.

    The earliest cart at or after the view decides both: any later cart leaves less time to buy.
    """
    cart_us = _first_after(views, "event_us", carts)
    carted = (cart_us - views["event_us"]) <= WINDOW_US
    buy_us = _first_after(views.assign(cart_us=cart_us.where(carted)), "cart_us", purchases)
    bought = (buy_us - views["event_us"]) <= WINDOW_US
    return (carted.astype("int8") + bought.astype("int8")).astype("int8")


def _touched(rows: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Boolean per row: its (user, product) occurs among `events`."""
    return rows[CODE].isin(events[CODE].unique())


def _per_minute(us: pd.Series, name: str) -> pd.DataFrame:
    minute = (us // MINUTE_US) * MINUTE_US
    return minute.value_counts().rename(name).rename_axis("minute_us").reset_index()


def _take(state: FunnelState, kind: str, keys: np.ndarray, keep) -> pd.DataFrame:
    """The state's rows of `kind` with these keys, with where they are (SortedRuns.take)."""
    if not len(state.held[kind]):
        return empty_frame(_MEMORY[kind]).assign(_run=pd.Series(dtype="int64"), _pos=pd.Series(dtype="int64"))
    return state.held[kind].take(keys, keep)


def advance(state: FunnelState, events: pd.DataFrame, watermark_us: int | None):
    """Fold one batch of funnel events (EVENT_COLUMNS) into the state.
    Returns (new state, per-minute deltas: minute_us and COUNTS).

    Only the state's rows of the batch's (user, product) pairs can change or change anything, so
    those are all it takes from the state (`SortedRuns.take`)."""
    events = events.assign(**{CODE: state.codes.of(events)})
    keys = np.unique(events[CODE].to_numpy())
    was = state._horizon
    old_views, old_carts, old_buys = (_take(state, kind, keys, _alive(was, views=kind == "views"))
                                      for kind in ("views", "carts", "purchases"))
    of = events["event_type"]
    new_views = events.loc[of == "page_view", [CODE, "event_us"]].reset_index(drop=True)
    new_views["stage"] = pd.Series(0, index=new_views.index, dtype="int8")
    new_carts = events.loc[of == "add_to_cart", _MEMORY["carts"][:-1]].reset_index(drop=True)
    new_buys = events.loc[of == "purchase", _MEMORY["purchases"]].reset_index(drop=True)
    buys = pd.concat([old_buys[_MEMORY["purchases"]], new_buys], ignore_index=True)

    new_carts["converted"] = _converted(new_carts, buys)
    still_open = old_carts.loc[~old_carts["converted"] & _touched(old_carts, new_buys)]
    old_hit = _converted(still_open, new_buys)
    converted = still_open.loc[old_hit]
    old_carts.loc[converted.index, "converted"] = True
    carts = pd.concat([old_carts[_MEMORY["carts"]], new_carts], ignore_index=True)

    # open views a new cart or purchase may advance, then this batch's views: all against everything
    touched = old_views.loc[_touched(old_views, pd.concat([new_carts[[CODE]], new_buys[[CODE]]]))]
    before = pd.concat([touched["stage"], new_views["stage"]], ignore_index=True)
    views = pd.concat([touched[_MEMORY["views"]], new_views], ignore_index=True)
    after = pd.Series(stages(views, carts, buys).to_numpy(), dtype="int8")

    counts = {
        "viewed": new_views["event_us"],
        "carted": views.loc[(before < 1) & (after >= 1), "event_us"],
        "bought": views.loc[(before < 2) & (after >= 2), "event_us"],
        "carts": new_carts["event_us"],
        "purchases": new_buys["event_us"],
        "converted": pd.concat([new_carts.loc[new_carts["converted"], "event_us"], converted["event_us"]]),
    }
    delta = pd.DataFrame({"minute_us": pd.Series(dtype="int64")})
    for name, us in counts.items():
        delta = delta.merge(_per_minute(us, name), on="minute_us", how="outer")
    delta = delta.fillna(0).astype("int64")

    horizon = was if watermark_us is None else watermark_us - WINDOW_US
    new_views["stage"] = after.iloc[len(touched):].to_numpy()
    held = {
        "views": state.held["views"].updated("stage", touched, after.iloc[:len(touched)].to_numpy())
        .added(new_views[new_views["stage"] < 2], _alive(horizon, views=True), horizon),
        "carts": state.held["carts"].updated("converted", converted, np.ones(len(converted), dtype=bool))
        .added(new_carts, _alive(horizon), horizon),
        "purchases": state.held["purchases"].added(new_buys, _alive(horizon), horizon),
    }
    out = FunnelState(held, state.codes, state.horizon_us if watermark_us is None else int(horizon))
    if out.codes.size > RECODE_FACTOR * out.rows + RECODE_SLACK:
        out = out.recoded()
    return out, delta
