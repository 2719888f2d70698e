"""Chart refresh cost: 7 days of per-minute aggregates read + shaped through the data contract
with pyarrow, against the original's way (an already started SparkSession reading the same Parquet).

    python -m ecomdesk.bench charts [--days 7] [--products 20] [--runs 40] [--spark-runs 15] [--local]

Reports (a) a cold full read (a new reader each time) and (b) the steady refresh the GUI repeats:
before each timed refresh a new version is published by the job's own writer as after a micro-batch
(today's per-minute files and the small whole-table aggregates rewritten, versions older than the
last five deleted in the background), and the kept reader fetches only what changed. Both are compared with a warm
SparkSession reading the current version's files. The targets are judged on (b).

Uses the configured HDFS when its NameNode answers (unless --local), a temp dir on local disk
otherwise, and says which.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import uuid
import warnings
from math import nan

import pandas as pd
import pyarrow.fs as pafs

from ecomdesk.bench.measure import load, percentiles
from ecomdesk.data import chart_views, contract
from ecomdesk.data.time_range import BY_KEY, DEFAULT, ChartView
from ecomdesk.testing.contract_data import publish, publish_next, sample_frames, whole


def refresh(reader: contract.CurrentReader, shaper: chart_views.ChartShaper, top_n: int = 10) -> dict:
    """What one chart refresh of the GUI does (`DataReader.business`): read the current aggregates
    file by file, shape them for the charts."""
    return shaper.shape(reader.read_parts(), top_n).views


def spark_refresh(spark, uri_base: str, manifest: dict, top_n: int = 10) -> dict:
    """The original's way: the same files read by a warm SparkSession and collected to pandas."""
    frames = {name: spark.read.parquet(*[f"{uri_base}/{f}" for f in files]).toPandas()
              for name, files in manifest["aggregates"].items()}
    return chart_views.business(frames, top_n).views


def _hdfs_target():
    """(filesystem, uri prefix of '/') of the configured HDFS if its NameNode answers, else None."""
    from ecomdesk import config as config_mod

    cfg = config_mod.load()
    host, port = cfg.namenode_address
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return None
    from ecomdesk.data.hdfs import hadoop_filesystem, hdfs_uri

    return hadoop_filesystem(cfg), hdfs_uri(cfg)


class _Publisher:
    """Commits a new version between timed refreshes, as the job does after each micro-batch."""

    def __init__(self, fs: pafs.FileSystem, base: str, frames: dict[str, pd.DataFrame]):
        self.version = publish(fs, base, frames)

    @property
    def manifest(self) -> dict:
        return self.version.manifest

    def next(self) -> None:
        self.version = publish_next(self.version)

    def check(self, views: dict) -> None:
        got = views["sales_per_minute"]["total_orders"].sum()
        want = whole(self.version.snap, "sales_per_minute")["total_orders"].sum()
        assert got == want, f"refresh read {got} orders, the current version holds {want}"


def _phase(runs: int, before, timed, check) -> tuple[list[float], str]:
    """`runs` timings of `timed()` (ms) between an untimed `before()` and `check(result)`; with the
    load average (1/5/15 min) at the start and the end."""
    load_before = load()
    out = []
    for _ in range(runs):
        before()
        t0 = time.perf_counter()
        result = timed()
        out.append((time.perf_counter() - t0) * 1000)
        check(result)
    return out, f"{load_before} -> {load()}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ecomdesk.bench charts", description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--runs", type=int, default=40, help="timed pyarrow refreshes per mode")
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
    rows = {k: len(v) for k, v in frames.items()}
    print(f"storage: {where}")
    print(f"data: {args.days} days per minute, {args.products} products; rows: {rows}")
    pub = None
    try:
        pub = _Publisher(fs, base, frames)
        print(f"files per version: {sum(len(f) for f in pub.manifest['aggregates'].values())}")
        def cold():
            with contract.CurrentReader(fs, base) as reader:
                return refresh(reader, chart_views.ChartShaper())

        for _ in range(3):
            pub.check(cold())
        cold_ms, cold_load = _phase(args.runs, lambda: None, cold, pub.check)

        def steady_phase(view: ChartView | None):
            """(b) every minute, as before the time range existed; (c) the GUI's default range."""
            reader, shaper = contract.CurrentReader(fs, base), chart_views.ChartShaper()
            pub.check(refresh(reader, shaper))
            shape_ms: list[float] = []

            def steady():
                parts = reader.read_parts()
                t0 = time.perf_counter()
                views = shaper.shape(parts, 10, view=view).views
                shape_ms.append((time.perf_counter() - t0) * 1000)
                return views

            for _ in range(3):
                pub.next()
                steady()
            shape_ms.clear()
            fetched = reader.files_read
            ms, load = _phase(args.runs, pub.next, steady, pub.check if view is None else lambda _: None)
            per_refresh = (reader.files_read - fetched) / args.runs
            reader.close()
            return ms, load, shape_ms, per_refresh

        steady_ms, steady_load, shape_ms, per_refresh = steady_phase(None)
        ranged_ms, ranged_load, ranged_shape_ms, _ = steady_phase(ChartView(DEFAULT, None, 1200))

        # pyspark may warn about the pandas version on every toPandas(); the figures are what this prints
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

            def spark_read():
                return spark_refresh(spark, uri_base, pub.manifest)

            for _ in range(3):
                pub.next()
                pub.check(spark_read())
            spark_ms, spark_load = _phase(args.spark_runs, pub.next, spark_read, pub.check)
        finally:
            spark.stop()
    finally:
        if pub is not None:
            pub.version.close()
        if target:
            fs.delete_dir(base)
        tmp.cleanup()

    c50, c95 = percentiles(cold_ms) or (nan, nan)
    r50, r95 = percentiles(steady_ms) or (nan, nan)
    h50, h95 = percentiles(shape_ms) or (nan, nan)
    s50, s95 = percentiles(spark_ms) or (nan, nan)
    print(f"(a) cold full read + shape, new reader each time ({args.runs} runs): "
          f"p50 {c50:.1f} ms  p95 {c95:.1f} ms  [{cold_load}]")
    print(f"(b) steady GUI refresh: a new version before each (today's per-minute files and the whole-table "
          f"aggregates rewritten), one reader kept, read + shape ({args.runs} runs, {per_refresh:.1f} files "
          f"fetched per refresh): p50 {r50:.1f} ms  p95 {r95:.1f} ms, of which shaping p50 {h50:.1f} ms  "
          f"p95 {h95:.1f} ms  [{steady_load}]")
    g50, g95 = percentiles(ranged_ms) or (nan, nan)
    q50, q95 = percentiles(ranged_shape_ms) or (nan, nan)
    print(f"(c) the same refresh as the GUI draws it by default (range: {BY_KEY[DEFAULT].label.lower()}, rolled up "
          f"to 1200 points at most): p50 {g50:.1f} ms  p95 {g95:.1f} ms, of which shaping p50 {q50:.1f} ms  "
          f"p95 {q95:.1f} ms  [{ranged_load}]; ratio (c)/(b) p50 {g50 / r50:.2f}x  p95 {g95 / r95:.2f}x")
    print(f"warm SparkSession (started in {startup:.1f} s) reading the current version's files + shape, "
          f"a new version before each ({args.spark_runs} runs): p50 {s50:.1f} ms  p95 {s95:.1f} ms  [{spark_load}]")
    print(f"ratio Spark / steady refresh: p50 {s50 / r50:.1f}x  p95 {s95 / r95:.1f}x")
    print(f"ratio Spark / cold read:      p50 {s50 / c50:.1f}x  p95 {s95 / c95:.1f}x")
    print(
        "targets, judged on (b), the refresh the GUI repeats every ui.refresh_seconds (2 s): "
        f"p95 < 50 ms: {'met' if r95 < 50 else 'NOT met'} ({r95:.1f} ms); "
        f">= 50x faster than warm Spark: {'met' if s50 / r50 >= 50 else 'NOT met'} at p50 ({s50 / r50:.1f}x), "
        f"{'met' if s95 / r95 >= 50 else 'NOT met'} at p95 ({s95 / r95:.1f}x)"
    )
    return 0
