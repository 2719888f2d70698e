"""Independent pandas computations of every aggregate, the yardstick for the Spark job's numbers
(used by the tests and by `scripts/bench chaos`)."""

from __future__ import annotations

import pandas as pd

FUNNEL = pd.Timedelta(minutes=20)


def _minute(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.floor("min")


def _ns(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).astype("datetime64[ns, UTC]")


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
    # A cart converts when the same user buys the same product 0..20 minutes after it, i.e. when the
    # first such purchase at or after the cart's time is at most 20 minutes later (an as-of join:
    # linear in the events, where pairing every cart with every purchase is quadratic per key).
    keys = ["user_id", "product_id"]
    c = carts[keys].assign(t=_ns(carts["event_time"]), row=range(len(carts))).sort_values("t")
    p = orders[keys].assign(t=_ns(orders["event_time"])).sort_values("t")
    first = pd.merge_asof(c, p.assign(t_p=p["t"]), on="t", by=keys, direction="forward", allow_exact_matches=True)
    converted = carts.iloc[sorted(first.loc[(first["t_p"] - first["t"]) <= FUNNEL, "row"])]
    f = pd.concat([
        carts.groupby("minute").size().rename("carts"),
        orders.groupby("minute").size().rename("purchases"),
        converted.groupby("minute").size().rename("converted"),
    ], axis=1).fillna(0).astype("int64").reset_index().rename(columns={"index": "window_start",
                                                                         "minute": "window_start"})
    f["rate"] = (f.converted / f.carts.where(f.carts > 0)).fillna(0.0)
    out["conversion_funnel"] = f
    n_c, n_p, n_k = len(carts), len(orders), len(converted)
    out["conversion_overall"] = pd.DataFrame(
        {"carts": [n_c], "purchases": [n_p], "converted": [n_k], "rate": [n_k / n_c if n_c else 0.0]})
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
