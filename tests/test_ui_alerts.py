"""Alerts in the window: the Alerts tab, desktop notifications, the tray's colour, and closing to the tray."""

from __future__ import annotations

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from ecomdesk.core.spec import State

LAG = {"key": "lag", "message": "the job's newest committed event is 190 s old (threshold 120 s)",
       "started": 1_800_000_000.0}


def _notifications(window) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    window.tray.showMessage = lambda title, message, *_: seen.append((title, message))
    return seen


def test_an_alert_fires_shows_and_resolves_once(qtbot, make_window):
    window, supervisor, _ = make_window()
    seen = _notifications(window)
    window.start_all.trigger()
    qtbot.waitUntil(lambda: window.tray.state == "ok", timeout=5000)
    supervisor.fire_alert("spark-job", LAG["key"], LAG["message"])
    qtbot.waitUntil(lambda: window.alerts.table.rowCount() == 1, timeout=5000)
    table = window.alerts.table
    assert [table.item(0, c).text() for c in (1, 2, 3)] == ["active", "spark-job", LAG["message"]]
    assert window.tabs.tabText(window.tabs.indexOf(window.alerts)) == "Alerts (1)"
    assert window.tray.state == "warning"
    assert seen == [("ecomdesk: spark-job", LAG["message"])]
    supervisor.alerts["spark-job"][0]["message"] = "the job's newest committed event is 200 s old"  # in snapshots
    qtbot.waitUntil(lambda: "200 s" in window.alert_log.entries[0].message, timeout=5000)
    assert len(seen) == 1 and window.alerts.table.rowCount() == 1  # the same alert: no second notification
    supervisor.resolve_alert("spark-job", LAG["key"])
    qtbot.waitUntil(lambda: table.item(0, 1).text() != "active", timeout=5000)
    assert window.tabs.tabText(window.tabs.indexOf(window.alerts)) == "Alerts"
    assert window.tray.state == "ok" and len(seen) == 2 and seen[1][0] == "ecomdesk: spark-job resolved"


def test_the_tray_colour_follows_the_stack(qtbot, make_window):
    window, supervisor, _ = make_window()
    assert window.tray.state == "stopped"
    window.start_all.trigger()
    qtbot.waitUntil(lambda: window.tray.state == "ok", timeout=5000)
    supervisor.state["kafka"] = State.RESTARTING
    qtbot.waitUntil(lambda: window.tray.state == "warning", timeout=5000)
    supervisor.state["kafka"] = State.FAILED
    qtbot.waitUntil(lambda: window.tray.state == "error", timeout=5000)
    assert "running" in window.tray.toolTip()


def _click(button_text: str) -> None:
    box = QApplication.activeModalWidget()
    if not isinstance(box, QMessageBox):
        QTimer.singleShot(50, lambda: _click(button_text))
        return
    next(b for b in box.buttons() if b.text() == button_text).click()


def test_closing_keeps_the_stack_in_the_tray_asks_once_and_remembers(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    window, supervisor, _ = make_window()
    _notifications(window)
    window.start_all.trigger()
    qtbot.waitUntil(lambda: supervisor.state["kafka"] == State.RUNNING, timeout=5000)
    QTimer.singleShot(50, lambda: _click("Keep running in the tray"))
    window.close()
    assert not window.isVisible() and supervisor.state["kafka"] == State.RUNNING
    settings = QSettings(str(window.config.paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
    assert settings.value("on_close") == "tray"
    window.show_from_tray()
    assert window.isVisible()
    monkeypatch.setattr(QMessageBox, "exec", lambda *_: (_ for _ in ()).throw(AssertionError("asked twice")))
    window.close()  # remembered: no question
    assert not window.isVisible() and supervisor.state["kafka"] == State.RUNNING
    window.quit_from_tray()  # the tray's "Stop the stack and quit"
    qtbot.waitUntil(lambda: supervisor.state["kafka"] == State.STOPPED and not window.snapshot_timer.isActive(),
                    timeout=5000)  # stopped, then closed for good (its timers end with it)
