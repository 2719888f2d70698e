"""Entry point of the desktop app: `ecomdesk` with no arguments calls `main(config)`."""

from __future__ import annotations

import signal
import sys
from typing import cast

import shiboken6
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ecomdesk.desktop.entry import APP_ID
from ecomdesk.paths import resource

ICON = resource("icons", "ecomdesk.svg")


def build_reader(config):
    from ecomdesk.data.hdfs import hadoop_filesystem
    from ecomdesk.data.readers import DataReader
    from ecomdesk.kafka_client import security_conf

    return DataReader(
        lambda: hadoop_filesystem(config),
        config.hdfs.base_path,
        config.kafka_bootstrap,
        namenode=config.namenode_addresses,
        kafka_security=security_conf(config),
    )


def main(config) -> int:
    from ecomdesk.stack.door import LocalStack
    from ecomdesk.ui.gc_collector import GuiCollector
    from ecomdesk.ui.main_window import MainWindow

    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv))
    app.setApplicationName("ecomdesk")
    app.setOrganizationName("ecomdesk")
    app.setDesktopFileName(APP_ID)  # the installed desktop entry (ecomdesk desktop install)
    app.setWindowIcon(QIcon(str(ICON)))
    # Cyclic garbage (Qt objects in it) is collected on this thread only, never by whichever reader
    # or pyarrow thread allocates next. On until the process ends: reads may outlive the window.
    collector = GuiCollector().start()  # noqa: F841 (its timer lives as long as this reference)
    stack = LocalStack(config)
    reader = build_reader(config)
    window = None
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        window = MainWindow(stack, reader, config)
        # Ctrl-C / SIGTERM close the window the normal way, which stops the services first. The handler
        # only posts the close to the event loop: Python runs a handler wherever the main thread is, and
        # closing from inside the window's own ThreadPoolExecutor.submit (which holds a module lock that
        # the close's submit takes again) deadlocked the app (fresh clone 4 of issue 22, py-spy's stacks).
        for sig in handlers:
            signal.signal(sig, lambda *_: QTimer.singleShot(0, window.close))
        tick = QTimer()
        tick.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
        tick.start(300)
        window.show()
        return app.exec()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        stack.close()  # idempotent; also covers an exception before the window closed
        reader.close()
        if window is not None:
            _dispose(window)


def _dispose(window) -> None:
    """Destroy the window here, on the GUI thread, once no worker still runs a job of it (a job's
    callbacks hold the window, and the interpreter joins those workers at exit anyway)."""
    window.shutdown_jobs(wait=True)
    QCoreApplication.sendPostedEvents()  # the jobs the workers handed back to this thread
    shiboken6.delete(window)
