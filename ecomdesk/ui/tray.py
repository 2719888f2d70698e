"""The system tray icon: the app's icon with a dot whose colour is the stack's overall state, the
alerts as desktop notifications, and the way back to a window closed to the tray."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ecomdesk.core.spec import ACTIVE, State

COLOURS = {"stopped": "#9e9e9e", "ok": "#2e7d32", "warning": "#f9a825", "error": "#c62828"}


def overall(statuses, alerts: int) -> str:
    """stopped (nothing runs), error (a service failed), warning (restarting, unhealthy or an alert), ok."""
    states = {State(s.state) for s in statuses}
    if State.FAILED in states:
        return "error"
    if states & {State.RESTARTING, State.UNHEALTHY} or alerts:
        return "warning"
    return "ok" if states & set(ACTIVE) else "stopped"


def state_icon(base: QIcon, state: str, size: int = 64) -> QIcon:
    pixmap = base.pixmap(size, size) if not base.isNull() else QPixmap(size, size)
    if base.isNull():
        pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor("white"))
    painter.setBrush(QColor(COLOURS[state]))
    painter.drawEllipse(QRectF(size * 0.55, size * 0.55, size * 0.42, size * 0.42))
    painter.end()
    return QIcon(pixmap)


class Tray(QSystemTrayIcon):
    """`show_window` and `quit_app` are only connected (never kept): the tray is the window's child."""

    open_requested = Signal()

    def __init__(self, base: QIcon, show_window, quit_app, parent=None):
        super().__init__(parent)
        self.base = base
        self.state = ""
        self.menu = QMenu()
        for text, slot in (("Show ecomdesk", show_window), ("Stop the stack and quit", quit_app)):
            action = QAction(text, self.menu)
            action.triggered.connect(slot)
            self.menu.addAction(action)
        self.setContextMenu(self.menu)
        self.activated.connect(self._activated)
        self.open_requested.connect(show_window)
        self.set_state("stopped", "ecomdesk: the stack is stopped")

    def set_state(self, state: str, tooltip: str) -> None:
        if state != self.state:
            self.state = state
            self.setIcon(state_icon(self.base, state))
        self.setToolTip(tooltip)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_requested.emit()

    def notify(self, title: str, message: str, error: bool = True) -> None:
        icon = QSystemTrayIcon.MessageIcon.Warning if error else QSystemTrayIcon.MessageIcon.Information
        self.showMessage(title, message, icon, 10000)
