"""The window's commands to the stack, one at a time on a command thread (producer controls on their own).

Each command marks the services it affects busy until it ends (their buttons wait), and says how it went
in the command line under the services. Rebuild and Destroy ask first.
"""

from __future__ import annotations

import time
from typing import cast

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from ecomdesk import service_names as names
from ecomdesk.core.spec import ACTIVE, dependency_order, dependents_order
from ecomdesk.stack.destroy import describe
from ecomdesk.ui import fmt
from ecomdesk.ui.jobs import Jobs

_FAILED_STYLE = "color:#c0392b"


class StackCommands(QObject):
    changed = Signal()  # a command began or ended: the services' buttons follow
    told = Signal(str, int)  # a passing message (the status bar) for so many ms

    def __init__(self, stack, status: QLabel, parent: QWidget):
        super().__init__(parent)
        self.stack, self.status = stack, status
        self.busy: dict[str, int] = {}
        self.commands = Jobs("ecomdesk-command", self._failed, parent=self)
        self.controls = Jobs("ecomdesk-control", self._control_failed, parent=self)

    def busy_names(self) -> set[str]:
        return {n for n, count in self.busy.items() if count}

    def run(self, label: str, affected: list[str], fn) -> None:
        for n in affected:
            self.busy[n] = self.busy.get(n, 0) + 1
        self.status.setStyleSheet("")
        self.status.setText(f"{label}…")

        def done(error: BaseException | None) -> None:
            for n in affected:
                self.busy[n] -= 1
            if error is None:
                self.status.setText(f"{label}: done at {fmt.clock(time.time())}")
            else:
                self.status.setStyleSheet(_FAILED_STYLE)
                self.status.setText(f"{label} failed: {error}")
                self.told.emit(f"{label} failed", 10000)
            self.changed.emit()

        self.commands.submit(fn, on_done=lambda _: done(None), on_error=done)
        self.changed.emit()

    def start(self, services: list[str] | None) -> None:
        label = "Start all" if services is None else f"Start {', '.join(services)}"
        self.run(label, dependency_order(self.stack.specs, services), lambda: self.stack.start(services))

    def stop(self, services: list[str] | None) -> None:
        label = "Stop all" if services is None else f"Stop {', '.join(services)}"
        affected = dependents_order(self.stack.specs, services or list(self.stack.specs))
        self.run(label, affected, lambda: self.stack.stop(services))

    def start_all(self) -> None:
        self.start(None)

    def stop_all(self) -> None:
        self.stop(None)

    def start_one(self, name: str) -> None:
        self.start([name])

    def stop_one(self, name: str) -> None:
        self.stop([name])

    def restart(self, name: str) -> None:
        specs = self.stack.specs
        affected = set(dependents_order(specs, [name])) | set(dependency_order(specs, [name]))
        self.run(f"Restart {name}", sorted(affected), lambda: self.stack.restart(name))

    def send_producer(self, command: str) -> None:
        self.told.emit(f"producer ← {command}", 5000)
        self.controls.submit(lambda: self.stack.send_control(names.PRODUCER, command))

    def rebuild(self) -> None:
        """Recompute the aggregates from the raw events, the job stopped around it; asks first."""
        answer = QMessageBox.question(
            self._window(), "Rebuild aggregates",
            "Recompute every aggregate from the raw events kept on HDFS, into a new version?\n\n"
            "The Spark job stops meanwhile and starts again after; the charts switch to the new version "
            "when it is complete, and the old one stays until then. Spark's log: logs/rebuild.log.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.run("Rebuild aggregates", [names.SPARK_JOB], self.stack.rebuild)

    def destroy(self) -> None:
        """Remove this home's stack data, after a confirmation that names exactly what goes."""
        doomed = self.stack.destroy_plan()
        if not doomed:
            QMessageBox.information(self._window(), "Destroy data", describe(doomed).capitalize() + ".")
            return
        live = [s.title for s in self.stack.snapshot() if s.state in ACTIVE]
        text = f"This removes:\n{describe(doomed)}\n\nThe config and the logs stay."
        if live:
            text += f"\n\nRunning now: {', '.join(live)}. They are stopped first."
        box = QMessageBox(QMessageBox.Icon.Warning, "Destroy data", text, QMessageBox.StandardButton.Cancel,
                          self._window())
        go = box.addButton("Stop and destroy" if live else "Destroy", QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        if box.clickedButton() is go:
            self.run("Destroy data", list(self.stack.specs), self.stack.destroy)

    def _window(self) -> QWidget:
        return cast(QWidget, self.parent())  # asked each time: holding the window would make a cycle

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Command failed: {exc}")

    def _control_failed(self, exc: BaseException) -> None:
        self.told.emit(f"Producer command failed: {exc}", 10000)

    def close(self, wait: bool = False) -> None:
        for jobs in (self.commands, self.controls):
            jobs.shutdown(wait=wait)
