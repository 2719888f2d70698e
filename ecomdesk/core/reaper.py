"""Kills the services of an ecomdesk process that died without stopping them.

The supervisor starts one reaper and keeps the write end of a pipe to its stdin; it writes
`add <pgid>` / `del <pgid>` as services start and stop. Whatever way the owner dies, even
SIGKILL, the kernel closes that pipe; the reaper then sends SIGTERM to every registered
process group, and SIGKILL to what is left after the grace period, well inside 10 s.
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_SECONDS = 6.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pgids: set[int], sig: int) -> None:
    for pgid in pgids:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pgids: set[int] = set()
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "add" and arg.isdigit():
            pgids.add(int(arg))
        elif verb == "del" and arg.isdigit():
            pgids.discard(int(arg))
    pgids = {p for p in pgids if _alive(p)}
    if not pgids:
        return 0
    _signal(pgids, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(_alive(p) for p in pgids):
        time.sleep(0.1)
    _signal({p for p in pgids if _alive(p)}, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
