"""`ecomdesk bench funnel [--rate R] [--minutes M]`: the funnel's cost per batch as its state grows,
what saving that state cost, and what a restart's derivation costs, in this process.

The realistic profile's events (the producer's own generator, flat at R events/s, event time = send
time) go through `funnel.advance` in batches of `--trigger` s, with the job's watermark (newest event
- `--delay`), for M minutes of event time. The state fills for the window + the delay (30 minutes
with the defaults) and then stays level, so a growing cost per batch after that would be a cost that
grows with time. Per slice of `--slice` minutes it prints the batch's advance p50/p95 and max, the
state's rows, its bytes and key codes, then at the slice's end:
- save: what the job used to do every 60 s, the state with its ids (`FunnelState.saved`) written
  as Parquet into memory (the transfer to HDFS not counted);
- derive: what a start now does instead, the state from the events at or after its horizon
  (`FunnelState.derived`; reading them from HDFS not counted), checked equal to the live state.
Ratios are against the first slice after the state is full, measured in this run.

`--baseline FILE`: another implementation of the funnel module (for instance an earlier version,
`git show REV:ecomdesk/pipeline/funnel.py > FILE`) advances its own state on the same events, each
batch right after this one's: its p50/p95 and this one's over it, per slice, in the same run.

stdout carries the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import time
from math import nan
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomdesk.bench.measure import load, percentiles
from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS
from ecomdesk.pipeline.funnel import EVENT_COLUMNS, FunnelState, advance
from ecomdesk.pipeline.job_args import WATERMARK_SECONDS
from ecomdesk.producer.events import EVENT_TYPES, PROFILES, EventGenerator
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def events_of(gen: EventGenerator, start_us: int, n: int, rate: float, offset: int) -> pd.DataFrame:
    """The next n events, sent at `rate` from `start_us`, in the funnel's columns."""
    b = gen.take(n)
    kinds = np.asarray(EVENT_TYPES, dtype=object)[b.etype]
    return pd.DataFrame({
        "user_id": b.user.astype(str).astype(object),
        "product_id": (b.product + gen.model.first_product).astype(str).astype(object),
        "event_type": kinds,
        "event_us": start_us + (np.arange(n) * 1e6 / rate).astype("int64"),
        "topic": [TOPIC_BY_EVENT_TYPE[k] for k in kinds],
        "partition": np.zeros(n, dtype="int64"),
        "offset": np.arange(offset, offset + n, dtype="int64"),
    })[EVENT_COLUMNS]


def live_rows(state: FunnelState) -> int:
    return len(state.views) + len(state.carts) + len(state.purchases)


def save_seconds(state: FunnelState) -> float:
    """The old periodic save, up to the bytes it sent: ids back from the codes, then Parquet."""
    t = time.perf_counter()
    for df in state.saved().values():
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), io.BytesIO())
    return time.perf_counter() - t


def module_at(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_funnel", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ecomdesk bench funnel", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=3000.0, help="events per second of event time (default 3000)")
    ap.add_argument("--minutes", type=float, default=45.0, help="minutes of event time (default 45)")
    ap.add_argument("--trigger", type=float, default=2.0, help="seconds of events per batch (default 2, the job's)")
    ap.add_argument("--delay", type=float, default=WATERMARK_SECONDS,
                    help=f"watermark delay in s (default {WATERMARK_SECONDS:g}, the job's)")
    ap.add_argument("--slice", type=float, default=5.0, help="minutes per printed slice (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--baseline", type=Path, help="a funnel module to time against, batch by batch (see above)")
    args = ap.parse_args(argv)
    baseline = module_at(args.baseline) if args.baseline else None
    other, other_durations = (baseline.FunnelState.empty() if baseline else None), []
    gen = EventGenerator(PROFILES["realistic"], args.seed)
    per_batch = int(args.rate * args.trigger)
    batches = int(args.minutes * 60 / args.trigger)
    per_slice = int(args.slice * 60 / args.trigger)
    full_after = (FUNNEL_WINDOW_SECONDS + args.delay) / 60  # minutes until the state is level
    print(f"funnel: realistic profile at {args.rate:,.0f} events/s, batches of {per_batch:,d} events "
          f"({args.trigger:g} s), watermark delay {args.delay:g} s, {args.minutes:g} min; the state is full "
          f"after ~{full_after:.0f} min | {load()}", flush=True)
    state, seen, kept, durations, base = FunnelState.empty(), None, [], [], None
    for i in range(batches):
        events = events_of(gen, T0_US + int(i * args.trigger * 1e6), per_batch, args.rate, i * per_batch)
        t = time.perf_counter()
        state, _ = advance(state, events, None if seen is None else seen - int(args.delay * 1e6))
        durations.append(time.perf_counter() - t)
        if baseline is not None:
            t = time.perf_counter()
            other, _ = baseline.advance(other, events, None if seen is None else seen - int(args.delay * 1e6))
            other_durations.append(time.perf_counter() - t)
        seen = int(events["event_us"].max()) if seen is None else max(seen, int(events["event_us"].max()))
        kept.append(events)
        if (i + 1) % per_slice:
            continue
        horizon = state.horizon_us
        kept = [e for e in kept if horizon is None or e["event_us"].iloc[-1] >= horizon]
        save = save_seconds(state)
        t = time.perf_counter()
        derived = FunnelState.derived(pd.concat(kept, ignore_index=True), horizon)
        derive = time.perf_counter() - t
        live = live_rows(state)
        if live_rows(derived) != live:
            raise AssertionError(f"the derived state has {live_rows(derived):,d} rows, the live one {live:,d}")
        p50, p95 = (1000 * v for v in percentiles(durations) or (nan, nan))
        minute = (i + 1) * args.trigger / 60
        figures = {"p50": p50, "p95": p95, "max": max(durations) * 1000, "save": save, "derive": derive}
        if base is None and minute >= full_after:
            base = figures
        ratio = ("" if base is None else
                 " | vs the first full slice: " + ", ".join(f"{k} {figures[k] / base[k]:.2f}x" for k in ("p50", "p95")))
        if baseline is not None:
            b50, b95 = (1000 * v for v in percentiles(other_durations) or (nan, nan))
            ratio += (f" | baseline p50 {b50:6.1f} ms, p95 {b95:6.1f} ms; this/baseline p50 {p50 / b50:.2f}x, "
                      f"p95 {p95 / b95:.2f}x")
            other_durations = []
        print(f"min {minute - args.slice:4.0f}-{minute:<4.0f} advance p50 {p50:6.1f} ms, p95 {p95:6.1f} ms, "
              f"max {figures['max']:6.1f} ms | state {live:>10,d} rows ({state.rows:,d} held), "
              f"{state.nbytes / 2**20:7.1f} MiB, "
              f"{state.codes.size:>9,d} key codes | save {save:5.2f} s (not done any more), derive {derive:5.2f} s"
              f"{ratio} | {load()}", flush=True)
        durations = []
    return 0
