"""Benchmarks: `scripts/bench NAME [ARGS]` runs `ecomdesk.bench.NAME.main(ARGS)`."""

# Modules of this package that are shared code, not benchmarks.
HELPERS = ("reference", "truth")
