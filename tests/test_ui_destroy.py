"""The window's Destroy data: names exactly what goes, stops what runs first, removes nothing on Cancel."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ecomdesk.core.spec import State
from ecomdesk.stack.hdfs import hdfs_root
from ecomdesk.stack.kafka import kafka_root


def _answer(button_text: str, seen: list[str]) -> None:
    """Click a button of the confirmation box once it is up, and keep its text."""
    box = QApplication.activeModalWidget()
    if not isinstance(box, QMessageBox):
        QTimer.singleShot(50, lambda: _answer(button_text, seen))
        return
    seen.append(box.text())
    next(b for b in box.buttons() if b.text() == button_text).click()


def _data(config) -> None:
    for d in (kafka_root(config), hdfs_root(config) / "data"):
        d.mkdir(parents=True)
        (d / "segment").write_bytes(b"x" * 2048)


def test_cancel_removes_nothing(make_window, qtbot):
    window, supervisor, _ = make_window()
    _data(window.config)
    seen: list[str] = []
    QTimer.singleShot(50, lambda: _answer("Cancel", seen))
    window.commands.destroy()
    assert str(kafka_root(window.config)) in seen[0] and str(hdfs_root(window.config)) in seen[0]
    assert kafka_root(window.config).exists() and hdfs_root(window.config).exists()


def test_destroy_stops_the_running_stack_first(make_window, qtbot):
    window, supervisor, _ = make_window()
    _data(window.config)
    window.start_all.trigger()
    qtbot.waitUntil(lambda: supervisor.state["kafka"] == State.RUNNING, timeout=5000)
    seen: list[str] = []
    QTimer.singleShot(50, lambda: _answer("Stop and destroy", seen))
    window.commands.destroy()
    assert "Running now:" in seen[0] and "Kafka broker" in seen[0]
    qtbot.waitUntil(lambda: "Destroy data: done" in window.command_status.text(), timeout=5000)
    assert not kafka_root(window.config).exists() and not hdfs_root(window.config).exists()
    assert all(state == State.STOPPED for state in supervisor.state.values())
    assert ("stop", None) in supervisor.calls
