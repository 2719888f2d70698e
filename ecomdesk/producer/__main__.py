"""`python -m ecomdesk.producer [flags]`: the managed service's entry; telemetry as JSON lines."""

import argparse
import sys

from ecomdesk import config
from ecomdesk.producer.cli import add_arguments, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecomdesk.producer", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.json = True
    try:
        cfg = config.load()
    except config.ConfigError as exc:
        print(f"producer: {exc}", file=sys.stderr)
        return 2
    return run(args, cfg)


raise SystemExit(main(sys.argv[1:]))
