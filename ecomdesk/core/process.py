"""One service process: its own process group, its output line by line, and how to end it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path


class ServiceProcess:
    """A started command in a new session, so that signals reach its children too.

    stdout and stderr are merged and handed to `on_line` one decoded line at a time from a reader
    thread; stdin is a pipe only for services that take control commands.
    """

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path | None, with_stdin: bool,
                 on_line: Callable[[str], None], name: str):
        self.popen = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(on_line,), name=f"log-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send_line(self, line: str) -> None:
        if not self.alive() or not self.popen.stdin:
            raise RuntimeError("not running")
        self.popen.stdin.write((line.strip() + "\n").encode())
        self.popen.stdin.flush()

    def signal_group(self, sig: int) -> None:
        killpg(self.pid, sig)

    def end(self, timeout: float, on_escalate: Callable[[], None]) -> int:
        """SIGTERM the group (and SIGCONT it, so a stopped process sees the TERM), wait up to
        `timeout`, then SIGKILL the group, which also takes children left behind."""
        killpg(self.pid, signal.SIGTERM)
        killpg(self.pid, signal.SIGCONT)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            on_escalate()
        killpg(self.pid, signal.SIGKILL)
        self.popen.wait()
        self.drain(2.0)
        return self.popen.returncode

    def drain(self, timeout: float) -> None:
        """Wait (briefly) until the reader thread has handed over the last lines."""
        self._reader.join(timeout)

    def _read(self, on_line: Callable[[str], None]) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))


def killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
