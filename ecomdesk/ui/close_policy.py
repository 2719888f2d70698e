"""What closing the window does while services run: keep them running in the tray, or stop them and quit.

With a tray, the user is asked once and the answer is remembered (window.ini); without one, closing asks
whether to stop them and quit, since services never outlive the app.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QSystemTrayIcon, QWidget

TRAY, QUIT = "tray", "quit"


def choose(parent: QWidget, live: list[str], settings: QSettings) -> str | None:
    """TRAY, QUIT or None (the close is cancelled), for the titles of the services that run (`live`)."""
    if not live:
        return QUIT
    if QSystemTrayIcon.isSystemTrayAvailable():
        return str(settings.value("on_close") or "") or _ask_once(parent, live, settings)
    answer = QMessageBox.question(
        parent, "Quit ecomdesk", f"Running: {', '.join(live)}.\n\nStop them and quit? (Services never outlive "
        "the window.)", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    return QUIT if answer == QMessageBox.StandardButton.Yes else None


def _ask_once(parent: QWidget, live: list[str], settings: QSettings) -> str | None:
    box = QMessageBox(QMessageBox.Icon.Question, "Close ecomdesk",
                      f"Running: {', '.join(live)}.\n\nKeep the stack running in the tray, or stop it and quit? "
                      "(Asked once; Settings… does not change it, the file window.ini does.)",
                      QMessageBox.StandardButton.Cancel, parent)
    tray = box.addButton("Keep running in the tray", QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
    box.exec()
    clicked = box.clickedButton()
    choice = TRAY if clicked is tray else QUIT if clicked is stop else None
    if choice is not None:
        settings.setValue("on_close", choice)
    return choice
