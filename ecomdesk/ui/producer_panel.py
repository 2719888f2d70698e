"""Live producer controls (rate, pause/resume, invalid fraction, campaign) and its delivery counters.

Commands are the producer's stdin protocol: "rate N", "pause", "resume", "invalid F", "campaign N M".
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from ecomdesk.core.spec import UP
from ecomdesk.data.contract import TOPICS
from ecomdesk.ui import fmt


class ProducerPanel(QGroupBox):
    control = Signal(str)

    def __init__(self, default_rate: float, default_invalid: float, parent=None):
        super().__init__("Producer", parent)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.0, 1_000_000.0)
        self.rate.setDecimals(0)
        self.rate.setSingleStep(100)
        self.rate.setSuffix(" events/s")
        self.rate.setValue(default_rate)
        self.rate.setToolTip("Events per second the producer sends, over all three topics")
        self.apply_rate = QPushButton("Set rate")
        self.apply_rate.setToolTip("Send the new rate to the running producer (its `rate N` command)")
        self.invalid = QDoubleSpinBox()
        self.invalid.setRange(0.0, 1.0)
        self.invalid.setDecimals(3)
        self.invalid.setSingleStep(0.01)
        self.invalid.setValue(default_invalid)
        self.invalid.setToolTip("Fraction of the events made invalid on purpose; the Spark job quarantines them")
        self.apply_invalid = QPushButton("Set invalid fraction")
        self.apply_invalid.setToolTip("Send the new fraction to the running producer (its `invalid F` command)")
        self.pause = QPushButton("Pause")
        self.pause.setToolTip("Pause or resume the producer's sending; it keeps running")
        self.paused = False
        self.campaign_factor = QDoubleSpinBox()
        self.campaign_factor.setRange(1.1, 100.0)
        self.campaign_factor.setDecimals(1)
        self.campaign_factor.setPrefix("x")
        self.campaign_factor.setValue(3.0)
        self.campaign_minutes = QDoubleSpinBox()
        self.campaign_minutes.setRange(1.0, 24 * 60.0)
        self.campaign_minutes.setDecimals(0)
        self.campaign_minutes.setSuffix(" min")
        self.campaign_minutes.setValue(10.0)
        self.apply_campaign = QPushButton("Start campaign")
        self.apply_campaign.setToolTip("A burst: the rate times the factor for that many minutes")

        # bound methods, not lambdas: a lambda holding `self` in a child's connection keeps the panel alive
        self.apply_rate.clicked.connect(self._send_rate)
        self.rate.editingFinished.connect(self._rate_edited)
        self.apply_invalid.clicked.connect(self._send_invalid)
        self.pause.clicked.connect(self._toggle_pause)
        self.apply_campaign.clicked.connect(self._send_campaign)

        controls = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.rate, 1)
        row.addWidget(self.apply_rate)
        controls.addRow("Rate", row)
        row = QHBoxLayout()
        row.addWidget(self.invalid, 1)
        row.addWidget(self.apply_invalid)
        controls.addRow("Invalid events", row)
        row = QHBoxLayout()
        row.addWidget(self.campaign_factor)
        row.addWidget(self.campaign_minutes)
        row.addWidget(self.apply_campaign)
        controls.addRow("Campaign", row)
        controls.addRow("", self.pause)

        self.counters: dict[str, QLabel] = {}
        stats = QFormLayout()
        for key, label in (
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("failed", "Failed"),
            ("in_flight", "In flight"),
            ("rate", "Events/s"),
            ("invalid", "Invalid sent"),
            ("per_topic", "Per topic"),
        ):
            self.counters[key] = QLabel("–")
            stats.addRow(label, self.counters[key])

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(stats)
        layout.addStretch(1)
        self._set_enabled(False)

    def _send_rate(self) -> None:
        self.control.emit(f"rate {self.rate.value():g}")

    def _send_invalid(self) -> None:
        self.control.emit(f"invalid {self.invalid.value():g}")

    def _send_campaign(self) -> None:
        self.control.emit(f"campaign {self.campaign_factor.value():g} {self.campaign_minutes.value():g}")

    def _toggle_pause(self) -> None:
        self.control.emit("resume" if self.paused else "pause")

    def _rate_edited(self) -> None:
        if self.rate.hasFocus() and self.apply_rate.isEnabled():
            self._send_rate()

    def _set_enabled(self, on: bool) -> None:
        for w in (self.apply_rate, self.apply_invalid, self.apply_campaign, self.pause):
            w.setEnabled(on)

    def update_status(self, st) -> None:
        """Show the producer's latest telemetry; controls work only while it runs."""
        running = st is not None and st.state in UP
        self._set_enabled(running)
        tel = (st.telemetry if st else None) or {}
        self.paused = bool(tel.get("paused"))
        self.pause.setText("Resume" if self.paused else "Pause")
        for key in ("sent", "delivered", "failed", "in_flight", "invalid"):
            self.counters[key].setText(fmt.number(tel.get(key)))
        rate = tel.get("rate")
        target = tel.get("target_rate")
        self.counters["rate"].setText(
            "–" if rate is None else f"{fmt.number(rate)} (target {fmt.number(target)})"
        )
        per_topic = tel.get("per_topic") or {}
        self.counters["per_topic"].setText(
            # one line each: three topics on one line would set the panel's width
            "\n".join(f"{t} {fmt.number(per_topic.get(t))}" for t in TOPICS) if per_topic else "–"
        )
