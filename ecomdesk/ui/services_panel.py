"""One row per managed service: state badge, process figures, last message and its buttons."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

from ecomdesk.core.spec import RESTARTABLE, STARTABLE, STOPPABLE, State
from ecomdesk.ui import fmt

BADGE_COLORS = {
    State.STOPPED: "#7f8c8d",
    State.STARTING: "#2980b9",
    State.RUNNING: "#27ae60",
    State.UNHEALTHY: "#e67e22",
    State.RESTARTING: "#d35400",
    State.FAILED: "#c0392b",
    State.STOPPING: "#8e44ad",
}
COLUMNS = ("Service", "State", "PID", "Uptime", "CPU %", "RSS", "Ports", "Message", "", "", "")


class ElidedLabel(QLabel):
    """One line that takes the room its column has and ends in "…" when the text is longer; `text()`
    stays the whole text, and the tooltip (set by the row) holds it too."""

    elides = True  # the window's fit test knows it is short on purpose

    def __init__(self, minimum: int = 48, parent=None):
        super().__init__(parent)
        self.minimum = minimum
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self.minimum, super().minimumSizeHint().height())

    def elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        try:
            self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), text,
                                      self.foregroundRole())
        finally:
            painter.end()


@dataclass(frozen=True)
class Actions:
    start: bool
    stop: bool
    restart: bool


def allowed_actions(state: str, busy: bool) -> Actions:
    """Which buttons make sense for a service in `state`; none while a command for it is pending."""
    if busy:
        return Actions(False, False, False)
    s = State(state)
    return Actions(
        start=s in STARTABLE,
        stop=s in STOPPABLE,
        restart=s in RESTARTABLE,
    )


class ServiceRow:
    def __init__(self, grid: QGridLayout, row: int, name: str, title: str, panel: ServicesPanel):
        self.name = name
        self.title = QLabel(f"<b>{title}</b>")
        self.badge = QLabel()
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumWidth(80)
        self.pid, self.uptime, self.cpu, self.rss = (QLabel() for _ in range(4))
        self.ports = ElidedLabel(60)  # a broker's or a DataNode's ports are long: the tooltip lists them whole
        self.message = ElidedLabel(80)
        self.start = QPushButton("Start")
        self.stop = QPushButton("Stop")
        self.restart = QPushButton("Restart")
        self.start.setToolTip(f"Start {title} and the services it needs")
        self.stop.setToolTip(f"Stop {title} and the services that run on it")
        self.restart.setToolTip(f"Stop and start {title} again, with the services that run on it")
        for b in (self.start, self.stop, self.restart):
            b.setObjectName(f"{b.text().lower()}-{name}")
        # partials of the signals' emit: a lambda holding `panel` would keep the panel alive for good
        self.start.clicked.connect(partial(panel.start_requested.emit, name))
        self.stop.clicked.connect(partial(panel.stop_requested.emit, name))
        self.restart.clicked.connect(partial(panel.restart_requested.emit, name))
        widgets = (
            self.title,
            self.badge,
            self.pid,
            self.uptime,
            self.cpu,
            self.rss,
            self.ports,
            self.message,
            self.start,
            self.stop,
            self.restart,
        )
        for col, w in enumerate(widgets):
            grid.addWidget(w, row, col)
        self.state = State.STOPPED
        self.show_state(State.STOPPED)

    def show_state(self, state: str) -> None:
        self.state = State(state)
        color = BADGE_COLORS[self.state]
        self.badge.setText(self.state.value.upper())
        self.badge.setStyleSheet(
            f"background:{color}; color:white; border-radius:4px; padding:2px 6px; font-weight:bold"
        )

    def update(self, st, busy: bool) -> None:
        self.show_state(st.state)
        self.pid.setText(str(st.pid) if st.pid else "–")
        self.uptime.setText(fmt.duration(st.uptime))
        self.cpu.setText(fmt.number(st.cpu_percent, 1))
        self.rss.setText(fmt.size(st.rss))
        # the numbers only: the names and addresses are in the tooltip (a DataNode's three names did not fit)
        self.ports.setText(", ".join(v.rsplit(":", 1)[-1] for v in st.endpoints.values()) or "–")
        self.ports.setToolTip("\n".join(f"{k}: {v}" for k, v in st.endpoints.items()))
        text = st.message or ""
        if self.state == State.FAILED and st.exit_code is not None and "exit code" not in text:
            text = f"{text} (exit code {st.exit_code})"
        self.message.setText(text)
        color = "#c0392b" if self.state in (State.FAILED, State.UNHEALTHY, State.RESTARTING) else "palette(text)"
        self.message.setStyleSheet(f"color:{color}")
        tip = text
        if st.last_lines:
            tip += "\n\nLast log lines:\n" + "\n".join(st.last_lines[-12:])
        self.message.setToolTip(tip)
        acts = allowed_actions(st.state, busy)
        self.start.setEnabled(acts.start)
        self.stop.setEnabled(acts.stop)
        self.restart.setEnabled(acts.restart)


class ServicesPanel(QWidget):
    start_requested = Signal(str)
    stop_requested = Signal(str)
    restart_requested = Signal(str)

    def __init__(self, services: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(12)
        for col, head in enumerate(COLUMNS):
            label = QLabel(f"<i>{head}</i>")
            grid.addWidget(label, 0, col)
        grid.setColumnStretch(COLUMNS.index("Ports"), 1)
        grid.setColumnStretch(COLUMNS.index("Message"), 2)
        self.rows = {
            name: ServiceRow(grid, i + 1, name, title, self) for i, (name, title) in enumerate(services)
        }

    def update_statuses(self, statuses, busy: set[str]) -> None:
        for st in statuses:
            row = self.rows.get(st.name)
            if row is not None:
                row.update(st, st.name in busy)
