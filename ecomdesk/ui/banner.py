"""A red strip above the charts saying which data source has a problem and since when."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel

from ecomdesk.ui import fmt


class Banner(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
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
