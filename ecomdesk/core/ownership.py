"""One owner per home: an exclusive lock on run/owner.lock, and a reaper that outlives the owner.

The reaper (ecomdesk.core.reaper) is told which process groups the owner runs; whatever way the
owner dies, the kernel closes the reaper's stdin and it stops those groups.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

from ecomdesk.core.spec import StartError
from ecomdesk.core.status import read_state


class OwnedElsewhere(StartError):
    """Another live ecomdesk process already manages the stack of this home."""


class Ownership:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self._fd: int | None = None
        self._reaper: subprocess.Popen | None = None
        self._tell_lock = threading.Lock()  # services start side by side: one line at a time to the reaper

    @property
    def held(self) -> bool:
        return self._fd is not None

    def take(self) -> None:
        """Lock the home for this process (idempotent) and start the reaper."""
        if self._fd is not None:
            return
        fd = os.open(self.run_dir / "owner.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = read_state(self.run_dir).get("owner")
            raise OwnedElsewhere(
                f"another ecomdesk process (pid {owner}) already runs the stack of this home; "
                "stop it with `ecomdesk stack down`"
            ) from None
        self._fd = fd
        self._reaper = subprocess.Popen([sys.executable, "-m", "ecomdesk.core.reaper"], stdin=subprocess.PIPE,
                                        start_new_session=True)

    def track(self, pgid: int) -> None:
        self._tell("add", pgid)

    def untrack(self, pgid: int) -> None:
        self._tell("del", pgid)

    def _tell(self, verb: str, pgid: int) -> None:
        with self._tell_lock:
            if self._reaper and self._reaper.stdin:
                self._reaper.stdin.write(f"{verb} {pgid}\n".encode())
                self._reaper.stdin.flush()

    def release(self) -> None:
        if self._reaper and self._reaper.stdin:
            self._reaper.stdin.close()
            self._reaper.wait(timeout=15)
            self._reaper = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def owner_alive(run_dir: Path) -> int | None:
    """Pid of the live process that owns the stack of this home, if any."""
    if not run_dir.exists():
        return None
    fd = os.open(run_dir / "owner.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return read_state(run_dir).get("owner") or -1
    finally:
        os.close(fd)
