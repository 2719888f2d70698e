"""Qt objects are finalized on the GUI thread only (issue 9: a pyarrow thread's automatic garbage
collection destroyed Qt objects of an earlier window and deadlocked with the GUI thread)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QCoreApplication, QObject
from ui_fakes import FakeReader, FakeStack, make_config

from ecomdesk.ui.gc_collector import GuiCollector
from ecomdesk.ui.jobs import Jobs
from ecomdesk.ui.main_window import MainWindow


class Node(QObject):
    pass


def _finalized_where(obj: QObject, where: list[str]) -> None:
    weakref.finalize(obj, lambda: where.append(threading.current_thread().name))


def _drop_a_qt_object_in_a_cycle(where: list[str]) -> None:
    node = Node()
    node.me = node  # only the cyclic collector can free it
    _finalized_where(node, where)


def test_cyclic_garbage_with_qt_objects_is_collected_on_the_gui_thread(qtbot, gui_thread_gc):
    where: list[str] = []
    kept: list[list] = []
    gc.collect()  # empty generations: the next collection is the first one after the allocations below
    runs = gui_thread_gc.collections
    _drop_a_qt_object_in_a_cycle(where)

    def allocate() -> None:  # as pyarrow's pool or the reader thread does: enough to pass the threshold
        kept.extend([] for _ in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=allocate, name="allocator")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == ["MainThread"]  # not "allocator"
    assert gui_thread_gc.collections > runs


def test_a_job_hands_its_callbacks_back_to_the_ui_thread_even_after_shutdown(qtbot):
    where: list[str] = []
    gate = threading.Event()
    jobs = Jobs("ecomdesk-test", lambda exc: None)
    widget = Node()
    _finalized_where(widget, where)
    jobs.submit(gate.wait, on_done=lambda _, w=widget: None)
    del widget
    jobs.shutdown()  # the window closed while the job ran
    gate.set()
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == ["MainThread"]


def _use_and_close_a_window(qtbot, tmp_path) -> weakref.ref:
    window = MainWindow(FakeStack(tmp_path), FakeReader(), make_config(tmp_path))
    window.show()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)
    window.producer.pause.click()  # a few of the buttons whose handlers once were lambdas over self
    window.services.rows["kafka"].restart.click()
    qtbot.waitUntil(lambda: "Restart kafka: done" in window.command_status.text(), timeout=5000)
    window.stack.stop()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    window.shutdown_jobs(wait=True)
    QCoreApplication.sendPostedEvents()  # the jobs handed back
    return weakref.ref(window)


def test_a_closed_window_is_freed_by_reference_counting_alone(qtbot, tmp_path):
    """No reference cycle keeps a window (and everything in it) for the cyclic collector."""
    ref = _use_and_close_a_window(qtbot, tmp_path)
    assert not gc.isenabled()
    assert ref() is None


def test_the_collector_uses_the_interpreters_thresholds_and_restores_its_state(qapp):
    was = gc.isenabled()
    collector = GuiCollector(interval_ms=60_000).start()
    try:
        assert not gc.isenabled()
        collector.threshold = (10**9, 10, 10)
        assert collector.check() is None
        collector.threshold = (0, 10**9, 10**9)
        before = gc.get_count()[1]
        assert collector.check() is not None and collector.collections == 1
        assert gc.get_count()[1] == before + 1  # generation 0 only was collected
    finally:
        collector.stop(collect=False)
    assert gc.isenabled() == was
