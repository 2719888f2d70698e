"""Edits the shared configuration file; one form row per setting, generated from the dataclasses.

Each field's range, help and hint come from its metadata in `config` (`config.setting`), which the file's
own check reads too; the edited values go through `config.from_dict`, the same validation as loading the
file, so the dialog cannot save something the CLI would then refuse.
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
    "restart": "Restart",
    "alerts": "Alerts",
    "dirs": "Data dirs",
}
UNBOUNDED = (0, 1_000_000_000)  # a number without a range in its metadata
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
                if f.type == "dict":  # [restart.services.NAME]: per-service tables, edited in the file
                    continue
                widget = self._editor(getattr(values, f.name), f)
                widget.setToolTip(f.metadata.get("help", ""))
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

    @staticmethod
    def _editor(value, f: dataclasses.Field) -> Editor:
        low, high = f.metadata.get("range", (None, None))
        low, high = UNBOUNDED[0] if low is None else low, UNBOUNDED[1] if high is None else high
        if isinstance(value, bool):
            box = QCheckBox()
            box.setChecked(value)
            return box
        if isinstance(f.default, float):
            w = QDoubleSpinBox()
            w.setDecimals(3)
            w.setRange(float(low), float(high))
            w.setValue(value)
            return w
        if isinstance(f.default, int):
            spin = QSpinBox()
            spin.setRange(int(low), int(high))
            spin.setValue(value)
            return spin
        edit = QLineEdit("" if value is None else str(value))
        edit.setPlaceholderText(f.metadata.get("hint", ""))
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
        data["restart"]["services"] = self.config.restart.services  # kept as the file has them
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
