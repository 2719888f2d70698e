"""Callbacks that other threads add and remove at any time (the log lines' and the events' subscribers)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

F = TypeVar("F", bound=Callable[..., None])


class Listeners(Generic[F]):
    def __init__(self, what: str):
        self.what = what  # named in the log when one of them fails
        self._lock = threading.Lock()
        self._items: list[F] = []

    def add(self, listener: F) -> Callable[[], None]:
        """Returns the function that removes it again."""
        with self._lock:
            self._items.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return remove

    def call(self, *args) -> None:
        """Each listener with `args`, in the order they were added; a broken one is logged and never stops
        the caller (the supervisor's thread) or the others."""
        with self._lock:
            items = list(self._items)
        for listener in items:
            self.call_one(listener, *args)

    def call_one(self, listener: F, *args) -> None:
        try:
            listener(*args)
        except Exception:
            logging.getLogger(__name__).exception("a %s listener failed", self.what)
