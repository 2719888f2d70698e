"""The window's reads of HDFS, Kafka and the clusters' health, on reader threads.

One read of each kind at a time (a read still running is not started twice), and what a failure
means: an unreachable source whose service is stopped is the stack's state (the charts' empty state
says so), otherwise an alarm in the banner (`stack_state`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from ecomdesk.data.readers import Unreachable
from ecomdesk.ui import stack_state
from ecomdesk.ui.banner import Banner
from ecomdesk.ui.jobs import Jobs


class Reads(QObject):
    def __init__(self, snapshot: Callable[[], list], banner: Banner, on_error: Callable[[BaseException], None],
                 parent: QObject):
        super().__init__(parent)
        self.snapshot, self.banner = snapshot, banner
        self.jobs = Jobs("ecomdesk-read", on_error, threads=3, parent=self)
        self.in_flight: set[str] = set()
        self.closed = False

    def read(self, key: str, fn, on_done, on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run `fn` on a reader thread unless the read of the same `key` still runs; then `on_done(result)`
        or `on_error(exc)` on the GUI thread."""
        if key in self.in_flight or self.closed:
            return
        self.in_flight.add(key)

        def ok(result) -> None:
            self.in_flight.discard(key)
            on_done(result)

        def failed(exc: BaseException) -> None:
            self.in_flight.discard(key)
            if on_error is not None:
                on_error(exc)

        self.jobs.submit(fn, on_done=ok, on_error=failed)

    def read_source(self, key: str, source: str, fn, on_done) -> None:
        """A read of a data source ("hdfs", "kafka"): its failure goes to the banner, or is the stack's state."""
        before = stack_state.states_of(self.snapshot())

        def ok(result) -> None:
            self.banner.set_problem(source, None)
            on_done(result)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Unreachable):
                self._unreachable(source, str(exc), before)
            else:
                self.banner.set_problem(source, f"{source.upper()} read failed: {type(exc).__name__}: {exc}")

        self.read(key, fn, ok, failed)

    def _unreachable(self, source: str, message: str, before: dict[str, str]) -> None:
        statuses = self.snapshot()
        if stack_state.unreachable_is_expected(source, stack_state.states_of(statuses), before):
            self.banner.set_problem(source, None)
            return
        service = stack_state.service_for(source, statuses)
        why = f" — {service[0]} is {service[1]}" if service else " — an external cluster (see Settings)"
        self.banner.set_problem(source, message + why)

    def close(self, wait: bool = False) -> None:
        self.closed = True
        self.jobs.shutdown(wait=wait)
