"""Kafka topics with partitions, end offsets and messages/s, and a peek at their last messages."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ecomdesk.data.readers import KafkaMessage, TopicStats
from ecomdesk.ui import fmt


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    t.verticalHeader().setVisible(False)
    return t


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))


class KafkaInspector(QWidget):
    peek_requested = Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.topics = _table(["Topic", "Partitions", "Messages", "Messages/s", "End offsets by partition"])
        self.topic = QComboBox()
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(20)
        self.peek = QPushButton("Peek last messages")
        self.peek.setToolTip("Read the last messages of the chosen topic from Kafka (the pipeline is not affected)")
        self.status = QLabel("Waiting for the broker…")
        self.messages = _table(["Partition", "Offset", "Time", "Key", "Value"])
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Topic"))
        bar.addWidget(self.topic)
        bar.addWidget(self.count)
        bar.addWidget(self.peek)
        bar.addWidget(self.status, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(bar)
        lower_layout.addWidget(self.messages, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.topics)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.peek.clicked.connect(self._peek)

    def _peek(self) -> None:
        if self.topic.currentText():
            self.status.setText(
                f"Reading the last {self.count.value()} messages of {self.topic.currentText()}…"
            )
            self.peek_requested.emit(self.topic.currentText(), self.count.value())

    def show_topics(self, topics: list[TopicStats]) -> None:
        _fill(
            self.topics,
            [
                [
                    t.name,
                    str(t.partitions),
                    f"{t.total_messages:,}",
                    fmt.number(t.messages_per_second, 1),
                    "  ".join(f"p{p}: {o:,}" for p, o in sorted(t.end_offsets.items())),
                ]
                for t in topics
            ],
        )
        names = [t.name for t in topics]
        current = self.topic.currentText()
        if names != [self.topic.itemText(i) for i in range(self.topic.count())]:
            self.topic.clear()
            self.topic.addItems(names)
            if current in names:
                self.topic.setCurrentText(current)
        self.peek.setEnabled(bool(names))

    def show_messages(self, messages: list[KafkaMessage]) -> None:
        _fill(
            self.messages,
            [
                [str(m.partition), str(m.offset), fmt.clock(m.timestamp), m.key or "", m.value]
                for m in messages
            ],
        )
        self.status.setText(f"{len(messages)} message(s)")

    def show_error(self, message: str) -> None:
        self.status.setText(message)
