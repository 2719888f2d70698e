"""Shapes the contract's aggregates into what each business chart draws; numpy/pandas, no Qt.

`ChartShaper` works on the aggregates file by file (`contract.CurrentReader.read_parts`). A
per-minute aggregate is one immutable file per UTC day, and a micro-batch rewrites only today's,
so what each day's file contributes to a chart is derived once and kept by path; a refresh
shapes the new files and combines the kept pieces in time order (days never share a minute).
The whole-table aggregates are small and are shaped again at every refresh. It runs in the GUI's
reader thread, so the UI thread only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecomdesk.data.contract import QUARANTINE_COUNTS, TABLE_SCHEMAS
from ecomdesk.data.time_range import BY_KEY, MINUTE, ChartView, Window, rollup, window_for

USER_SORT_KEYS = ("avg_ticket", "total_spent", "orders")
PRODUCT_LINES = 5  # products drawn in "sales by product per minute"

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

Parts = Mapping[str, Sequence[tuple[str | None, pa.Table]]]


@dataclass(frozen=True)
class Business:
    """One refresh of the business tab: what each chart draws, shaped off the UI thread."""

    views: dict  # chart name -> its data (see `ChartShaper.shape`)
    users: pa.Table  # every user's avg ticket, for re-sorting the users chart without a read
    quarantine: pd.DataFrame  # reason, count


def _arrow_ns(column: pa.ChunkedArray) -> np.ndarray:
    """An Arrow timestamp column as int64 nanoseconds since the epoch."""
    unit = column.type.unit
    return pc.cast(column, pa.int64()).to_numpy() * _NS_PER_UNIT[unit]


def top_users(users: pa.Table, n: int, sort_by: str = "avg_ticket", ascending: bool = False) -> pd.DataFrame:
    """The n users first in `sort_by` order (ties broken by user_id so the chart does not jitter)."""
    if sort_by not in USER_SORT_KEYS:
        raise ValueError(f"sort_by must be one of {', '.join(USER_SORT_KEYS)}, got {sort_by!r}")
    values = users.column(sort_by).to_numpy().astype(float)
    rows = np.arange(len(values))
    if 0 < n < len(values) and not np.isnan(values).any():
        # only rows up to the n-th value (ties included) can be among the first n: sort just those
        k = n - 1 if ascending else len(values) - n
        kth = np.partition(values, k)[k]
        rows = rows[values <= kth] if ascending else rows[values >= kth]
    ids = users.column("user_id").take(rows).to_numpy(zero_copy_only=False)
    keys = values[rows] if ascending else -values[rows]
    first = rows[np.lexsort((ids.astype(str), keys))][:n]
    return pd.DataFrame(users.select(["user_id", "avg_ticket", "orders", "total_spent"]).take(first).to_pydict())


def _ranked(table: dict[str, list], label: str, n: int | None = None) -> pd.DataFrame:
    """(label, views) by views, most first, ties by label; the first n rows when n is given."""
    pairs = sorted(zip(table[label], table["views"], strict=True), key=lambda p: (-p[1], p[0]))[:n]
    return pd.DataFrame({label: [p[0] for p in pairs], "views": np.array([p[1] for p in pairs], dtype="int64")})


# the view funnel's steps: (count column, label, rate column of the step from the one before)
FUNNEL_STEPS = (("viewed", "Viewed", None), ("carted", "Added to cart", "view_to_cart"),
                ("bought", "Bought", "cart_to_buy"))


def conversion_funnel(overall: dict[str, list]) -> pd.DataFrame:
    """The view funnel's steps (docs/DATA_CONTRACT.md): label, count, `step` (the share of the step
    before that went on to this one; 1 for the views) and `of_viewed` (the share of the views)."""
    row = {k: v[0] for k, v in overall.items()} if overall["viewed"] else {}
    return pd.DataFrame({
        "stage": [label for _, label, _ in FUNNEL_STEPS],
        "count": [int(row.get(count, 0)) for count, _, _ in FUNNEL_STEPS],
        "step": [float(row.get(rate, 0.0)) if rate else 1.0 for _, _, rate in FUNNEL_STEPS],
        "of_viewed": [1.0, float(row.get("view_to_cart", 0.0)), float(row.get("view_to_buy", 0.0))],
    })


def _small(parts: Parts, name: str) -> dict[str, list]:
    """A small whole-table aggregate as columns of Python values (cheaper than a DataFrame)."""
    return _table(parts, name).to_pydict()


def _table(parts: Parts, name: str) -> pa.Table:
    tables = [t for _, t in parts[name]]
    return pa.concat_tables(tables) if tables else TABLE_SCHEMAS[name].empty_table()


@dataclass(frozen=True)
class _SalesMinutes:
    """One file of sales_per_minute in time order."""

    minutes: np.ndarray  # window starts, int64 ns
    sales: np.ndarray
    orders: np.ndarray


def _sales_minutes(table: pa.Table) -> _SalesMinutes:
    ns = _arrow_ns(table.column("window_start"))
    order = np.argsort(ns, kind="stable")
    return _SalesMinutes(ns[order], table.column("total_sales").to_numpy()[order],
                         table.column("total_orders").to_numpy()[order])


def _sales_per_minute(pieces: list[_SalesMinutes]) -> pd.DataFrame:
    pieces = sorted(pieces, key=lambda p: p.minutes[0])
    minutes = np.concatenate([p.minutes for p in pieces]) if pieces else np.array([], dtype="int64")
    sales = np.concatenate([p.sales for p in pieces]) if pieces else np.array([], dtype=float)
    orders = np.concatenate([p.orders for p in pieces]) if pieces else np.array([], dtype="int64")
    return pd.DataFrame({"t": minutes / 1e9, "window_start": _utc(minutes), "total_sales": sales,
                         "total_orders": orders})


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC")


@dataclass(frozen=True)
class _ProductMinutes:
    """One file of sales_by_product_per_minute: revenue per (minute, product) and per product."""

    products: list[str]
    totals: np.ndarray  # revenue per product
    minutes: np.ndarray  # distinct window starts, int64 ns, ascending
    revenue: np.ndarray  # len(minutes) x len(products), 0 where a product sold nothing


def _product_minutes(table: pa.Table) -> _ProductMinutes:
    encoded = pc.dictionary_encode(table.column("product_id").combine_chunks())
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    products = [str(p) for p in encoded.dictionary.to_pylist()]
    revenue = table.column("revenue").to_numpy().astype(float, copy=False)
    row, minutes = _rows_of(_arrow_ns(table.column("window_start")))
    matrix = _summed(row * len(products) + codes, revenue, (len(minutes), len(products)))
    totals = np.bincount(codes, weights=revenue, minlength=len(products))
    return _ProductMinutes(products, totals, minutes, matrix)


def _rows_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's row among the distinct values in ascending order, and those distinct values.

    Distinct values by hashing, then only those sorted: cheaper than np.unique's sort of every row.
    """
    row, distinct = pd.factorize(values)
    order = np.argsort(distinct)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[row], distinct[order]


def _summed(cells: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A dense matrix of `shape` holding the sum of `values` per flat cell index."""
    return np.bincount(cells, weights=values, minlength=shape[0] * shape[1]).reshape(shape)


def _sales_by_product(pieces: list[_ProductMinutes], n: int) -> pd.DataFrame:
    """Revenue per minute (rows) of the n products with the most revenue overall (columns)."""
    pieces = [p for p in pieces if len(p.minutes)]
    if not pieces:
        return pd.DataFrame(columns=["t", "window_start"])
    totals: dict[str, float] = {}
    for piece in pieces:
        for product, total in zip(piece.products, piece.totals, strict=True):
            totals[product] = totals.get(product, 0.0) + total
    # most revenue first, ties by product id so the legend does not jitter
    best = sorted(totals, key=lambda p: (-totals[p], p))[:n]
    blocks = []
    for piece in sorted(pieces, key=lambda p: p.minutes[0]):
        column = {p: i for i, p in enumerate(piece.products)}
        block = np.zeros((len(piece.minutes), len(best)))
        for j, product in enumerate(best):
            if product in column:
                block[:, j] = piece.revenue[:, column[product]]
        blocks.append(block)
    minutes = np.concatenate([p.minutes for p in sorted(pieces, key=lambda p: p.minutes[0])])
    matrix = np.vstack(blocks)
    wide = pd.DataFrame(matrix, columns=best)
    wide.insert(0, "window_start", _utc(minutes))
    wide.insert(0, "t", minutes / 1e9)
    return wide


class ChartShaper:
    """Everything the business tab draws, from the aggregates file by file.

    Keeps what each per-minute file contributes by its path (paths name immutable content), for
    the files of the last call only. Parts without a path (None) are shaped and not kept.
    """

    _PER_FILE = {"sales_per_minute": _sales_minutes, "sales_by_product_per_minute": _product_minutes}

    def __init__(self) -> None:
        self._pieces: dict[str, dict[str, object]] = {name: {} for name in self._PER_FILE}

    def shape(self, parts: Parts, top_n: int, user_sort: str = "avg_ticket", view: ChartView | None = None
              ) -> Business:
        """`view`: the per-minute charts' time range, rolled up to fit; None keeps every minute."""
        pieces = {name: self._shaped(name, parts[name]) for name in self._PER_FILE}
        overall = _small(parts, "conversion_overall")
        users = _table(parts, "avg_ticket_per_user")
        views = {
            "sales_per_minute": _sales_per_minute(pieces["sales_per_minute"]),
            "avg_ticket_per_user": top_users(users, top_n, user_sort),
            "views_by_category": _ranked(_small(parts, "views_by_category"), "category"),
            "top_products": _ranked(_small(parts, "top_products"), "product_id", top_n),
            "sales_by_product_per_minute": _sales_by_product(pieces["sales_by_product_per_minute"], PRODUCT_LINES),
            "conversion_funnel": conversion_funnel(overall),
            "cart_conversion_rate": float(overall["cart_conversion_rate"][0]) if overall["carts"] else None,
        }
        if view is not None:
            _apply_view(views, view)
        quarantine = pd.DataFrame(_small(parts, QUARANTINE_COUNTS), columns=["reason", "count"])
        return Business(views, users, quarantine)

    def _shaped(self, name: str, files: Sequence[tuple[str | None, pa.Table]]) -> list:
        shape, cached = self._PER_FILE[name], self._pieces[name]
        out, kept = [], {}
        for path, table in files:
            if table.num_rows == 0:
                continue
            piece = cached[path] if path in cached else shape(table)
            if path is not None:
                kept[path] = piece
            out.append(piece)
        self._pieces[name] = kept
        return out


def _apply_view(views: dict, view: ChartView) -> None:
    """The per-minute charts' rows inside the view's range, summed per bucket (`views["window"]`)."""
    sales = views["sales_per_minute"]
    t = sales["t"].to_numpy() if len(sales) else np.array([])
    window = window_for(BY_KEY[view.range_key], t[0] if len(t) else None, t[-1] if len(t) else None, view.end,
                        view.max_points)
    views["window"] = window
    views["sales_per_minute"] = _rolled(sales, window, ["total_sales", "total_orders"])
    wide = views["sales_by_product_per_minute"]
    views["sales_by_product_per_minute"] = _rolled(wide, window, [c for c in wide.columns
                                                                  if c not in ("t", "window_start")])


def _rolled(df: pd.DataFrame, window: Window, sums: list[str]) -> pd.DataFrame:
    if df.empty:
        return df
    out = rollup(df[["t", *sums]], window, sums)
    out.insert(1, "window_start", _utc((out["t"].to_numpy() * 1e9).astype("int64")))
    return out


def business(frames: dict[str, pd.DataFrame], top_n: int, user_sort: str = "avg_ticket",
             view: ChartView | None = None) -> Business:
    """`ChartShaper.shape` of whole frames (one part per table, nothing kept), keyed as the
    contract's tables are."""
    parts = {name: [(None, pa.Table.from_pandas(frames[name], schema=schema, preserve_index=False))]
             for name, schema in TABLE_SCHEMAS.items()}
    return ChartShaper().shape(parts, top_n, user_sort, view)



def finished_minutes(t: np.ndarray, now: float, bucket: float = MINUTE) -> int:
    """How many of the points `t` (bucket starts, epoch seconds, ascending) are of buckets (minutes,
    or the roll-up's hours...) that have ended by `now`; the points after them are of the bucket still
    in progress, which is still filling and must not read as a drop."""
    return int(np.searchsorted(np.asarray(t, dtype=float) + bucket, now, side="right"))
