"""The Alerts tab: every alert the stack's owner raised, with when it started and when it ended.

`AlertLog` (no Qt) turns the alerts listed on successive snapshots into entries that fire once and
resolve once; the panel shows them newest first, the active ones in bold.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ecomdesk.ui import fmt


@dataclass
class AlertEntry:
    key: str
    service: str
    message: str
    started: float
    ended: float | None = None


class AlertLog:
    """Alerts by (service, key) across snapshots; an alert's message may change while it lasts."""

    def __init__(self, keep: int = 500):
        self.keep = keep
        self.active: dict[tuple[str, str], AlertEntry] = {}
        self.entries: list[AlertEntry] = []  # oldest first

    def ingest(self, statuses, now: float) -> tuple[list[AlertEntry], list[AlertEntry]]:
        """The entries that fired and those that resolved since the last snapshot."""
        seen: dict[tuple[str, str], dict] = {(s.name, a["key"]): a for s in statuses for a in s.alerts}
        fired, resolved = [], []
        for (service, key), alert in seen.items():
            entry = self.active.get((service, key))
            if entry is None:
                entry = AlertEntry(key, service, alert["message"], alert.get("started", now))
                self.active[(service, key)] = entry
                self.entries.append(entry)
                fired.append(entry)
            entry.message = alert["message"]
        for ident in [i for i in self.active if i not in seen]:
            entry = self.active.pop(ident)
            entry.ended = now
            resolved.append(entry)
        del self.entries[:-self.keep]
        return fired, resolved


class AlertsPanel(QWidget):
    COLUMNS = ("Started", "Ended", "Service", "Alert")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Alerts of the stack's owner ([alerts] in the config sets the thresholds); "
                              "active ones are bold")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def show_log(self, log: AlertLog) -> None:
        rows = list(reversed(log.entries))
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, e in enumerate(rows):
            cells = (fmt.clock(e.started), "active" if e.ended is None else fmt.clock(e.ended), e.service, e.message)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(e.message)
                if e.ended is None:
                    item.setFont(bold)
                self.table.setItem(i, j, item)
