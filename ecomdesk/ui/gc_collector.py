"""Python's cyclic garbage collection, run on the GUI thread only.

Automatic collection runs in whichever thread allocates when a threshold is crossed: a reader
thread, pyarrow's pool, a libhdfs callback. When the garbage holds a live Qt object (pyqtgraph's
parentless context menus of a closed chart, an old window), its C++ destructor then runs off the
GUI thread, which Qt forbids: a test run deadlocked that way (the collecting thread waited for the
GIL inside ~QObject while the GUI thread held the GIL and waited for a Qt mutex).

`GuiCollector` switches automatic collection off and collects from a timer on the GUI thread
instead, with the interpreter's own thresholds: the idea of pyqtgraph's
`pyqtgraph.util.garbage_collector.GarbageCollector`, plus a `stop` that restores the previous
state (the tests need it) and one collection per tick instead of up to three.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QThread, QTimer

INTERVAL_MS = 500


class GuiCollector:
    def __init__(self, interval_ms: int = INTERVAL_MS):
        app = QCoreApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            raise RuntimeError("GuiCollector must be created on the GUI thread, after the QApplication")
        self.threshold = gc.get_threshold()
        self.collections = 0
        self._was_enabled: bool | None = None
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)

    @property
    def active(self) -> bool:
        return self._was_enabled is not None

    def start(self) -> GuiCollector:
        if not self.active:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self.timer.start()
        return self

    def check(self) -> int | None:
        """Collect what the interpreter would have collected by now: the youngest generation once
        its allocation count passes the threshold, an older one too when its own count does."""
        counts = gc.get_count()
        if counts[0] <= self.threshold[0]:
            return None
        generation = 0
        while generation < 2 and counts[generation + 1] > self.threshold[generation + 1]:
            generation += 1
        self.collections += 1
        return gc.collect(generation)

    def stop(self, collect: bool = True) -> None:
        """Stop the timer, collect everything once more (here, on the GUI thread), and give
        automatic collection back if it was on before `start`."""
        self.timer.stop()
        if collect:
            gc.collect()
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None
