"""Contract data for tests and benchmarks, published through the job's own writer.

`sample_frames` makes plausible aggregates; `publish` commits them as one version with the job's
`Committer` (per-UTC-day parts, the manifest with its `query_id` and state), and `publish_next`
commits the version the job would after one more micro-batch. So the readers are tested and
measured against exactly what the job writes, including its file names and the versions it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.fs as pafs

from ecomdesk.data import contract
from ecomdesk.pipeline.commit import Committer
from ecomdesk.pipeline.funnel import COUNTS, EVENT_COLUMNS
from ecomdesk.pipeline.snapshot import ALL, SUMS, TABLES, BatchPartials, Snapshot, day_parts, merge, with_rates
from ecomdesk.pipeline.store import ArrowStore

QUERY_ID = "sample-query"
DELAY_US = 10 * 60 * 1_000_000  # the default watermark delay (spark.watermark)

CATEGORIES = ("electronics", "fashion", "home", "sports", "books", "toys", "beauty", "food")


def sample_frames(days: int, products: int, users: int = 5000, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Plausible per-minute aggregates for `days` days, in the contract's columns."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    minutes = pd.date_range(start, periods=days * 24 * 60, freq="min")
    ends = minutes + pd.Timedelta(minutes=1)
    orders = rng.poisson(40, len(minutes))
    pids = [f"P{i:04d}" for i in range(products)]
    per_product = pd.DataFrame(
        {
            "product_id": np.repeat(pids, len(minutes)),
            "window_start": np.tile(minutes, products),
            "window_end": np.tile(ends, products),
            "orders": rng.poisson(2, products * len(minutes)),
        }
    )
    per_product["revenue"] = per_product["orders"] * rng.uniform(5, 500, len(per_product)).round(2)
    funnel = _funnel(rng, len(minutes), orders)
    user_orders = rng.integers(1, 30, users)
    spent = (user_orders * rng.uniform(10, 300, users)).round(2)
    return {
        "sales_per_minute": pd.DataFrame(
            {
                "window_start": minutes,
                "window_end": ends,
                "total_sales": (orders * rng.uniform(20, 120, len(minutes))).round(2),
                "total_orders": orders,
            }
        ),
        "avg_ticket_per_user": pd.DataFrame(
            {
                "user_id": [f"U{i:05d}" for i in range(users)],
                "avg_ticket": spent / user_orders,
                "orders": user_orders,
                "total_spent": spent,
            }
        ),
        "views_by_category": pd.DataFrame({"category": CATEGORIES, "views": rng.integers(1000, 90000, 8)}),
        "top_products": pd.DataFrame({"product_id": pids, "views": rng.integers(100, 50000, products)}),
        "sales_by_product_per_minute": per_product,
        "conversion_funnel": funnel.assign(window_start=minutes, window_end=ends),
        "conversion_overall": with_rates(funnel[COUNTS].sum().to_frame().T),
        contract.QUARANTINE_COUNTS: pd.DataFrame({"reason": ["malformed_json", "negative_price"], "count": [12, 3]}),
    }


def _funnel(rng: np.random.Generator, n: int, orders: np.ndarray) -> pd.DataFrame:
    """Per-minute funnel counts in the shape real shops report: a few percent of views are bought."""
    viewed = rng.poisson(2000, n)
    carted = rng.binomial(viewed, 0.08)
    carts = carted + rng.poisson(5, n)
    converted = rng.binomial(carts, 0.35)
    return with_rates(pd.DataFrame({"viewed": viewed, "carted": carted, "bought": rng.binomial(carted, 0.35),
                                "carts": carts, "purchases": np.maximum(orders, converted), "converted": converted}))


def whole(snap: Snapshot, name: str) -> pd.DataFrame:
    """Table `name` of a snapshot, all its day parts in one frame."""
    parts = snap.tables[name]
    return pd.concat([parts[k] for k in sorted(parts)], ignore_index=True)


@dataclass
class Published:
    """One committed version: the committer that wrote it (it continues the history), its snapshot
    and its manifest."""

    committer: Committer
    snap: Snapshot
    manifest: dict

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The version's tables, whole."""
        return {name: whole(self.snap, name) for name in TABLES}

    def close(self) -> None:
        """Wait for the committer's background deletion of expired versions; end its threads."""
        self.committer.cleaner.shutdown(wait=True)  # its deletions run on the io pool
        self.committer.io.shutdown(wait=True)


def publish(fs: pafs.FileSystem, base: str, frames: dict[str, pd.DataFrame], batch_id: int = 1,
            query_id: str = QUERY_ID) -> Published:
    """Commit `frames` whole as version `batch_id` with the job's writer, after any versions already
    under `base` (which it then expires like the job)."""
    committer = Committer(ArrowStore(fs, base), DELAY_US)
    committer.load()
    starts = [df["window_start"].max() for name, df in frames.items() if name in contract.WINDOWED and len(df)]
    quarantine = frames.get(contract.QUARANTINE_COUNTS, pd.DataFrame({"count": []}))
    snap = Snapshot(
        batch_id=batch_id,
        max_event_us=pd.Timestamp(max(starts)).value // 1000 if starts else None,
        quarantined=int(quarantine["count"].sum()),
        tables={name: {} for name in TABLES} | {name: day_parts(name, df) for name, df in frames.items()},
    )
    changed = {(name, part) for name, parts in snap.tables.items() for part in parts}
    return Published(committer, snap, committer.publish(snap, changed, query_id=query_id))


def publish_next(prev: Published, step: int = 1, days: set[str] | None = None) -> Published:
    """The next version, as the job commits it after a micro-batch that adds `step` to every additive
    column of the windowed tables' rows in `days` (default: the last day) and of the whole tables:
    the snapshot's merge rewrites only those days' parts and the whole-table ones."""
    per_day = [day for parts in prev.snap.tables.values() for day in parts if day != ALL]
    days = days if days is not None else {max(per_day)}
    partials = {}
    for name, parts in prev.snap.tables.items():
        rows = [df for part, df in parts.items() if part == ALL or part in days]
        if rows:
            partials[name] = pd.concat(rows, ignore_index=True).assign(**dict.fromkeys(SUMS[name], step))
    no_events = pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    snap, changed = merge(prev.snap, prev.snap.batch_id + 1, BatchPartials(partials, no_events, None), DELAY_US)
    return Published(prev.committer, snap, prev.committer.publish(snap, changed, query_id=prev.manifest["query_id"]))
