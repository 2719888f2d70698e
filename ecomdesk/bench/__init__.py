"""Benchmarks: `ecomdesk bench NAME [ARGS]` (or `scripts/bench NAME`) runs `ecomdesk.bench.NAME.main(ARGS)`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

# Modules of this package that are shared code, not benchmarks.
HELPERS = ("measure", "reference", "truth", "spark_figures", "spark_run")


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in HELPERS)


def run(argv: list[str]) -> int:
    """Dispatch `NAME [ARGS...]` to the benchmark module NAME."""
    known = names()
    if not argv or argv[0] not in known:
        print(f"usage: ecomdesk bench {{{','.join(known)}}} [ARGS...]", file=sys.stderr)
        return 2
    return importlib.import_module(f"{__name__}.{argv[0]}").main(argv[1:]) or 0
