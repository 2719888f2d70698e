"""Edits the shared configuration file; one form row per setting, generated from the dataclasses.

The edited values go through `config.from_dict`, the same validation as loading the file, so the
dialog cannot save something the CLI would then refuse.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ecomdesk import config as config_mod

SECTION_TITLES = {
    "ports": "Ports",
    "memory": "Memory",
    "kafka": "Kafka",
    "hdfs": "HDFS",
    "spark": "Spark",
    "producer": "Producer",
    "ui": "Charts",
    "alerts": "Alerts",
    "dirs": "Data dirs",
}
FLOAT_RANGES = {("producer", "invalid_fraction"): (0.0, 1.0), ("ui", "refresh_seconds"): (0.2, 3600.0)}
INT_RANGES = {"ports": (1, 65535)}
HINTS = {
    ("kafka", "bootstrap"): "empty = the managed local broker (host:port,... otherwise)",
    ("kafka", "password_env"): "the NAME of the variable holding the password",
    ("kafka", "password_file"): "a file holding the password (first line)",
    ("kafka", "ca_file"): "PEM of the brokers' CA (SSL); empty = the system's CAs",
    ("hdfs", "namenode"): "empty = the managed local NameNode (host:port, or an HA nameservice id)",
    ("hdfs", "namenodes"): "HA only: host:port,... of the nameservice's NameNodes",
    ("dirs", "data"): "empty = the app's data dir",
    ("producer", "seed"): "empty = random",
    ("ui", "currency"): "shown on the sales axes",
}
TOOLTIPS = {
    ("alerts", "service_down"): "alert when a service fails or is restarting",
    ("alerts", "lag_seconds"): "alert when the job's newest committed event is older than this (0: off)",
    ("alerts", "slow_batches"): "alert after this many batches in a row slower than the trigger (0: off)",
    ("alerts", "quarantine_percent"): "alert when more than this share of a batch is quarantined (0: off)",
    ("alerts", "silence_seconds"): "alert when no events reach the job for this long while the producer "
                                   "sends (0: off)",
}
Editor = QSpinBox | QDoubleSpinBox | QLineEdit | QCheckBox


class SettingsDialog(QDialog):
    def __init__(self, config: config_mod.Config, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.config = config
        self.fields: dict[tuple[str, str], Editor] = {}
        tabs = QTabWidget()
        for section in SECTION_TITLES:
            values = getattr(config, section)
            page = QWidget()
            form = QFormLayout(page)
            for f in dataclasses.fields(values):
                widget = self._editor(section, f.name, getattr(values, f.name), f.default)
                widget.setToolTip(TOOLTIPS.get((section, f.name), ""))
                self.fields[(section, f.name)] = widget
                form.addRow(f.name.replace("_", " "), widget)
            tabs.addTab(page, SECTION_TITLES[section])
        note = QLabel(
            "Service settings apply the next time a service starts; the chart refresh interval "
            "applies at once. Saved to " + str(config.paths.config_file)
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _editor(self, section: str, key: str, value, default) -> Editor:
        if isinstance(value, bool):
            box = QCheckBox()
            box.setChecked(value)
            return box
        if isinstance(default, float):
            w = QDoubleSpinBox()
            w.setDecimals(3)
            w.setRange(*FLOAT_RANGES.get((section, key), (0.0, 10_000_000.0)))
            w.setValue(value)
            return w
        if isinstance(default, int):
            spin = QSpinBox()
            spin.setRange(*INT_RANGES.get(section, (0, 1_000_000_000)))
            spin.setValue(value)
            return spin
        edit = QLineEdit("" if value is None else str(value))
        if (section, key) in HINTS:
            edit.setPlaceholderText(HINTS[(section, key)])
        return edit

    def values(self) -> dict:
        data: dict[str, dict] = {s: {} for s in SECTION_TITLES}
        for (section, key), w in self.fields.items():
            if isinstance(w, QCheckBox):
                data[section][key] = w.isChecked()
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                data[section][key] = w.value()
            elif (section, key) == ("producer", "seed"):
                text = w.text().strip()
                if text:
                    try:
                        data[section][key] = int(text)
                    except ValueError:
                        raise config_mod.ConfigError(
                            f"[producer] seed must be an integer, got {text!r}"
                        ) from None
            else:
                data[section][key] = w.text().strip()
        return data

    def accept(self) -> None:
        try:
            checked = config_mod.from_dict(self.values(), self.config.paths)
        except config_mod.ConfigError as exc:
            QMessageBox.warning(self, "Invalid settings", str(exc))
            return
        for section in SECTION_TITLES:
            setattr(self.config, section, getattr(checked, section))
        self.config.save()
        super().accept()
