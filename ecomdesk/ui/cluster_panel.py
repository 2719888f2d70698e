"""The Cluster tab: the health of Kafka, HDFS and Spark, one panel each (see ecomdesk.data.health).

Each panel says its state in words, its summary, every problem as a sentence, and a table
(partitions, DataNodes, workers) whose problem rows are marked in their Status column, not only
coloured. The window reads the health off the GUI thread and hands it here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ecomdesk.data.health import model as m
from ecomdesk.ui import fmt

PROBLEM_ROW = QColor("#fdecea")
STATE_STYLE = {
    m.OK: "background:#e8f6ec; color:#1e6b34",
    m.DEGRADED: "background:#c0392b; color:white",
    m.UNREACHABLE: "background:#c0392b; color:white",
    m.UNREADABLE: "background:#c0392b; color:white",
    m.STOPPED: "background:#f2f4f5; color:#5f6b73",
    m.NO_CLUSTER: "background:#f2f4f5; color:#5f6b73",
}
WORKER_OK, DATANODE_OK = "ALIVE", "live"


def _ids(ids: tuple[int, ...]) -> str:
    return ",".join(map(str, ids)) or "–"


class SystemPanel(QGroupBox):
    """One system: state, summary, problems, and its table."""

    def __init__(self, title: str, headers: list[str], parent=None):
        super().__init__(title, parent)
        self.state = QLabel("not read yet")
        self.state.setObjectName("state")
        bold = QFont()
        bold.setBold(True)
        self.state.setFont(bold)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color:#c0392b; font-weight:bold")
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems)
        layout.addWidget(self.table, 1)

    def show_health(self, health: m.SystemHealth, rows: list[tuple[list[str], bool]]) -> None:
        """rows: (cells, is a problem) each."""
        n = len(health.problems)
        self.state.setText(health.state.upper() + (f" — {n} problem(s)" if n else ""))
        self.state.setStyleSheet(f"padding:3px 6px; {STATE_STYLE.get(health.state, '')}")
        took = f" in {health.elapsed:.1f} s" if health.elapsed else ""
        asked = f" from {health.source}" if health.source else ""
        self.summary.setText(health.summary)
        self.summary.setToolTip(f"read at {fmt.clock(health.read_at)}{took}{asked}" if health.read_at else "")
        self.problems.setText("\n".join(f"⚠ {p}" for p in health.problems))
        self.problems.setVisible(bool(health.problems))
        self.table.setRowCount(len(rows))
        for r, (cells, problem) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if problem:
                    item.setBackground(QBrush(PROBLEM_ROW))
                self.table.setItem(r, c, item)


def kafka_rows(detail: m.KafkaDetail | None) -> list[tuple[list[str], bool]]:
    if detail is None:
        return []
    return [([p.topic, str(p.partition), "none" if p.leader is None else str(p.leader), _ids(p.replicas),
              _ids(p.isr), fmt.number(p.end_offset), fmt.number(p.job_offset), fmt.number(p.lag), p.status],
             p.status != "ok") for p in detail.partitions]


def hdfs_rows(detail: m.HdfsDetail | None) -> list[tuple[list[str], bool]]:
    if detail is None:
        return []
    return [([d.name, d.state, "–" if d.last_contact is None else f"{d.last_contact:.0f} s ago", fmt.size(d.capacity),
              fmt.size(d.used), fmt.size(d.remaining)], d.state != DATANODE_OK) for d in detail.datanodes]


def spark_rows(detail: m.SparkDetail | None) -> list[tuple[list[str], bool]]:
    if detail is None:
        return []
    return [([w.address, w.state, f"{w.cores_used}/{w.cores}", f"{w.memory_used_mb}/{w.memory_mb} MiB", w.id],
             w.state != WORKER_OK) for w in detail.workers]


class ClusterPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.kafka = SystemPanel("Kafka", ["Topic", "Partition", "Leader", "Replicas", "ISR", "End offset",
                                           "Job offset", "Lag", "Status"])
        self.hdfs = SystemPanel("HDFS", ["DataNode", "State", "Last heartbeat", "Capacity", "Used", "Remaining"])
        self.spark = SystemPanel("Spark", ["Worker", "State", "Cores used", "Memory used", "Id"])
        below = QSplitter(Qt.Orientation.Horizontal)  # the partitions get the width, the others share a row
        below.addWidget(self.hdfs)
        below.addWidget(self.spark)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.kafka)
        split.addWidget(below)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.problems = 0

    def show_health(self, health: m.ClusterHealth) -> None:
        self.kafka.show_health(health.kafka, kafka_rows(_detail(health.kafka, m.KafkaDetail)))
        self.hdfs.show_health(health.hdfs, hdfs_rows(_detail(health.hdfs, m.HdfsDetail)))
        self.spark.show_health(health.spark, spark_rows(_detail(health.spark, m.SparkDetail)))
        self.problems = sum(len(h.problems) + (h.state in (m.UNREACHABLE, m.UNREADABLE)) for h in health.all())

    def show_error(self, message: str) -> None:
        """The read itself failed (a bug, not a cluster's state): said on every panel."""
        for panel in (self.kafka, self.hdfs, self.spark):
            panel.state.setText(f"NOT READ — {message}")
            panel.state.setStyleSheet(f"padding:3px 6px; {STATE_STYLE[m.UNREADABLE]}")


def _detail(health: m.SystemHealth, kind):
    return health.detail if isinstance(health.detail, kind) else None
