"""`ecomdesk bench funnel_paths [--batches B] [--per-batch N]`: the ways to run the funnel's
per-record work, side by side on the same events (issue 23, item 2), each checked equal to the job's.

The realistic profile's events (as `bench funnel` makes them) are cut into B batches of N events,
written as Parquet files for each Spark path. Each path folds the same batches in order, and its per-minute
counts of carted and bought views and converted carts, summed over all batches, must equal the job's:
- driver: the job's `funnel.advance`, in this process, vectorised over the batch (today's path: every
  event of a batch comes home to the driver);
- spark joins: Spark's own stateful operators on the executors. Inner stream-stream joins on
  (user, product) with the funnel's time bounds give the carted views, the bought views and the
  converted carts as soon as both ends are seen, and `dropDuplicatesWithinWatermark` counts each view
  or cart once. The state lives in Spark's RocksDB state store; what comes home per batch is counts
  per (kind, minute), bounded by the minutes, not by the events;
- pandas state: `applyInPandasWithState` keyed by (user, product), the funnel per key in Python with
  the key's events in Spark's state (NoTimeout, so nothing is evicted and its cost here is a lower
  bound). `transformWithStateInPandas`, the newer API, keeps its state behind a socket call per access
  and needs protobuf; a sketch of it measured 2.2x slower than this one (docs/BENCHMARKS.md).

Each Spark path runs as a streaming query over the files (one file per trigger) on `--master`, in one
Spark session; per batch it prints the wall time of the batch's one action. Figures are events per
second at the median batch after `--warmup` batches, and each path's ratio to the driver's, same run.
stdout carries the figures; Spark's log goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ecomdesk.bench.funnel import T0_US, events_of
from ecomdesk.bench.measure import load, percentiles
from ecomdesk.pipeline.funnel import MINUTE_US, WINDOW_US, FunnelState, advance
from ecomdesk.pipeline.job_args import WATERMARK_SECONDS
from ecomdesk.producer.events import PROFILES, EventGenerator

KINDS = ("carted", "bought", "converted")
WATERMARK = f"{WATERMARK_SECONDS:g} seconds"  # the job's


def make_batches(batches: int, per_batch: int, rate: float, seed: int) -> list[pd.DataFrame]:
    """The batches of events, in order."""
    gen, out = EventGenerator(PROFILES["realistic"], seed), []
    for i in range(batches):
        events = events_of(gen, T0_US + int(i * per_batch * 1e6 / rate), per_batch, rate, i * per_batch)
        out.append(events)
    return out


def driver(batches: list[pd.DataFrame]) -> tuple[list[float], pd.Series]:
    """Seconds per batch of `funnel.advance`, and the counts per (kind, minute_us)."""
    state, seen, seconds, deltas = FunnelState.empty(), None, [], []
    for events in batches:
        t = time.perf_counter()
        state, delta = advance(state, events, None if seen is None else seen - int(WATERMARK_SECONDS * 1_000_000))
        seconds.append(time.perf_counter() - t)
        newest = int(events["event_us"].max())
        seen = newest if seen is None else max(seen, newest)
        deltas.append(delta)
    per_minute = pd.concat(deltas).groupby("minute_us")[list(KINDS)].sum()
    counts = per_minute.stack().rename_axis(["minute_us", "kind"]).swaplevel().sort_index()
    return seconds, counts[counts != 0]


def spark_joins(events):  # noqa: ANN001, ANN201 (pyspark types, imported late)
    """Carted views, bought views and converted carts from Spark's own stream-stream joins."""
    from pyspark.sql import functions as F

    def side(kind: str, p: str):  # noqa: ANN202
        rows = events.where(F.col("event_type") == kind)
        return (rows.select(*(F.col(c).alias(f"{p}_{c}") for c in ("user_id", "product_id", "ts", "eid")))
                .withWatermark(f"{p}_ts", WATERMARK))

    v, c, q = side("page_view", "v"), side("add_to_cart", "c"), side("purchase", "q")
    w = f"INTERVAL {WINDOW_US // 1_000_000} SECONDS"
    same = "{a}_user_id = {b}_user_id AND {a}_product_id = {b}_product_id"
    vc = v.join(c, F.expr(same.format(a="v", b="c") + f" AND c_ts >= v_ts AND c_ts <= v_ts + {w}"))
    # a second join may carry one event-time column per stream: the cart's time goes on as micros
    vc_on = vc.select("v_eid", "v_ts", "c_user_id", "c_product_id", F.unix_micros("c_ts").alias("c_us"))
    vcq = vc_on.join(q, F.expr(same.format(a="c", b="q") + f" AND unix_micros(q_ts) >= c_us AND q_ts <= v_ts + {w}"))
    cq = c.join(q, F.expr(same.format(a="c", b="q") + f" AND q_ts >= c_ts AND q_ts <= c_ts + {w}"))

    def once(rows, kind: str, p: str):  # noqa: ANN001, ANN202
        return (rows.select(f"{p}_eid", f"{p}_ts").dropDuplicatesWithinWatermark([f"{p}_eid"])
                .select(F.lit(kind).alias("kind"), F.col(f"{p}_ts").alias("ts")))

    return once(vc, "carted", "v").unionByName(once(vcq, "bought", "v")).unionByName(once(cq, "converted", "c"))


def _stage(v: int, carts: np.ndarray, buys: np.ndarray) -> int:
    """0 viewed, 1 carted, 2 bought: the contract's definition for one view against one key's events."""
    hit = carts[(carts >= v) & (carts <= v + WINDOW_US)]
    if not len(hit):
        return 0
    return 2 if ((buys >= hit.min()) & (buys <= v + WINDOW_US)).any() else 1


def per_key_funnel(key, frames: Iterator[pd.DataFrame], state) -> Iterator[pd.DataFrame]:  # noqa: ANN001
    """One (user, product): its views not bought yet, its carts and purchases, in Spark's state."""
    # each list is int64 bytes: the state's schema takes no arrays from Python
    vu, vs, cu, cc, qu = (np.frombuffer(x, dtype="int64") for x in state.get) if state.exists else (
        np.empty(0, "int64") for _ in range(5))
    batch = pd.concat(list(frames))
    us = batch["event_us"].to_numpy("int64")
    kinds = batch["event_type"].to_numpy()
    new_v, new_c, new_q = us[kinds == "page_view"], us[kinds == "add_to_cart"], us[kinds == "purchase"]
    qu = np.concatenate([qu, new_q])
    cu = np.concatenate([cu, new_c])
    was = np.concatenate([cc, np.zeros(len(new_c), "int64")])
    cc = np.array([int(((qu >= t) & (qu <= t + WINDOW_US)).any()) for t in cu], dtype="int64")
    before = np.concatenate([vs, np.zeros(len(new_v), "int64")])
    vu = np.concatenate([vu, new_v])
    vs = np.array([_stage(t, cu, qu) for t in vu], dtype="int64")
    rows = [("carted", t) for t, b, a in zip(vu, before, vs, strict=True) if b < 1 <= a]
    rows += [("bought", t) for t, b, a in zip(vu, before, vs, strict=True) if b < 2 <= a]
    rows += [("converted", t) for t, b, a in zip(cu, was, cc, strict=True) if b < 1 <= a]
    keep = vs < 2
    state.update(tuple(a.tobytes() for a in (vu[keep], vs[keep], cu, cc, qu)))
    yield pd.DataFrame({"kind": [k for k, _ in rows], "event_us": np.asarray([t for _, t in rows], "int64")})


def pandas_state(events):  # noqa: ANN001, ANN201
    """The same counts from `per_key_funnel`, one Python call per (user, product) of a batch."""
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout

    rows = events.select("user_id", "product_id", "event_type", "event_us")
    out = rows.groupBy("user_id", "product_id").applyInPandasWithState(
        per_key_funnel, "kind string, event_us long",
        "vu binary, vs binary, cu binary, cc binary, qu binary",
        "Append", GroupStateTimeout.NoTimeout)
    return out.select("kind", F.timestamp_micros("event_us").alias("ts"))


SPARK_SETTINGS = {
    "spark.sql.streaming.stateStore.providerClass":
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    "spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
PATHS = {"spark-joins": spark_joins, "pandas-state": pandas_state}


def run_path(spark, name: str, folder: Path, batches: list[pd.DataFrame]) -> tuple[list[float], pd.Series]:  # noqa: ANN001
    """The batches through one Spark path, as files under `folder` that its streaming query takes one per
    trigger; seconds per batch and the counts per (kind, minute_us)."""
    from pyspark.sql import functions as F

    files = folder / name / "in"
    files.mkdir(parents=True)
    for i, frame in enumerate(batches):
        frame.to_parquet(files / f"batch-{i:05d}.parquet", index=False)

    schema = ("user_id string, product_id string, event_type string, event_us long, topic string, "
              "partition long, offset long")
    events = (spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(files))
              .withColumn("ts", F.timestamp_micros("event_us")).withColumn("eid", F.col("offset")))
    found = PATHS[name](events)
    minute = (F.floor(F.unix_micros("ts") / MINUTE_US) * MINUTE_US).alias("minute_us")
    seconds, counts = [], []

    def each(df, batch_id: int) -> None:  # noqa: ANN001
        t = time.perf_counter()
        home = df.groupBy("kind", minute).count().toPandas()  # the batch's one action
        seconds.append(time.perf_counter() - t)
        counts.append(home)
        print(f"  {name} batch {batch_id}: {seconds[-1] * 1000:.0f} ms, {len(home)} rows home", file=sys.stderr)

    query = (found.writeStream.foreachBatch(each).option("checkpointLocation", str(folder / name / "checkpoint"))
             .trigger(processingTime="0 seconds").start())
    while len(seconds) < len(batches) and query.exception() is None:
        time.sleep(0.1)
    query.stop()
    if query.exception() is not None:
        raise SystemExit(f"{name}: {query.exception()}")
    home = pd.concat(counts)
    return seconds, home.groupby(["kind", "minute_us"])["count"].sum().sort_index()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ecomdesk bench funnel_paths", description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=12, help="batches (default 12)")
    ap.add_argument("--per-batch", type=int, default=20_000, help="events per batch (default 20,000)")
    ap.add_argument("--rate", type=float, default=10_000.0, help="events per second of event time (default 10,000)")
    ap.add_argument("--warmup", type=int, default=3, help="batches left out of the figures (default 3)")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--paths", default=",".join(PATHS), help=f"Spark paths to run (default {','.join(PATHS)})")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="ecomdesk-funnel-paths-") as tmp:
        folder = Path(tmp)
        batches = make_batches(args.batches, args.per_batch, args.rate, args.seed)
        print(f"funnel paths: {args.batches} batches of {args.per_batch:,d} realistic events "
              f"({args.per_batch / args.rate:g} s of event time each), {args.master} {' '.join(args.conf)} "
              f"| {load()}", flush=True)
        seconds, truth = driver(batches)
        figures, unequal = {"driver": seconds}, []
        settings = {**SPARK_SETTINGS, **dict(setting.split("=", 1) for setting in args.conf)}
        builder = SparkSession.builder.master(args.master).appName("ecomdesk-bench-funnel-paths")
        for key, value in settings.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        for name in args.paths.split(","):
            seconds, counts = run_path(spark, name, folder, batches)
            figures[name] = seconds
            equal = counts.astype("int64").equals(truth.astype("int64"))
            verdict = "equal to the driver's" if equal else (
                f"NOT equal to the driver's ({int(counts.sum()):,d} vs {int(truth.sum()):,d} counted)")
            print(f"{name}: counts {verdict}", flush=True)
            if not equal:
                unequal.append(name)
        spark.stop()
    base = None
    for name, seconds in figures.items():
        p50, p95 = percentiles(seconds[args.warmup:]) or (float("nan"),) * 2
        rate = args.per_batch / p50
        base = base or rate
        print(f"{name:13s} batch p50 {p50 * 1000:7.0f} ms, p95 {p95 * 1000:7.0f} ms, {rate:9,.0f} events/s "
              f"= {rate / base:.2f}x the driver's | {load()}")
    return 1 if unequal else 0
