"""`scripts/bench jvm [--rounds N] [--batches B]`: what C1-only compilation (and the Serial collector)
saves a short-lived stack.

The test suite's JVMs live seconds to minutes, so tests/conftest.py makes them compile with C1 only
(`JAVA_TOOL_OPTIONS=-XX:TieredStopAtLevel=1`). This measures that choice the way a stack test uses
the JVMs: the whole stack (NameNode, DataNode, Kafka, the job, the producer at 200 events/s) in a
throwaway home, from `start` until the job has committed B batches with input, then `close`. Java's
default, C1 only, and C1 with the Serial collector run in turn for N rounds in this process (every
other round in reverse order, to bracket the machine's drift); each figure is the wall time to ready,
to B batches and to closed, and the CPU seconds of the services (their process trees, reaped by the
supervisor in this process: RUSAGE_CHILDREN). The ratios are each variant over the default, medians
of the rounds.

stdout carries the figures; the services' noise stays in their logs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.bench.measure import load
from ecomdesk.stack.door import build_supervisor
from ecomdesk.telemetry import BatchReport, parse
from ecomdesk.testing.sandbox import isolated_config

VARIANTS = {"default": None, "C1 only": "-XX:TieredStopAtLevel=1",
            "C1 + Serial GC": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
            # SparkConf reads spark.* system properties: Spark SQL's plans without whole-stage codegen
            "C1, no codegen": "-XX:TieredStopAtLevel=1 -Dspark.sql.codegen.wholeStage=false"}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(options: str | None, batches: int) -> dict[str, float]:
    """One start -> `batches` batches with input -> close, with JAVA_TOOL_OPTIONS = `options` (None: unset)."""
    saved = os.environ.pop("JAVA_TOOL_OPTIONS", None)
    if options:
        os.environ["JAVA_TOOL_OPTIONS"] = options
    try:
        with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-jvm-") as tmp:
            config = isolated_config(Path(tmp))
            config.producer = dataclasses.replace(config.producer, rate=200.0, flat=True)
            config.save()
            sup = build_supervisor(config)
            seen: list[float] = []

            def on_line(service: str, line: str) -> None:
                record = parse(line) if service == names.SPARK_JOB else None
                if isinstance(record, BatchReport) and record.input_rows > 0:
                    seen.append(time.monotonic())

            sup.subscribe_logs(on_line)
            cpu0, t0 = _children_cpu(), time.monotonic()
            try:
                sup.start()
                ready = time.monotonic() - t0
                while len(seen) < batches:
                    time.sleep(0.2)
                done = seen[batches - 1] - t0
            finally:
                sup.close()
            return {"ready s": ready, "batches s": done, "closed s": time.monotonic() - t0,
                    "service CPU s": _children_cpu() - cpu0}
    finally:
        os.environ.pop("JAVA_TOOL_OPTIONS", None)
        if saved is not None:
            os.environ["JAVA_TOOL_OPTIONS"] = saved


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench jvm", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of both variants, alternating (default 2)")
    ap.add_argument("--batches", type=int, default=6, help="batches with input to wait for (default 6)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS)[:3], metavar="NAME",
                    help=f"the variants, the first one the baseline (default: the first three of {list(VARIANTS)})")
    args = ap.parse_args(argv)
    variants = args.variants
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for n in range(args.rounds):
        order = variants if n % 2 == 0 else variants[::-1]  # brackets the machine's drift
        for variant in order:
            figures = one_run(VARIANTS[variant], args.batches)
            results[variant].append(figures)
            print(f"round {n + 1} {variant:14s} " + ", ".join(f"{k} {v:6.1f}" for k, v in figures.items())
                  + f"  ({load()})", flush=True)
    base = variants[0]
    keys = list(results[base][0])
    med = {v: {k: statistics.median(r[k] for r in rs) for k in keys} for v, rs in results.items()}
    for variant in variants[1:]:
        print(f"median {variant} / {base}: "
              + ", ".join(f"{k} {med[variant][k] / med[base][k]:.2f}" for k in keys))
    return 0
