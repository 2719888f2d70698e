"""The job's current aggregates: previous snapshot + one batch's partials -> next snapshot.

Time-windowed aggregates are split into one part per UTC day, so that a batch rewrites only the
days it touched; the others are one part ("all"). A replay of batch N starts again from snapshot
N-1 and the merge is deterministic, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd
import pyarrow as pa

from ecomdesk.data.contract import AGGREGATE_KEYS, AGGREGATE_SCHEMAS, QUARANTINE_COUNTS
from ecomdesk.pipeline.funnel import COUNTS, FunnelState, advance

ALL = "all"
SUMS = {
    "sales_per_minute": ["total_sales", "total_orders"],
    "avg_ticket_per_user": ["orders", "total_spent"],
    "views_by_category": ["views"],
    "top_products": ["views"],
    "sales_by_product_per_minute": ["orders", "revenue"],
    "conversion_funnel": COUNTS,
    "conversion_overall": COUNTS,
    QUARANTINE_COUNTS: ["count"],
}
# the funnel's derived rates: name -> (numerator, denominator); 0 when the denominator is 0
RATES = {"view_to_cart": ("carted", "viewed"), "cart_to_buy": ("bought", "carted"),
         "view_to_buy": ("bought", "viewed"), "cart_conversion_rate": ("converted", "carts")}
KEYS = {**AGGREGATE_KEYS, QUARANTINE_COUNTS: ("reason",)}
TABLES = (*AGGREGATE_SCHEMAS, QUARANTINE_COUNTS)


def utc(values) -> pd.Series:
    """Timestamps from Spark (naive in the UTC session zone) or parquet as datetime64[us, UTC]."""
    return pd.to_datetime(pd.Series(values), utc=True).astype("datetime64[us, UTC]")


def with_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """The funnel's counts (COUNTS) with their RATES added."""
    out = counts.copy()
    for rate, (part, whole) in RATES.items():
        base = out[whole].astype("float64")
        out[rate] = (out[part] / base.where(base > 0)).fillna(0.0)
    return out


def _derive(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Recompute the non-additive columns from the additive ones."""
    df = df.copy()
    if name == "avg_ticket_per_user":
        df["avg_ticket"] = df["total_spent"] / df["orders"]
    if name in ("conversion_funnel", "conversion_overall"):
        df = with_rates(df)
    if "window_start" in df.columns:
        df["window_end"] = df["window_start"] + pd.Timedelta(minutes=1)
    schema = AGGREGATE_SCHEMAS.get(name)
    return df[schema.names] if schema is not None else df


def _combine(name: str, old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    keys, sums = list(KEYS[name]), SUMS[name]
    both = new if old is None else pd.concat([old, new], ignore_index=True)
    if keys:
        out = both.groupby(keys, as_index=False, sort=True)[sums].sum()
    else:
        out = both[sums].sum().to_frame().T
    for c in sums:
        out[c] = out[c].astype(both[c].dtype)
    return _derive(name, out)


def day_parts(name: str, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A time-windowed table's rows split into one part per UTC day; any other table is one part (ALL)."""
    if "window_start" not in df.columns:
        return {ALL: df}
    days = df["window_start"].dt.strftime("%Y-%m-%d")
    return {day: part.reset_index(drop=True) for day, part in df.groupby(days, sort=True)}


@dataclass
class Snapshot:
    batch_id: int = -1
    max_event_us: int | None = None
    quarantined: int = 0
    tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=lambda: {n: {} for n in TABLES})
    funnel: FunnelState = field(default_factory=FunnelState.empty)
    # (batch id, newest event time) of the batches that may hold an event at or after the funnel's
    # horizon, oldest first: what a restart reads again to derive the funnel state (commit.load)
    funnel_batches: tuple[tuple[int, int], ...] = ()

    def watermark_us(self, delay_us: int) -> int | None:
        return None if self.max_event_us is None else self.max_event_us - delay_us


@dataclass
class BatchPartials:
    """What Spark computed for one micro-batch, collected to the driver."""

    tables: dict[str, pd.DataFrame]  # additive aggregates and quarantine counts in contract columns
    funnel_events: pd.DataFrame  # user_id, product_id, event_type, event_us, topic, partition, offset
    max_event_us: int | None
    count: int = 0  # valid events in the batch
    events: pa.Table | None = None  # the batch's valid events when it asked for them and they were few
    rejected: pa.Table | None = None  # the batch's rejected records when they came home (one pass)


def _reaching(batches: tuple[tuple[int, int], ...], batch_id: int, max_us: int | None,
              horizon_us: int | None) -> tuple[tuple[int, int], ...]:
    """The batches, this one added, from the first whose newest event is at or after the horizon (a
    batch before it holds no event the state keeps; one after it may hold none either, and is kept)."""
    out = list(batches) + ([(batch_id, max_us)] if max_us is not None else [])
    start = 0
    while horizon_us is not None and start < len(out) and out[start][1] < horizon_us:
        start += 1
    return tuple(out[start:])


def merge(snap: Snapshot, batch_id: int, partials: BatchPartials, delay_us: int):
    """Next snapshot and the set of (table, part) whose content changed."""
    watermark = snap.watermark_us(delay_us)
    funnel, delta = advance(snap.funnel, partials.funnel_events, watermark)
    tables = dict(partials.tables)
    if not delta.empty:
        start = utc(delta["minute_us"].to_numpy().astype("datetime64[us]"))
        tables["conversion_funnel"] = pd.DataFrame({"window_start": start, **{c: delta[c] for c in COUNTS}})
        tables["conversion_overall"] = delta[COUNTS].sum().to_frame().T
    new_tables = {n: dict(parts) for n, parts in snap.tables.items()}
    changed: set[tuple[str, str]] = set()
    for name, part_df in tables.items():
        if part_df.empty:
            continue
        for part, rows in day_parts(name, part_df).items():
            new_tables[name][part] = _combine(name, snap.tables[name].get(part), rows)
            changed.add((name, part))
    max_us = snap.max_event_us
    if partials.max_event_us is not None:
        max_us = partials.max_event_us if max_us is None else max(max_us, partials.max_event_us)
    quarantined = snap.quarantined + int(partials.tables.get(QUARANTINE_COUNTS, pd.DataFrame({"count": []}))
                                         ["count"].sum())
    nxt = replace(snap, batch_id=batch_id, max_event_us=max_us, quarantined=quarantined, tables=new_tables,
                  funnel=funnel, funnel_batches=_reaching(snap.funnel_batches, batch_id, partials.max_event_us,
                                                          funnel.horizon_us))
    return nxt, changed
