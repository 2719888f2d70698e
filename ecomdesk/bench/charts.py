"""Chart refresh cost: 7 days of per-minute aggregates read + shaped through the data contract
with pyarrow, against the original's way (an already started SparkSession reading the same Parquet).

    python -m ecomdesk.bench charts [--days 7] [--products 20] [--runs 40] [--local]

Uses the configured HDFS when its NameNode answers (unless --local), a temp dir on local disk
otherwise, and says which.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
import uuid
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ecomdesk import contract
from ecomdesk.ui import chart_data

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
    carts = rng.poisson(80, len(minutes))
    purchases = np.minimum(carts, orders)
    converted = (purchases * 0.8).astype(int)
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
        "conversion_funnel": pd.DataFrame(
            {
                "window_start": minutes,
                "window_end": ends,
                "carts": carts,
                "purchases": purchases,
                "converted": converted,
                "rate": np.where(carts > 0, converted / np.maximum(carts, 1), 0.0),
            }
        ),
        "conversion_overall": pd.DataFrame(
            {
                "carts": [int(carts.sum())],
                "purchases": [int(purchases.sum())],
                "converted": [int(converted.sum())],
                "rate": [float(converted.sum() / carts.sum())],
            }
        ),
        contract.QUARANTINE_COUNTS: pd.DataFrame({"reason": ["malformed_json", "negative_price"], "count": [12, 3]}),
    }


WINDOWED = ("sales_per_minute", "sales_by_product_per_minute", "conversion_funnel")


def _day_parts(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    days = pd.to_datetime(df["window_start"]).dt.strftime("%Y-%m-%d")
    return {str(day): part for day, part in df.groupby(days)}


def _write_file(fs: pafs.FileSystem, base: str, name: str, part: pd.DataFrame, batch_id: int, day: str | None) -> str:
    folder = f"{contract.AGGREGATES_DIR}/{name}" + (f"/day={day}" if day else "")
    rel = f"{folder}/v{batch_id}-{uuid.uuid4().hex[:8]}.parquet"
    fs.create_dir(contract.join(base, folder))
    schema = contract.AGGREGATE_SCHEMAS.get(name, contract.QUARANTINE_COUNTS_SCHEMA)
    pq.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False), contract.join(base, rel),
                   filesystem=fs)
    return rel


def _write_manifest(fs: pafs.FileSystem, base: str, manifest: dict) -> None:
    fs.create_dir(contract.join(base, contract.MANIFESTS_DIR))
    final = contract.join(base, contract.MANIFESTS_DIR, contract.manifest_name(manifest["batch_id"]))
    with fs.open_output_stream(final + ".tmp") as f:
        f.write(json.dumps(manifest).encode())
    fs.move(final + ".tmp", final)


def write_version(fs: pafs.FileSystem, base: str, frames: dict[str, pd.DataFrame], batch_id: int) -> dict:
    """Commit `frames` as one contract version: per-day files for windowed aggregates, then the manifest."""
    return publish_update(fs, base, None, frames, batch_id)


def publish_update(
    fs: pafs.FileSystem, base: str, previous: dict | None, frames: dict[str, pd.DataFrame], batch_id: int,
    days: set[str] | None = None,
) -> dict:
    """Commit `frames` as version `batch_id` the way the job does after a micro-batch.

    The whole-table aggregates get new files; a windowed aggregate gets a new file only for the
    UTC days in `days` (all days without a previous version) and keeps the previous version's file
    for the others, so `frames` must hold the previous rows there. Files the new manifest no
    longer lists are deleted once it is published.
    """
    kept = {}
    if previous:
        for name, files in previous["aggregates"].items():
            kept[name] = {f.rsplit("/", 2)[-2].removeprefix("day="): f for f in files if "/day=" in f}
    manifest = {"format": contract.FORMAT_VERSION, "batch_id": batch_id, "aggregates": {}}
    for name, df in frames.items():
        if name in WINDOWED:
            files = [
                kept[name][day] if previous and day not in (days or set()) and day in kept.get(name, {})
                else _write_file(fs, base, name, part, batch_id, day)
                for day, part in _day_parts(df).items()
            ]
        else:
            files = [_write_file(fs, base, name, df, batch_id, None)]
        manifest["aggregates"][name] = files
    _write_manifest(fs, base, manifest)
    if previous:
        listed = {f for files in manifest["aggregates"].values() for f in files}
        for files in previous["aggregates"].values():
            for f in set(files) - listed:
                fs.delete_file(contract.join(base, f))
    return manifest


def next_batch(frames: dict[str, pd.DataFrame], step: int) -> tuple[dict[str, pd.DataFrame], str]:
    """The aggregates after one more micro-batch: today's (the last day's) minutes and the
    whole-table aggregates change, older days do not. Returns the new frames and today's day."""
    today = pd.to_datetime(frames["sales_per_minute"]["window_start"]).max().strftime("%Y-%m-%d")
    out = {}
    for name, df in frames.items():
        df = df.copy()
        rows = (pd.to_datetime(df["window_start"]).dt.strftime("%Y-%m-%d") == today) if name in WINDOWED else None
        for col in df.columns:
            if pd.api.types.is_numeric_dtype(df[col]) and col != "rate":
                if rows is None:
                    df[col] = df[col] + step
                else:
                    df.loc[rows, col] = df.loc[rows, col] + step
        out[name] = df
    return out, today


def refresh(fs: pafs.FileSystem, base: str, top_n: int = 10) -> dict:
    """What one chart refresh of the GUI does: read every current aggregate, shape it for the charts."""
    frames = contract.read_all_current(fs, base)
    frames["quarantine"] = frames.pop(contract.QUARANTINE_COUNTS)
    return chart_data.business_views(frames, top_n)


def spark_refresh(spark, uri_base: str, manifest: dict, top_n: int = 10) -> dict:
    """The original's way: the same files read by a warm SparkSession and collected to pandas."""
    frames = {}
    for name, files in manifest["aggregates"].items():
        key = "quarantine" if name == contract.QUARANTINE_COUNTS else name
        frames[key] = spark.read.parquet(*[f"{uri_base}/{f}" for f in files]).toPandas()
    return chart_data.business_views(frames, top_n)


def _timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _pct(ms: list[float], q: float) -> float:
    return float(np.percentile(ms, q))


def _hdfs_target():
    """(filesystem, uri prefix of '/') of the configured HDFS if its NameNode answers, else None."""
    from ecomdesk import config as config_mod

    cfg = config_mod.load()
    host, port = cfg.namenode_address
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return None
    from ecomdesk.hdfs import hadoop_filesystem, hdfs_uri

    return hadoop_filesystem(cfg), hdfs_uri(cfg)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ecomdesk.bench charts", description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--runs", type=int, default=40, help="timed refreshes with pyarrow")
    ap.add_argument("--spark-runs", type=int, default=15, help="timed refreshes with Spark")
    ap.add_argument("--local", action="store_true", help="use local disk even when HDFS answers")
    args = ap.parse_args(argv)

    target = None if args.local else _hdfs_target()
    tmp = tempfile.TemporaryDirectory(prefix="ecomdesk-bench-charts-")
    if target:
        fs, uri_root = target
        base = f"/ecomdesk-bench/charts-{uuid.uuid4().hex[:8]}"
        where = f"HDFS ({uri_root}), pyarrow HadoopFileSystem"
    else:
        fs, uri_root = pafs.LocalFileSystem(), "file://"
        base = tmp.name + "/ecommerce"
        where = "local disk (HDFS not reachable or --local), pyarrow LocalFileSystem"
    frames = sample_frames(args.days, args.products)
    manifest = write_version(fs, base, frames, batch_id=1)
    rows = {k: len(v) for k, v in frames.items()}
    print(f"storage: {where}")
    print(f"data: {args.days} days per minute, {args.products} products; rows: {rows}")
    try:
        check = refresh(fs, base)
        assert len(check["sales_per_minute"]) == args.days * 1440, "refresh read a wrong number of minutes"
        for _ in range(3):
            refresh(fs, base)
        arrow_ms = _timed(lambda: refresh(fs, base), args.runs)

        # pyspark warns about pandas 3 on every toPandas(); the figures are what this prints
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("ecomdesk-bench-charts")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        startup = time.perf_counter() - t0
        try:
            uri_base = f"{uri_root}{base}"
            spark_check = spark_refresh(spark, uri_base, manifest)
            assert len(spark_check["sales_per_minute"]) == len(check["sales_per_minute"])
            for _ in range(3):
                spark_refresh(spark, uri_base, manifest)
            spark_ms = _timed(lambda: spark_refresh(spark, uri_base, manifest), args.spark_runs)
        finally:
            spark.stop()
    finally:
        if target:
            fs.delete_dir(base)
        tmp.cleanup()

    a50, a95 = _pct(arrow_ms, 50), _pct(arrow_ms, 95)
    s50, s95 = _pct(spark_ms, 50), _pct(spark_ms, 95)
    print(
        f"pyarrow refresh (read + compute, {args.runs} runs): p50 {a50:.1f} ms  p95 {a95:.1f} ms  "
        f"mean {statistics.mean(arrow_ms):.1f} ms"
    )
    print(f"warm SparkSession (started in {startup:.1f} s; {args.spark_runs} runs): p50 {s50:.1f} ms  p95 {s95:.1f} ms")
    print(f"ratio Spark/pyarrow: p50 {s50 / a50:.1f}x  p95 {s95 / a95:.1f}x")
    print(
        f"target p95 < 50 ms: {'met' if a95 < 50 else 'NOT met'}; "
        f">= 50x faster (p50): {'met' if s50 / a50 >= 50 else 'NOT met'}"
    )
    return 0
