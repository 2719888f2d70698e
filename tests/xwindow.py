"""A real X server for the tests that open the app's window as a user would, and a window finder."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

XDOTOOL, XPROP = shutil.which("xdotool") or "xdotool", shutil.which("xprop") or "xprop"


@contextlib.contextmanager
def xvfb(screen: str = "1600x1000") -> Iterator[str]:
    """An Xvfb on a display it picks itself (-displayfd: no race with another test's server starting
    at the same moment) with a `screen` of WIDTHxHEIGHT; yields its DISPLAY value."""
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{screen}x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write,))
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            ready, _, _ = select.select([pipe], [], [], 30)
            number = pipe.readline().strip() if ready else ""
        assert number.isdigit(), f"Xvfb did not start (exit code {server.poll()})"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(30)


def wait_for_window(display: str, app: subprocess.Popen, log: Path, timeout: float = 120) -> tuple[str, float]:
    """The id of the app's visible ecomdesk window and how long after now it appeared."""
    t0 = time.monotonic()
    env = {"DISPLAY": display}
    while True:
        assert app.poll() is None, f"the app exited with {app.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() - t0 < timeout, f"no ecomdesk window after {timeout} s"
        found = subprocess.run([XDOTOOL, "search", "--onlyvisible", "--name", "ecomdesk"], env=env,
                               capture_output=True, text=True).stdout.split()
        if found:
            return found[0], time.monotonic() - t0
        time.sleep(0.1)


def wm_class(display: str, window: str) -> str:
    return subprocess.run([XPROP, "-id", window, "WM_CLASS"], env={"DISPLAY": display}, capture_output=True,
                          text=True).stdout
