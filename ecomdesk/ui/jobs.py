"""Runs blocking work (supervisor commands, HDFS/Kafka reads) off the UI thread.

Results and errors come back through a Qt signal, so callbacks always run on the UI thread.
An error without its own handler goes to the default handler: nothing fails silently.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

T = TypeVar("T")


class _Courier(QObject):
    """Carries finished jobs to the UI thread. One per process and never destroyed, so that a worker
    holds no reference to any Qt object (not even the Jobs that started it): dropping the last one
    there would run its C++ destructor, or shiboken's bookkeeping, on the wrong thread."""

    arrived = Signal(object)


_courier: _Courier | None = None


class Jobs(QObject):
    def __init__(self, name: str, on_error: Callable[[BaseException], None], threads: int = 1, parent=None):
        global _courier
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        # weakly: the window owns its Jobs, and a bound method of it here would make a cycle
        self._on_error = weakref.WeakMethod(on_error) if inspect.ismethod(on_error) else (lambda: on_error)
        self._closed = False
        if _courier is None:  # on the UI thread, like every Jobs
            _courier = _Courier()
            _courier.arrived.connect(_deliver)

    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future:
        """Run `fn` on a worker; `on_done(result)` or `on_error(exc)` then runs on the UI thread.

        The worker hands the whole job (its callables, which hold widgets, and the outcome) back to
        the UI thread instead of dropping it there: the last reference to a Qt object must never go
        away on a worker thread."""
        return self._pool.submit(_run, [weakref.ref(self), fn, on_done, on_error])

    def shutdown(self, wait: bool = False) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _run(job: list) -> None:
    try:
        job.append((job[1](), None))
    except Exception as exc:  # every failure is delivered to a handler on the UI thread
        job.append((None, exc))
    assert _courier is not None  # made by the first Jobs, before any job is submitted
    _courier.arrived.emit(job)


def _deliver(job: list) -> None:
    ref, _, on_done, on_error, (result, exc) = job
    job.clear()
    jobs = ref()
    if jobs is None or jobs._closed or not shiboken6.isValid(jobs):
        return  # the window closed (or went away) while the job ran
    if exc is None:
        if on_done is not None:
            on_done(result)
    else:
        handler = on_error or jobs._on_error()
        if handler is not None:
            handler(exc)
