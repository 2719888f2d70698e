"""`ecomdesk query NAME [--format csv|json]`: the current value of an aggregate, read through the
data contract, for scripts and for checking what the charts show."""

from __future__ import annotations

import argparse
import sys

from ecomdesk import contract
from ecomdesk.config import Config

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


def run(args: argparse.Namespace, config: Config) -> int:
    from ecomdesk.hdfs import hadoop_filesystem

    try:
        df = read(hadoop_filesystem(config), args.name, config, args.top)
    except (OSError, contract.ContractError) as exc:
        print(f"query {args.name}: {exc}", file=sys.stderr)
        return 1
    for c in df.columns:
        if str(df[c].dtype).startswith("datetime64"):
            df[c] = df[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.format == "json":
        sys.stdout.write(df.to_json(orient="records") + "\n")
    else:
        df.to_csv(sys.stdout, index=False)
    return 0
