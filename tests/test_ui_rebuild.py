"""The window's Rebuild aggregates: asks first, stops the Spark job around the rebuild, starts it again."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ecomdesk.core.spec import State
from ecomdesk.stack import rebuild_run as rebuild_mod


def test_rebuild_pauses_the_job_around_the_rebuild(qtbot, make_window, monkeypatch):
    window, supervisor, _ = make_window()
    window.start_all.trigger()
    qtbot.waitUntil(lambda: supervisor.state["spark-job"] == State.RUNNING, timeout=5000)
    job_states: list[str] = []

    def rebuilt(config):
        job_states.append(supervisor.state["spark-job"])
        return {"manifest": "v000000000007-g1.json", "batch_id": 7, "generation": 1, "seconds": 1.0}

    monkeypatch.setattr(rebuild_mod, "run_rebuild", rebuilt)  # the real one: tests/test_rebuild.py
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.commands.rebuild()
    qtbot.waitUntil(lambda: "Rebuild aggregates: done" in window.command_status.text(), timeout=5000)
    assert job_states == [State.STOPPED]  # the stream did not run while the rebuild published
    assert supervisor.state["spark-job"] == State.RUNNING


def test_cancel_rebuilds_nothing(qtbot, make_window, monkeypatch):
    window, _, _ = make_window()
    monkeypatch.setattr(rebuild_mod, "run_rebuild", lambda config: (_ for _ in ()).throw(AssertionError("ran")))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    window.commands.rebuild()
    assert "Rebuild" not in window.command_status.text()
