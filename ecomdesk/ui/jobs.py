"""Runs blocking work (supervisor commands, HDFS/Kafka reads) off the UI thread.

Results and errors come back through a Qt signal, so callbacks always run on the UI thread.
An error without its own handler goes to the default handler: nothing fails silently.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal


class Jobs(QObject):
    _finished = Signal(object, object)  # callback, result-or-exception

    def __init__(self, name: str, on_error: Callable[[BaseException], None], threads: int = 1, parent=None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._on_error = on_error
        self._finished.connect(self._deliver)
        self._closed = False

    def submit(
        self,
        fn: Callable[[], object],
        on_done: Callable[[object], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future:
        def run():
            try:
                result = fn()
            except Exception as exc:  # every failure is delivered to a handler on the UI thread
                self._emit(on_error or self._on_error, exc)
                return None
            if on_done is not None:
                self._emit(on_done, result)
            return result

        return self._pool.submit(run)

    def _emit(self, callback, value) -> None:
        if not self._closed:
            try:
                self._finished.emit(callback, value)
            except RuntimeError:  # the window went away while the job ran
                pass

    @staticmethod
    def _deliver(callback, value) -> None:
        callback(value)

    def shutdown(self, wait: bool = False) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
