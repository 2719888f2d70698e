"""`scripts/bench stack`: warm setup time, `stack up` time to all-ready, and RSS per service.

Runs the storage services (NameNode, DataNode, Kafka) in a throwaway home on free ports, cold
(first start: formats storage) and warm (restart on the same data), then samples RSS after a pause.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.stack.door import build_supervisor
from ecomdesk.stack.install import setup
from ecomdesk.testing.sandbox import isolated_config

STORAGE = list(names.STORAGE)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench stack")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds to wait before sampling RSS")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    setup.run(say=lambda _msg: None)
    print(f"warm `ecomdesk setup`: {time.monotonic() - t0:.2f} s")

    with tempfile.TemporaryDirectory(prefix="ecomdesk-bench-") as tmp:
        config = isolated_config(Path(tmp))
        sup = build_supervisor(config)
        try:
            for label in ("first start (formats storage)", "restart on existing data"):
                t0 = time.monotonic()
                sup.start(STORAGE)
                print(f"stack up, {label}: {time.monotonic() - t0:.1f} s to all ready")
                if label.startswith("first"):
                    sup.stop()
            time.sleep(args.settle)
            for s in sup.snapshot():
                if s.name in STORAGE:
                    assert s.rss is not None  # sampled: the service is up
                    print(f"  {s.name:14s} RSS {s.rss / 2**20:6.0f} MiB  CPU {s.cpu_percent:5.1f} %  (idle, "
                          f"{args.settle:.0f} s after ready)")
        finally:
            sup.close()
    return 0
