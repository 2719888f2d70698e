"""The Alerts tab: every alert the stack's owner raised, with when it started and when it ended.

`AlertLog` (no Qt) keeps the alerts the stack's events told of (`AlertFired`, `AlertResolved`: the alert
monitor is the one tracker, nothing here diffs snapshots); the panel shows them newest first, the active
ones in bold.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ecomdesk.core.events import AlertFired, AlertResolved
from ecomdesk.stack.alerts import Alert
from ecomdesk.ui import fmt


class AlertLog:
    """The alerts of the events, oldest first (at most `keep`), the active ones by (service, key)."""

    def __init__(self, keep: int = 500):
        self.keep = keep
        self.active: dict[tuple[str, str], Alert] = {}
        self.entries: list[Alert] = []

    def apply(self, event: AlertFired | AlertResolved) -> Alert:
        """The entry the event fired or resolved."""
        ident = (event.service, event.key)
        if isinstance(event, AlertFired):
            entry = self.active[ident] = Alert(event.key, event.service, event.message, event.at)
            self.entries.append(entry)
            del self.entries[:-self.keep]
            return entry
        entry = self.active.pop(ident) if ident in self.active else Alert(event.key, event.service, event.message,
                                                                          event.started)
        if entry not in self.entries:  # fired before the events this window was given
            self.entries.append(entry)
        entry.message, entry.ended = event.message, event.at
        return entry

    def follow(self, statuses) -> bool:
        """Take the current message of each active alert from a snapshot (the lag grows while it lasts);
        whether any changed."""
        changed = False
        for s in statuses:
            for alert in s.alerts:
                entry = self.active.get((s.name, alert["key"]))
                if entry is not None and entry.message != alert["message"]:
                    entry.message, changed = alert["message"], True
        return changed


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
