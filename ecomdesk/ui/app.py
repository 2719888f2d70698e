"""Entry point of the desktop app: `ecomdesk` with no arguments calls `main(config)`."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ecomdesk.paths import resources_dir

ICON = resources_dir() / "icons" / "ecomdesk.svg"


def build_reader(config):
    from ecomdesk.hdfs import hadoop_filesystem
    from ecomdesk.readers import DataReader

    return DataReader(
        lambda: hadoop_filesystem(config),
        config.hdfs.base_path,
        config.kafka_bootstrap,
        namenode=config.namenode_address,
    )


def build_supervisor(config):
    from ecomdesk.core.supervisor import Supervisor
    from ecomdesk.services.catalog import build_specs

    paths = config.paths.ensure()
    return Supervisor(build_specs(config), paths.log_dir, paths.run_dir)


def main(config) -> int:
    from ecomdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("ecomdesk")
    app.setOrganizationName("ecomdesk")
    app.setDesktopFileName("ecomdesk")
    app.setWindowIcon(QIcon(str(ICON)))
    supervisor = build_supervisor(config)
    reader = build_reader(config)
    try:
        window = MainWindow(supervisor, reader, config)
        # Ctrl-C / SIGTERM close the window the normal way, which stops the services first.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: window.close())
        tick = QTimer()
        tick.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
        tick.start(300)
        window.show()
        return app.exec()
    finally:
        supervisor.close()  # idempotent; also covers an exception before the window closed
        reader.close()
