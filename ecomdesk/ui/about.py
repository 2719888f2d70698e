"""About dialog: the app and the versions of the stack it runs."""

from __future__ import annotations

import platform

import pyarrow
import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from ecomdesk.install_layout import version_report


def about_text() -> str:
    rows = [
        *version_report(),
        ("Python", platform.python_version()),
        ("PySide6 / Qt", f"{PySide6.__version__} / {qVersion()}"),
        ("pyarrow", pyarrow.__version__),
    ]
    table = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;<b>{val}</b></td></tr>" for k, val in rows)
    return (
        "<h3>ecomdesk</h3><p>Run, watch and chart a real-time e-commerce pipeline: "
        "producer → Kafka → Spark Structured Streaming → HDFS Parquet → live charts.</p>"
        f"<table>{table}</table>"
    )


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About ecomdesk", about_text())
