"""The main window's arrangement: the services and the producer on top, the tabs below, the toolbar and
its keyboard shortcuts. Builds widgets only; what they do is the window's."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ecomdesk.ui import stack_state


def pages(window) -> list[tuple[QWidget, str, str]]:
    base = window.config.hdfs.base_path
    return [
        (window.business, "Business", f"Business charts, from the aggregates under {base}/aggregates on HDFS"),
        (window.pipeline, "Pipeline", "Pipeline health: producer and Spark job telemetry, quarantine"),
        (window.logs, "Logs", "The services' logs, live"),
        (window.hdfs, "HDFS", f"Files and bytes under {base} on HDFS"),
        (window.kafka, "Kafka", "Topics, their offsets, and the last messages of one"),
        (window.alerts, "Alerts", "Alerts with their start and end times; thresholds in [alerts] of the config"),
        (window.cluster, "Cluster", "Health of the Kafka, HDFS and Spark clusters, managed or external"),
    ]


def build_layout(window) -> tuple[QTabWidget, QSplitter]:
    """The central widget; returns its tabs and the splitter between the services and the tabs."""
    services_box = QGroupBox("Services")
    box_layout = QVBoxLayout(services_box)
    scroll = QScrollArea()  # small screens scroll the rows instead of forcing a huge window
    scroll.setObjectName("services-scroll")
    scroll.setWidget(window.services)
    scroll.setWidgetResizable(True)
    # the rows fit the width (long messages are elided): never a horizontal bar over the buttons
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    box_layout.addWidget(scroll, 1)
    box_layout.addWidget(window.command_status)
    top = QWidget()
    top_layout = QHBoxLayout(top)
    top_layout.setContentsMargins(0, 0, 0, 0)
    top_layout.addWidget(services_box, 3)
    top_layout.addWidget(window.producer, 1)
    tabs = QTabWidget()
    for i, (page, name, tip) in enumerate(pages(window)):
        tabs.addTab(page, name)
        tabs.setTabToolTip(i, f"{tip} (Ctrl+{i + 1})")
    tabs.setCornerWidget(window.updated_label, Qt.Corner.TopRightCorner)
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(top)
    splitter.addWidget(tabs)
    splitter.setStretchFactor(1, 1)
    central = QWidget()
    layout = QVBoxLayout(central)
    for banner in (window.banner, window.notice, window.setup_prompt):
        layout.addWidget(banner)
    layout.addWidget(splitter, 1)
    window.setCentralWidget(central)
    window.resize(1400, 900)
    return tabs, splitter


def _action(window, text: str, keys: str, tip: str, slot) -> QAction:
    action = QAction(text, window)
    action.setShortcut(QKeySequence(keys))
    action.setToolTip(f"{tip} ({keys})")
    action.triggered.connect(slot)
    window.addAction(action)  # its shortcut works wherever the focus is
    return action


def build_actions(window) -> tuple[QAction, QAction, QAction]:
    """The toolbar and Ctrl+1..7 for the tabs; returns Start all, Stop all and Refresh."""
    bar = window.addToolBar("Main")
    bar.setObjectName("main-toolbar")
    start_all = _action(window, "▶ Start all", stack_state.START_KEYS,
                        "Start HDFS, Kafka, the Spark job and the producer", window.commands.start_all)
    stop_all = _action(window, "■ Stop all", "Ctrl+Shift+S", "Stop every service", window.commands.stop_all)
    refresh = _action(window, "⟳ Refresh", "F5", "Read the services, charts, HDFS and Kafka now", window.refresh_now)
    settings = _action(window, "Settings…", "Ctrl+,", "Edit the configuration (ports, endpoints, charts)",
                       window.open_settings)
    destroy = _action(window, "Destroy data…", "Ctrl+Shift+Del",
                                    "Remove this home's Kafka topics, HDFS data, the job's checkpoint and "
                                    "aggregates, to start over (asks first)", window.commands.destroy)
    rebuild = _action(window, "Rebuild aggregates…", "Ctrl+Shift+B",
                                    "Recompute every aggregate from the raw events on HDFS into a new version "
                                    "(the Spark job pauses meanwhile; asks first)", window.commands.rebuild)
    about = _action(window, "About", "F1", "Versions of ecomdesk, Kafka, Hadoop and Spark", window.about)
    for a in (start_all, stop_all, refresh):
        bar.addAction(a)
    bar.addSeparator()
    for a in (settings, rebuild, destroy, about):
        bar.addAction(a)
    for i, (_page, name, _) in enumerate(pages(window)):
        action = QAction(f"Show {name}", window)
        action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        action.setData(i)
        action.triggered.connect(window.show_tab)
        window.addAction(action)
    return start_all, stop_all, refresh


def restore_geometry(window) -> None:
    """The window's size, place and splitter as the user left them (window.ini)."""
    for key, restore in (("geometry", window.restoreGeometry), ("splitter", window.splitter.restoreState)):
        value = window.settings.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            restore(value)


def save_geometry(window) -> None:
    window.settings.setValue("geometry", window.saveGeometry())
    window.settings.setValue("splitter", window.splitter.saveState())
    window.settings.sync()
