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


def _displays() -> range:
    """This test worker's own display numbers. With -displayfd alone both workers' servers took the lowest
    free number, and one's app once found no server on :0 (fresh clone 19: "could not connect to display
    :0") while the other worker's server on the same number came and went."""
    slot = int(os.environ.get("ECOMDESK_PORT_SLICE", "0/1").partition("/")[0])
    return range(100 + 50 * slot, 150 + 50 * slot)


@contextlib.contextmanager
def xvfb(screen: str = "1600x1000") -> Iterator[str]:
    """An Xvfb on the first free display of this worker's own (see _displays) with a `screen` of
    WIDTHxHEIGHT, once it accepts connections; yields its DISPLAY value."""
    for number in _displays():
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        read, write = os.pipe()  # -displayfd: the server writes its number there once it accepts connections
        server = subprocess.Popen(["Xvfb", f":{number}", "-displayfd", str(write), "-screen", "0", f"{screen}x24",
                                   "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  pass_fds=(write,))
        os.close(write)
        with os.fdopen(read) as pipe:
            ready, _, _ = select.select([pipe], [], [], 30)
            said = pipe.readline().strip() if ready else ""
        if said != str(number):  # taken meanwhile (it exits), or not up in 30 s
            server.kill()
            server.wait(30)
            continue
        try:
            yield f":{number}"
        finally:
            server.terminate()
            server.wait(30)
        return
    raise AssertionError(f"no free X display among {_displays()}")


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
