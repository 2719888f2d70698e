"""Independent pandas computations of every aggregate, the yardstick for the Spark job's numbers
(used by the tests and by `scripts/bench chaos`)."""

from __future__ import annotations

import pandas as pd

FUNNEL = pd.Timedelta(minutes=20)


def _minute(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.floor("min")


def _ns(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).astype("datetime64[ns, UTC]")


def _next(left: pd.DataFrame, on: str, right: pd.DataFrame) -> pd.Series:
    """Per row of `left` (user_id, product_id, column `on`), the time of the first event of `right`
    of the same user and product at or after `on` (NaT when none): an as-of join, linear in the
    events where pairing every row with every event is quadratic per key."""
    keys = ["user_id", "product_id"]
    lhs = left[keys].assign(t=_ns(left[on]), row=range(len(left))).dropna(subset=["t"]).sort_values("t")
    rhs = right[keys].assign(t=_ns(right["event_time"])).sort_values("t")
    hit = pd.merge_asof(lhs, rhs.assign(t_next=rhs["t"]), on="t", by=keys, direction="forward")
    return hit.set_index("row")["t_next"].reindex(range(len(left))).set_axis(left.index)


def _funnel(views, carts, orders) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The view funnel and the cart conversion (docs/DATA_CONTRACT.md), per minute and overall.

    A view's earliest cart within the window decides it: carted when that cart is at most 20 min
    after the view, bought when the first purchase at or after that cart is too. A cart converts
    when the first purchase at or after it is at most 20 minutes later.
    """
    views = views.assign(t=_ns(views["event_time"]))
    views["cart"] = _next(views, "event_time", carts)
    views["buy"] = _next(views, "cart", orders)
    carted = views[views["cart"] - views["t"] <= FUNNEL]
    bought = carted[carted["buy"] - carted["t"] <= FUNNEL]
    buy_after_cart = _next(carts, "event_time", orders)
    converted = carts[buy_after_cart - _ns(carts["event_time"]) <= FUNNEL]
    parts = {"viewed": views, "carted": carted, "bought": bought, "carts": carts, "purchases": orders,
             "converted": converted}
    f = pd.concat([df.groupby("minute").size().rename(name) for name, df in parts.items()], axis=1)
    f = f.fillna(0).astype("int64").rename_axis("window_start").reset_index()
    overall = pd.DataFrame({name: [len(df)] for name, df in parts.items()})
    return _rates(f), _rates(overall)


def _rates(f: pd.DataFrame) -> pd.DataFrame:
    for rate, part, whole in (("view_to_cart", "carted", "viewed"), ("cart_to_buy", "bought", "carted"),
                              ("view_to_buy", "bought", "viewed"), ("cart_conversion_rate", "converted", "carts")):
        f[rate] = [p / w if w else 0.0 for p, w in zip(f[part], f[whole], strict=True)]
    return f


def aggregates(ev: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """ev: user_id, product_id (str), category, event_type, price, event_time (UTC)."""
    ev = ev.assign(minute=_minute(ev["event_time"]))
    orders = ev[ev.event_type == "purchase"]
    views = ev[ev.event_type == "page_view"]
    carts = ev[ev.event_type == "add_to_cart"].reset_index(drop=True)
    out = {}
    out["sales_per_minute"] = orders.groupby("minute").agg(
        total_sales=("price", "sum"), total_orders=("price", "size")).reset_index().rename(
        columns={"minute": "window_start"})
    spu = orders.groupby("user_id").agg(orders=("price", "size"), total_spent=("price", "sum")).reset_index()
    spu["avg_ticket"] = spu.total_spent / spu.orders
    out["avg_ticket_per_user"] = spu
    out["views_by_category"] = views.groupby("category").size().rename("views").reset_index()
    out["top_products"] = views.groupby("product_id").size().rename("views").reset_index()
    out["sales_by_product_per_minute"] = orders.groupby(["product_id", "minute"]).agg(
        orders=("price", "size"), revenue=("price", "sum")).reset_index().rename(
        columns={"minute": "window_start"})
    out["conversion_funnel"], out["conversion_overall"] = _funnel(views, carts, orders)
    return out


def assert_same(name: str, got: pd.DataFrame, want: pd.DataFrame, keys: tuple[str, ...]) -> None:
    """Same keys, counts exactly equal, sums within 1e-6."""
    cols = [c for c in want.columns if c in got.columns and c not in keys and c != "window_end"]
    g, w = got.copy(), want.copy()
    for df in (g, w):
        for k in keys:
            df[k] = (pd.to_datetime(df[k], utc=True).astype("datetime64[us, UTC]") if k == "window_start"
                         else df[k].astype(str))
    if keys:
        g = g.sort_values(list(keys)).reset_index(drop=True)
        w = w.sort_values(list(keys)).reset_index(drop=True)
        assert g[list(keys)].equals(w[list(keys)]), f"{name}: keys differ\n{g[list(keys)]}\n{w[list(keys)]}"
    assert len(g) == len(w), f"{name}: {len(g)} rows, want {len(w)}"
    for c in cols:
        if pd.api.types.is_integer_dtype(w[c]):
            assert (g[c].astype("int64").to_numpy() == w[c].to_numpy()).all(), f"{name}.{c} differs"
        else:
            diff = (g[c].astype(float).to_numpy() - w[c].astype(float).to_numpy())
            assert abs(diff).max(initial=0) <= 1e-6, f"{name}.{c} differs by {abs(diff).max()}"
    if "window_end" in got.columns and len(g):
        assert (pd.to_datetime(g.window_end, utc=True) - g.window_start == pd.Timedelta(minutes=1)).all()
