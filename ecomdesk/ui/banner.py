"""A red strip above the charts saying which data source has a problem and since when (an alarm),
and a calm one saying the stack is stopped (a state)."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from ecomdesk.ui import fmt
from ecomdesk.ui.stack_state import START_KEYS


class Banner(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setWordWrap(True)
        self.setStyleSheet("background:#c0392b; color:white; padding:6px; font-weight:bold")
        self.problems: dict[str, tuple[str, float]] = {}
        self.hide()

    def set_problem(self, source: str, message: str | None) -> None:
        """Record (or clear, with None) the problem of one source and update the text."""
        if message is None:
            self.problems.pop(source, None)
        else:
            since = self.problems.get(source, (message, time.time()))[1]
            self.problems[source] = (message, since)
        if not self.problems:
            self.hide()
            return
        parts = [
            f"{message} (since {fmt.clock(since)})" for _, (message, since) in sorted(self.problems.items())
        ]
        self.setText("\n".join(parts) + "\nCharts keep the last data read; retrying automatically.")
        self.show()


class StackNotice(QFrame):
    """A calm strip while the stack is stopped (by the user, or never started): a state, not an
    error; it says what to do and offers Start all."""

    start_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("stack-notice")
        self.setStyleSheet("StackNotice { background:#f2f4f5; border:1px solid #c9d1d6; border-radius:4px }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.text = QLabel()
        self.text.setWordWrap(True)
        layout.addWidget(self.text, 1)
        self.button = QPushButton("▶ Start all")
        self.button.setToolTip(f"Start HDFS, Kafka, the Spark job and the producer ({START_KEYS})")
        self.button.clicked.connect(self.start_requested)
        layout.addWidget(self.button)
        self.hide()

    def show_state(self, text: str | None, can_start: bool) -> None:
        """`text` while the stack is stopped; None hides the strip."""
        if text is None:
            self.hide()
            return
        self.text.setText(text)
        self.button.setEnabled(can_start)
        self.show()
