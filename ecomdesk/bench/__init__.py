"""Benchmarks: `scripts/bench NAME [ARGS]` runs `ecomdesk.bench.NAME.main(ARGS)`."""
