"""First launch without the stack: a strip that offers Setup, and the dialog that runs it.

Setup runs in a plain thread (it is mostly Maven downloading); its progress lines reach the dialog
through a signal of a QObject the dialog owns, so the worker never holds the last reference to a Qt
object. Cancel kills Maven; what finished stays installed.
"""

from __future__ import annotations

import re
import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

_STEP = re.compile(r"^\[\d+/\d+\] ")
_PROGRESS = re.compile(r"^\s+(.+: \d+ files downloaded)")


class SetupPrompt(QFrame):
    """A calm strip above the window's content while the stack is not installed."""

    setup_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet("SetupPrompt { background:#eaf2fb; border:1px solid #9cc3e6; border-radius:4px }")
        layout = QHBoxLayout(self)
        text = QLabel("<b>The Kafka, HDFS and Spark stack is not installed yet.</b> Setup downloads it once "
                      "(about 180 MB with Maven) and builds libhdfs; it takes a few minutes.")
        text.setWordWrap(True)
        layout.addWidget(text, 1)
        self.button = QPushButton("Set up…")
        self.button.setToolTip("Install Kafka, Hadoop HDFS and Spark's Kafka connector, as `ecomdesk setup` does")
        self.button.clicked.connect(self.setup_requested)
        layout.addWidget(self.button)


class _Lines(QObject):
    line = Signal(str)
    finished = Signal(str, bool)  # error message ("" when it worked), cancelled


class SetupDialog(QDialog):
    """Runs the stack's setup (`Stack.setup`) and shows the current step, files downloaded, elapsed time and
    the log."""

    def __init__(self, setup, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Set up the stack")
        self.resize(640, 420)
        self.setup = setup  # (say, cancel) -> None; raises on failure
        self.succeeded = False
        self.running = False
        self._cancel = threading.Event()
        self._started = 0.0
        self._lines = _Lines(self)  # owned by the dialog: the worker only emits its signals
        self._lines.line.connect(self._show_line)
        self._lines.finished.connect(self._finished)
        self.step = QLabel("Starting…")
        self.progress = QLabel("")
        self.elapsed = QLabel("Elapsed: 0 s")
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (self.step, self.progress, self.elapsed, self.log, self.outcome, self.buttons):
            layout.addWidget(w)
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)

    def start(self) -> None:
        self.running = True
        self._started = time.monotonic()
        self._clock.start()
        threading.Thread(target=self._work, args=(self.setup, self._cancel, self._lines), name="ecomdesk-setup",
                         daemon=True).start()

    @staticmethod
    def _work(setup, cancel: threading.Event, lines: _Lines) -> None:
        try:
            setup(lines.line.emit, cancel)
        except Exception as exc:  # every failure is shown in the dialog, none is lost
            lines.finished.emit(str(exc) or type(exc).__name__, cancel.is_set())
        else:
            lines.finished.emit("", False)

    def _show_line(self, line: str) -> None:
        self.log.appendPlainText(line)
        if _STEP.match(line):
            self.step.setText(f"Step {line}")
            self.progress.setText("")
        elif m := _PROGRESS.match(line):
            self.progress.setText(m.group(1))

    def _tick(self) -> None:
        self.elapsed.setText(f"Elapsed: {time.monotonic() - self._started:.0f} s")

    def _finished(self, error: str, cancelled: bool) -> None:
        self.running = False
        self._clock.stop()
        self._tick()
        self.succeeded = not error
        if self.succeeded:
            took = time.monotonic() - self._started
            self.outcome.setText(f"Setup finished in {took:.0f} s. Start all runs the stack.")
        elif cancelled:
            self.outcome.setText("Setup cancelled. Finished parts are kept; Set up again continues from there.")
        else:
            self.outcome.setStyleSheet("color:#c0392b")
            self.outcome.setText(error)
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.buttons.setEnabled(True)

    def reject(self) -> None:
        """Cancel (or closing the dialog) while setup runs cancels it and waits for it to stop."""
        if self.running:
            self._cancel.set()
            self.step.setText("Cancelling…")
            self.buttons.setEnabled(False)  # until `_finished`
            return
        super().reject()
