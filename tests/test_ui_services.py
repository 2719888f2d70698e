"""Service rows and the commands the window sends to the supervisor (a fake at that boundary)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QMessageBox

from ecomdesk.core.spec import State
from ecomdesk.ui.services_panel import allowed_actions


@pytest.mark.parametrize(
    ("state", "busy", "expected"),
    [
        ("stopped", False, (True, False, False)),
        ("failed", False, (True, False, True)),
        ("starting", False, (False, True, False)),
        ("running", False, (False, True, True)),
        ("unhealthy", False, (False, True, True)),
        ("restarting", False, (False, True, True)),
        ("stopping", False, (False, False, False)),
        ("running", True, (False, False, False)),
    ],
)
def test_buttons_make_sense_for_the_state(state, busy, expected):
    a = allowed_actions(state, busy)
    assert (a.start, a.stop, a.restart) == expected


def test_start_all_runs_off_the_ui_thread_and_rows_show_running(qtbot, make_window):
    window, sup, _ = make_window()
    assert window.start_all.isEnabled() and not window.stop_all.isEnabled()
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)
    assert all(r.state == State.RUNNING for r in window.services.rows.values())
    assert sup.calls[0] == ("start", None)
    assert sup.command_threads[0] != threading.current_thread().name
    row = window.services.rows["kafka"]
    assert row.badge.text() == "RUNNING"
    assert row.pid.text() == "1002" and row.rss.text() == "256.0 MiB" and row.uptime.text() == "1m 05s"
    assert row.ports.text() == "9092, 9093"
    assert row.ports.toolTip() == "bootstrap: 127.0.0.1:9092\ncontroller: 127.0.0.1:9093"
    assert not row.start.isEnabled() and row.stop.isEnabled() and row.restart.isEnabled()
    assert not window.start_all.isEnabled() and window.stop_all.isEnabled()


def test_ui_stays_responsive_while_a_start_blocks(qtbot, make_window):
    window, sup, _ = make_window()
    sup.gate = threading.Event()
    try:
        window.services.rows["kafka"].start.click()
        # the command is pending: the rows it touches are disabled, others are not
        qtbot.waitUntil(lambda: sup.calls == [("start", ["kafka"])], timeout=3000)
        qtbot.wait(1200)  # the snapshot timer keeps running while the supervisor is blocked
        kafka = window.services.rows["kafka"]
        assert not kafka.start.isEnabled() and not kafka.stop.isEnabled()
        assert window.services.rows["hdfs-namenode"].start.isEnabled()
        assert "Start kafka…" in window.command_status.text()
    finally:
        sup.gate.set()
    qtbot.waitUntil(lambda: window.services.rows["kafka"].state == State.RUNNING, timeout=3000)
    qtbot.waitUntil(lambda: "done" in window.command_status.text(), timeout=3000)


def test_a_failed_start_shows_its_reason_in_the_row(qtbot, make_window):
    window, sup, _ = make_window()
    sup.fail["kafka"] = "port 9092 is in use by pid 77 (java)"
    window.start_all.trigger()
    row = window.services.rows["kafka"]
    qtbot.waitUntil(lambda: row.state == State.FAILED, timeout=5000)
    qtbot.waitUntil(lambda: "failed" in window.command_status.text(), timeout=3000)
    assert "port 9092 is in use by pid 77" in row.message.text()
    assert "exit code 1" in row.message.text()
    assert "boom: address in use" in row.message.toolTip()
    assert row.start.isEnabled() and row.restart.isEnabled() and not row.stop.isEnabled()
    assert "Start all failed: kafka: port 9092" in window.command_status.text()


def test_stop_restart_and_stop_all_reach_the_supervisor(qtbot, make_window):
    window, sup, _ = make_window()
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)
    window.services.rows["producer"].restart.click()
    qtbot.waitUntil(lambda: ("restart", "producer") in sup.calls, timeout=3000)
    window.services.rows["hdfs-namenode"].stop.click()
    qtbot.waitUntil(lambda: window.services.rows["spark-job"].state == State.STOPPED, timeout=3000)
    assert window.services.rows["kafka"].state == State.RUNNING  # not a dependent of the NameNode
    window.stop_all.trigger()
    qtbot.waitUntil(lambda: all(r.state == State.STOPPED for r in window.services.rows.values()), timeout=3000)
    assert sup.calls[-1] == ("stop", None)


def test_closing_with_running_services_asks_and_cancel_keeps_everything(qtbot, make_window, monkeypatch):
    window, sup, _ = make_window()
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)
    asked = []

    def answer(*args, **kwargs):
        asked.append(args[2])
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.close()
    assert asked and "Kafka broker" in asked[0]
    assert window.isVisible() and not sup.closed

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert sup.closed and ("close",) in sup.calls
    assert all(s.state == "stopped" for s in sup.snapshot())


def test_closing_with_nothing_running_closes_the_supervisor_without_asking(qtbot, make_window, monkeypatch):
    window, sup, _ = make_window()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: pytest.fail("nothing runs, nothing to ask"))
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert sup.closed


def test_a_service_the_policy_restarts_shows_when_and_which_attempt(qtbot, make_window):
    window, sup, _ = make_window()
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)
    sup.state["kafka"] = State.RESTARTING
    sup.message["kafka"] = "crashed with exit code -9; restarting in 4 s, attempt 2/5"
    row = window.services.rows["kafka"]
    qtbot.waitUntil(lambda: row.badge.text() == "RESTARTING", timeout=3000)
    assert "restarting in 4 s, attempt 2/5" in row.message.text()
    assert row.stop.isEnabled() and not row.start.isEnabled()
    sup.stop()
    qtbot.waitUntil(lambda: not window.stop_all.isEnabled(), timeout=3000)
