"""`ecomdesk query NAME [--format csv|json]`: the current value of an aggregate, read through the
data contract, for scripts and for checking what the charts show.

stdout carries the data and nothing else: the HDFS client is a JVM inside this process (libhdfs)
that shares its file descriptors, so while the command runs, fd 1 points at stderr and the data is
written to a copy of the original stdout (`data_stdout`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import json
import os
import sys
from collections.abc import Iterator
from typing import NoReturn, TextIO

import pandas as pd

from ecomdesk.config import Config
from ecomdesk.data import contract

QUARANTINE = "quarantine"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("query", help="print the current value of an aggregate (or quarantine counts)")
    p.add_argument("name", choices=[*contract.AGGREGATES, QUARANTINE])
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--top", type=int, help="top_products only: keep the N most viewed (default: config)")
    p.set_defaults(func=run)


def read(fs, name: str, config: Config, top: int | None = None):
    base = config.hdfs.base_path
    if name == QUARANTINE:
        return contract.quarantine_counts(fs, base)
    if name == "top_products":
        return contract.top_products(fs, top or config.spark.top_n, base)
    return contract.read_current(fs, name, base)


@contextlib.contextmanager
def data_stdout() -> Iterator[TextIO]:
    """A text stream on the process's stdout for data, while everything else that writes to fd 1
    (the embedded JVM, other native libraries, stray prints) goes to stderr instead.

    fd 1 is pointed at stderr until the block ends; the yielded stream writes to a duplicate of the
    original stdout. On exit, what C code left buffered for stdout is flushed (to stderr) first.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    out = io.TextIOWrapper(io.FileIO(saved, "w", closefd=False), encoding=sys.stdout.encoding or "utf-8",
                           errors="replace", newline="")
    try:
        yield out
    finally:
        try:
            out.flush()
        finally:
            sys.stdout.flush()
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_stdio() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


def to_json(df: pd.DataFrame) -> str:
    """Records as JSON; floats written exactly (shortest round-trip form), missing values as null."""
    # pandas-stubs leave None out of `other`, which pandas takes (and keeps, in an object frame)
    records = df.astype(object).where(df.notna(), None).to_dict(orient="records")  # type: ignore[call-overload]
    return json.dumps(records, allow_nan=False, separators=(",", ":"))


def run(args: argparse.Namespace, config: Config) -> int:
    from ecomdesk.data.hdfs import check_namenode, hadoop_filesystem

    with data_stdout() as out:
        try:
            check_namenode(config.namenode_addresses)
            df = read(hadoop_filesystem(config), args.name, config, args.top)
        except (OSError, contract.ContractError) as exc:
            print(f"query {args.name}: {exc}", file=sys.stderr)
            return 1
        for c in df.columns:
            if str(df[c].dtype).startswith("datetime64"):
                df[c] = df[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        if args.format == "json":
            out.write(to_json(df) + "\n")
        else:
            df.to_csv(out, index=False, lineterminator="\n")
    _end_now()


def _end_now() -> NoReturn:
    """End the process once the data is out, without the interpreter's native teardown: a pyarrow reader
    thread still alive then aborts the process now and then (SIGABRT, "terminate called without an active
    exception", apache/arrow#34314; one `ecomdesk query` in some 700 of the suite's did), after a complete
    answer. Everything written has been flushed (data_stdout), and the command holds nothing else."""
    sys.stderr.flush()
    os._exit(0)
