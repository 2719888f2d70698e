"""Live tail of every service's log with a filter, ERROR/WARN highlighting and pausable autoscroll.

Lines arrive on supervisor threads; `push` only appends to a thread-safe deque, and a UI-thread
timer moves them into bounded per-service tails, so a chatty service cannot flood the event loop.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TAIL_LINES = 5000
ALL = "__all__"
ERROR_RE = re.compile(r"\b(ERROR|FATAL|SEVERE|Exception|Traceback)\b")
WARN_RE = re.compile(r"\bWARN(ING)?\b")


class LevelHighlighter(QSyntaxHighlighter):
    def __init__(self, document):
        super().__init__(document)
        self.error = QTextCharFormat()
        self.error.setForeground(QColor("#c0392b"))
        self.error.setFontWeight(QFont.Weight.Bold)
        self.warn = QTextCharFormat()
        self.warn.setForeground(QColor("#b9770e"))

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        if ERROR_RE.search(text):
            self.setFormat(0, len(text), self.error)
        elif WARN_RE.search(text):
            self.setFormat(0, len(text), self.warn)


class LogsPanel(QWidget):
    def __init__(self, services: list[tuple[str, str]], log_file: Callable[[str], Path], parent=None):
        super().__init__(parent)
        self._log_file = log_file
        self._incoming: deque[tuple[str, str]] = deque(maxlen=TAIL_LINES * 4)
        self.tails: dict[str, deque[str]] = {name: deque(maxlen=TAIL_LINES) for name, _ in services}
        self.tails[ALL] = deque(maxlen=TAIL_LINES)

        self.service = QComboBox()
        self.service.addItem("All services", ALL)
        for name, title in services:
            self.service.addItem(title, name)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (case-insensitive text)")
        self.filter.setClearButtonEnabled(True)
        self.follow = QCheckBox("Autoscroll")
        self.follow.setToolTip("Keep the newest line in view")
        self.follow.setChecked(True)
        self.open_file = QPushButton("Open log file")
        self.open_file.setToolTip("Open the chosen service's whole log file with the desktop's text viewer")
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(TAIL_LINES)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFont("monospace", 9))
        self.highlighter = LevelHighlighter(self.view.document())

        bar = QHBoxLayout()
        bar.addWidget(self.service)
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.follow)
        bar.addWidget(self.open_file)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self.service.currentIndexChanged.connect(self._rebuild)
        self.filter.textChanged.connect(self._rebuild)
        self.open_file.clicked.connect(self.open_selected_log)
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def push(self, service: str, line: str) -> None:
        """Thread-safe: called by the supervisor's reader threads."""
        self._incoming.append((service, line))

    def _selected(self) -> str:
        return self.service.currentData()

    def _matches(self, text: str) -> bool:
        needle = self.filter.text().strip().lower()
        return not needle or needle in text.lower()

    def _render(self, service: str, line: str) -> str:
        return f"[{service}] {line}" if self._selected() == ALL else line

    def flush(self) -> None:
        shown: list[str] = []
        selected = self._selected()
        while self._incoming:
            service, line = self._incoming.popleft()
            self.tails.setdefault(service, deque(maxlen=TAIL_LINES)).append(line)
            self.tails[ALL].append(f"[{service}] {line}")
            if selected in (ALL, service):
                text = self._render(service, line)
                if self._matches(text):
                    shown.append(text)
        if shown:
            self._append(shown)

    def _append(self, lines: list[str]) -> None:
        bar = self.view.verticalScrollBar()
        keep = bar.value()
        self.view.appendPlainText("\n".join(lines))
        if self.follow.isChecked():
            bar.setValue(bar.maximum())
        else:
            bar.setValue(min(keep, bar.maximum()))

    def _rebuild(self) -> None:
        self.flush()
        self.view.clear()
        lines = [t for t in self.tails[self._selected()] if self._matches(t)]
        if lines:
            self._append(lines)

    def open_selected_log(self) -> None:
        selected = self._selected()
        if selected == ALL:
            first = next(name for name in self.tails if name != ALL)
            target = self._log_file(first).parent
        else:
            target = self._log_file(selected)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
