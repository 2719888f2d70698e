"""Where service output goes: a rotating file per service, the last lines, and live subscribers."""

from __future__ import annotations

import logging
import logging.handlers
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ecomdesk.core.listeners import Listeners

LogListener = Callable[[str, str], None]
LAST_LINES = 40
ROTATE_BYTES = 10 * 1024 * 1024


class ServiceLogs:
    def __init__(self, log_dir: Path, names: list[str]):
        log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._listeners: Listeners[LogListener] = Listeners("log line")
        self._files = {n: log_dir / f"{n}.log" for n in names}
        self._lines: dict[str, deque[str]] = {n: deque(maxlen=LAST_LINES) for n in names}
        self._handlers = {n: _rotating(path) for n, path in self._files.items()}

    def path(self, name: str) -> Path:
        return self._files[name]

    def subscribe(self, listener: LogListener) -> Callable[[], None]:
        """Call `listener(service, line)` for every line; returns an unsubscribe function."""
        return self._listeners.add(listener)

    def write(self, name: str, line: str) -> None:
        with self._lock:
            self._lines[name].append(line)
        self._handlers[name].handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        self._listeners.call(name, line)

    def last_lines(self, name: str) -> list[str]:
        with self._lock:
            return list(self._lines[name])

    def clear(self, name: str) -> None:
        with self._lock:
            self._lines[name].clear()

    def close(self) -> None:
        for handler in self._handlers.values():
            handler.close()


def _rotating(path: Path) -> logging.Handler:
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=ROTATE_BYTES, backupCount=3,
                                                   encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler
