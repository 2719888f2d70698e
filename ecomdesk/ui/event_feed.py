"""The stack's events, brought to the GUI thread.

The supervisor publishes on its own threads. Its listener here only puts the event in a queue, so no
other thread ever holds or touches a Qt object; a timer on the GUI thread hands each event on, in order.
"""

from __future__ import annotations

import queue

from PySide6.QtCore import QObject, QTimer, Signal

from ecomdesk.core.events import Event

DRAIN_MS = 100


class EventFeed(QObject):
    arrived = Signal(list)  # the events since the last drain, in order, on the GUI thread

    def __init__(self, subscribe, parent: QObject):
        """`subscribe` is the stack's (`Stack.subscribe`): the kept events first, then every new one."""
        super().__init__(parent)
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._unsubscribe = subscribe(self._queue.put, since=0)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def drain(self) -> None:
        events = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if events:
            self.arrived.emit(events)

    def close(self) -> None:
        self._timer.stop()
        self._unsubscribe()
