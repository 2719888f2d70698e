"""Shapes the contract's aggregates into what each chart draws; pandas only, no Qt.

Kept apart from the widgets so the chart-refresh benchmark measures exactly this code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USER_SORT_KEYS = ("avg_ticket", "total_spent", "orders")


def epoch_seconds(col: pd.Series) -> pd.Series:
    """Timestamps as float seconds since the epoch (what pyqtgraph's DateAxisItem expects)."""
    index = pd.DatetimeIndex(pd.to_datetime(col, utc=True)).as_unit("ns")
    return pd.Series(index.asi8 / 1e9, index=col.index)


def sales_per_minute(df: pd.DataFrame) -> pd.DataFrame:
    out = df.sort_values("window_start")[["window_start", "total_sales", "total_orders"]].copy()
    out.insert(0, "t", epoch_seconds(out["window_start"]))
    return out.reset_index(drop=True)


def top_users(df: pd.DataFrame, n: int, sort_by: str = "avg_ticket", ascending: bool = False) -> pd.DataFrame:
    """The n users first in `sort_by` order (ties broken by user_id so the chart does not jitter)."""
    if sort_by not in USER_SORT_KEYS:
        raise ValueError(f"sort_by must be one of {', '.join(USER_SORT_KEYS)}, got {sort_by!r}")
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
    starts = pd.DatetimeIndex(pd.to_datetime(df["window_start"], utc=True)).as_unit("ns").asi8[keep]
    minutes, row = np.unique(starts, return_inverse=True)
    matrix = np.zeros((len(minutes), len(best)))
    matrix[row, column[codes[keep]]] = revenue[keep]
    wide = pd.DataFrame(matrix, columns=[str(products[i]) for i in best])
    wide.insert(0, "window_start", pd.to_datetime(minutes, utc=True))
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
