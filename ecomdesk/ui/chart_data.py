"""Shapes the contract's aggregates into what each chart draws; pandas only, no Qt.

Kept apart from the widgets so the chart-refresh benchmark measures exactly this code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USER_SORT_KEYS = ("avg_ticket", "total_spent", "orders")


_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def epoch_ns(col: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch, naive ones meaning UTC.

    Read straight from the datetime values: `pd.to_datetime` and unit or zone conversions copy
    the column and probe it element by element, which cost more than the rest of the shaping.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return col.array.asi8 * _NS_PER_UNIT[dtype.unit]
    if dtype.kind == "M":
        return col.to_numpy().view("i8") * _NS_PER_UNIT[np.datetime_data(dtype)[0]]
    return epoch_ns(pd.to_datetime(col, utc=True))


def epoch_seconds(col: pd.Series) -> pd.Series:
    """Timestamps as float seconds since the epoch (what pyqtgraph's DateAxisItem expects)."""
    return pd.Series(epoch_ns(col) / 1e9, index=col.index)


def sales_per_minute(df: pd.DataFrame) -> pd.DataFrame:
    ns = epoch_ns(df["window_start"])
    order = np.argsort(ns, kind="stable")
    out = df[["window_start", "total_sales", "total_orders"]].take(order).reset_index(drop=True)
    out.insert(0, "t", ns[order] / 1e9)
    return out


def top_users(df: pd.DataFrame, n: int, sort_by: str = "avg_ticket", ascending: bool = False) -> pd.DataFrame:
    """The n users first in `sort_by` order (ties broken by user_id so the chart does not jitter)."""
    if sort_by not in USER_SORT_KEYS:
        raise ValueError(f"sort_by must be one of {', '.join(USER_SORT_KEYS)}, got {sort_by!r}")
    values = df[sort_by].to_numpy(dtype=float)
    if 0 < n < len(df) and not np.isnan(values).any():
        # only rows up to the n-th value (ties included) can be among the first n: sort just those
        kth = np.partition(values, n - 1 if ascending else len(values) - n)[n - 1 if ascending else len(values) - n]
        df = df[values <= kth] if ascending else df[values >= kth]
    ordered = df.sort_values([sort_by, "user_id"], ascending=[ascending, True], kind="stable")
    return ordered.head(n)[["user_id", "avg_ticket", "orders", "total_spent"]].reset_index(drop=True)


def views_by_category(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["views", "category"], ascending=[False, True])[["category", "views"]].reset_index(
        drop=True
    )


def top_products(df: pd.DataFrame, n: int) -> pd.DataFrame:
    ordered = df.sort_values(["views", "product_id"], ascending=[False, True])
    return ordered.head(n)[["product_id", "views"]].reset_index(drop=True)


def sales_by_product(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """Revenue per minute (rows) for the n products with the most revenue overall (columns).

    Done with numpy on factorized keys: it is the biggest aggregate (minutes x products) and a
    pandas pivot of it costs more than reading it.
    """
    if df.empty:
        return pd.DataFrame(columns=["t", "window_start"])
    codes, products = pd.factorize(df["product_id"])
    revenue = df["revenue"].to_numpy(dtype=float)
    totals = np.bincount(codes, weights=revenue, minlength=len(products))
    # most revenue first, ties by product id so the legend does not jitter
    best = sorted(range(len(products)), key=lambda i: (-totals[i], str(products[i])))[:n]
    column = np.full(len(products), -1)
    column[best] = np.arange(len(best))
    keep = column[codes] >= 0
    starts = epoch_ns(df["window_start"])[keep]
    # distinct minutes by hashing, then ordered: cheaper than np.unique's sort of every row
    row, distinct = pd.factorize(starts)
    order = np.argsort(distinct)
    minutes = distinct[order]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row = rank[row]
    matrix = np.zeros((len(minutes), len(best)))
    matrix[row, column[codes[keep]]] = revenue[keep]
    wide = pd.DataFrame(matrix, columns=[str(products[i]) for i in best])
    wide.insert(0, "window_start", pd.DatetimeIndex(minutes.view("datetime64[ns]"), tz="UTC"))
    wide.insert(0, "t", minutes / 1e9)
    return wide


def conversion_funnel(overall: pd.DataFrame) -> pd.DataFrame:
    """Stages carts -> purchases -> converted with their counts; rate is converted / carts."""
    if overall.empty:
        return pd.DataFrame({"stage": ["carts", "purchases", "converted"], "count": [0, 0, 0]})
    row = overall.iloc[0]
    return pd.DataFrame(
        {
            "stage": ["carts", "purchases", "converted"],
            "count": [int(row.carts), int(row.purchases), int(row.converted)],
        }
    )


def conversion_rate(overall: pd.DataFrame) -> float | None:
    return None if overall.empty else float(overall.iloc[0]["rate"])


def business_views(frames: dict[str, pd.DataFrame], top_n: int, user_sort: str = "avg_ticket") -> dict:
    """Everything the business tab draws, computed from one read of the aggregates."""
    return {
        "sales_per_minute": sales_per_minute(frames["sales_per_minute"]),
        "avg_ticket_per_user": top_users(frames["avg_ticket_per_user"], top_n, user_sort),
        "views_by_category": views_by_category(frames["views_by_category"]),
        "top_products": top_products(frames["top_products"], top_n),
        "sales_by_product_per_minute": sales_by_product(frames["sales_by_product_per_minute"], 5),
        "conversion_funnel": conversion_funnel(frames["conversion_overall"]),
        "conversion_rate": conversion_rate(frames["conversion_overall"]),
    }
