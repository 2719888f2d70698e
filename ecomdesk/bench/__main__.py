"""`python -m ecomdesk.bench NAME [ARGS...]`, the same as `ecomdesk bench NAME [ARGS...]`."""

import sys

from ecomdesk.bench import run

raise SystemExit(run(sys.argv[1:]))
