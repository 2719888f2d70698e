"""Dispatch `python -m ecomdesk.bench NAME [ARGS...]` to the module ecomdesk.bench.NAME."""

import importlib
import pkgutil
import sys

import ecomdesk.bench as bench


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                   if not m.name.startswith("_") and m.name not in bench.HELPERS)
    if not argv or argv[0] not in names:
        print(f"usage: scripts/bench {{{','.join(names)}}} [ARGS...]", file=sys.stderr)
        return 2
    return importlib.import_module(f"ecomdesk.bench.{argv[0]}").main(argv[1:]) or 0


raise SystemExit(main(sys.argv[1:]))
