"""The main window: observes the supervisor and the data reader, and sends them commands.

Nothing here blocks the UI thread: supervisor commands run one after another on a command
thread, reads of HDFS/Kafka on reader threads; the supervisor's snapshot (in-memory, cheap) is
polled on a timer. The window never owns a service itself: closing it closes the supervisor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ecomdesk.core.spec import ACTIVE, STARTABLE, dependency_order, dependents_order
from ecomdesk.data.chart_views import Business
from ecomdesk.data.health import read_cluster
from ecomdesk.data.health.model import ClusterHealth
from ecomdesk.data.pipeline_history import PipelineHistory
from ecomdesk.data.readers import Unreachable
from ecomdesk.data.time_range import DEFAULT
from ecomdesk.stack.destroy import describe, plan, stop_and_destroy
from ecomdesk.stack.install.setup import Installer
from ecomdesk.stack.rebuild import rebuild_around
from ecomdesk.ui import fmt, stack_state
from ecomdesk.ui.about import show_about
from ecomdesk.ui.alerts_panel import AlertLog, AlertsPanel
from ecomdesk.ui.banner import Banner, StackNotice
from ecomdesk.ui.charts import BusinessCharts
from ecomdesk.ui.cluster_panel import ClusterPanel
from ecomdesk.ui.inspect_hdfs import HdfsBrowser
from ecomdesk.ui.inspect_kafka import KafkaInspector
from ecomdesk.ui.jobs import Jobs
from ecomdesk.ui.logs_panel import LogsPanel
from ecomdesk.ui.pipeline_charts import PipelineCharts
from ecomdesk.ui.producer_panel import ProducerPanel
from ecomdesk.ui.services_panel import ServicesPanel
from ecomdesk.ui.settings_dialog import SettingsDialog
from ecomdesk.ui.setup_dialog import SetupDialog, SetupPrompt
from ecomdesk.ui.tray import Tray, overall

SNAPSHOT_MS = 1000


class MainWindow(QMainWindow):
    def __init__(self, supervisor, reader, config, settings: QSettings | None = None, installer=None,
                 health: Callable[[Mapping[str, str]], ClusterHealth] | None = None):
        super().__init__()
        self.supervisor = supervisor
        self.reader = reader
        # the clusters' health from the services' states (a stopped managed system is not asked)
        self.read_health = health or partial(read_cluster, config)
        self.installer = installer or Installer()
        self.setup_dialog: SetupDialog | None = None
        self.config = config
        self.settings = settings or QSettings(
            str(config.paths.config_dir / "window.ini"), QSettings.Format.IniFormat
        )
        self.setWindowTitle("ecomdesk — e-commerce pipeline control panel")
        order = dependency_order(supervisor.specs)
        services = [(name, supervisor.specs[name].title) for name in order]
        self.busy: dict[str, int] = {}
        self.inflight: set[str] = set()
        self.last_updated: float | None = None
        self.history = PipelineHistory()
        self._close_confirmed = False
        self._closing = False

        self.commands = Jobs("ecomdesk-command", self._command_failed, parent=self)
        self.controls = Jobs("ecomdesk-control", self._control_failed, parent=self)
        self.reads = Jobs("ecomdesk-read", self._unexpected_error, threads=3, parent=self)

        self.services = ServicesPanel(services)
        self.command_status = QLabel("")
        self.command_status.setWordWrap(True)
        self.producer = ProducerPanel(config.producer.rate, config.producer.invalid_fraction)
        self.producer.setVisible("producer" in supervisor.specs)
        self.banner = Banner()
        self.notice = StackNotice()
        self.notice.start_requested.connect(self._start_all)
        self.context = ""
        self.setup_prompt = SetupPrompt()
        self.setup_prompt.setup_requested.connect(self.open_setup)
        self.setup_prompt.setVisible(not self.installer.installed())
        base_path = config.hdfs.base_path
        self.business = BusinessCharts(config.spark.top_n, base_path=base_path, currency=config.ui.currency,
                                       time_range=str(self.settings.value("time_range", DEFAULT)))
        self.business.view_changed.connect(self._view_changed)
        self.pipeline = PipelineCharts(base_path=base_path)
        self.logs = LogsPanel(services, supervisor.log_file)
        self.hdfs = HdfsBrowser(reader.base_path)
        self.kafka = KafkaInspector()
        self.alert_log = AlertLog()
        self.alerts = AlertsPanel()
        self.cluster = ClusterPanel()
        self.tray = Tray(QApplication.windowIcon(), self.show_from_tray, self.quit_from_tray, self)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        self.updated_label = QLabel("Charts: no data read yet")
        self._build_layout()
        self._build_actions()

        # bound methods, not lambdas: a lambda holding `self` in a child's connection keeps the window alive
        self.services.start_requested.connect(self._start_one)
        self.services.stop_requested.connect(self._stop_one)
        self.services.restart_requested.connect(self.restart)
        self.producer.control.connect(self.send_producer)
        self.hdfs.refresh_requested.connect(self.refresh_hdfs)
        self.kafka.peek_requested.connect(self.peek)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._unsubscribe = supervisor.subscribe_logs(self.logs.push)

        self.snapshot_timer = QTimer(self)
        self.snapshot_timer.setInterval(SNAPSHOT_MS)
        self.snapshot_timer.timeout.connect(self.refresh_services)
        self.data_timer = QTimer(self)
        self.data_timer.setInterval(int(config.ui.refresh_seconds * 1000))
        self.data_timer.timeout.connect(self.poll_data)
        self.refresh_services()
        self.snapshot_timer.start()
        self.data_timer.start()
        QTimer.singleShot(0, self.poll_data)
        self._restore_geometry()

    # ----- layout ------------------------------------------------------------------------
    def _build_layout(self) -> None:
        services_box = QGroupBox("Services")
        box_layout = QVBoxLayout(services_box)
        scroll = QScrollArea()  # small screens scroll the rows instead of forcing a huge window
        scroll.setObjectName("services-scroll")
        scroll.setWidget(self.services)
        scroll.setWidgetResizable(True)
        # the rows fit the width (long messages are elided): never a horizontal bar over the buttons
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        box_layout.addWidget(scroll, 1)
        box_layout.addWidget(self.command_status)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(services_box, 3)
        top_layout.addWidget(self.producer, 1)
        self.tabs = QTabWidget()
        for i, (page, name, tip) in enumerate(self._pages()):
            self.tabs.addTab(page, name)
            self.tabs.setTabToolTip(i, f"{tip} (Ctrl+{i + 1})")
        self.tabs.setCornerWidget(self.updated_label, Qt.Corner.TopRightCorner)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.setup_prompt)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.resize(1400, 900)

    def _pages(self) -> list[tuple[QWidget, str, str]]:
        base = self.config.hdfs.base_path
        return [
            (self.business, "Business", f"Business charts, from the aggregates under {base}/aggregates on HDFS"),
            (self.pipeline, "Pipeline", "Pipeline health: producer and Spark job telemetry, quarantine"),
            (self.logs, "Logs", "The services' logs, live"),
            (self.hdfs, "HDFS", f"Files and bytes under {base} on HDFS"),
            (self.kafka, "Kafka", "Topics, their offsets, and the last messages of one"),
            (self.alerts, "Alerts", "Alerts with their start and end times; thresholds in [alerts] of the config"),
            (self.cluster, "Cluster", "Health of the Kafka, HDFS and Spark clusters, managed or external"),
        ]

    def _action(self, text: str, keys: str, tip: str, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setToolTip(f"{tip} ({keys})")
        action.triggered.connect(slot)
        self.addAction(action)  # its shortcut works wherever the focus is
        return action

    def _build_actions(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main-toolbar")
        self.start_all = self._action("▶ Start all", stack_state.START_KEYS,
                                      "Start HDFS, Kafka, the Spark job and the producer", self._start_all)
        self.stop_all = self._action("■ Stop all", "Ctrl+Shift+S", "Stop every service", self._stop_all)
        self.refresh_action = self._action("⟳ Refresh", "F5", "Read the services, charts, HDFS and Kafka now",
                                    self.refresh_now)
        settings = self._action("Settings…", "Ctrl+,", "Edit the configuration (ports, endpoints, charts)",
                                self.open_settings)
        self.destroy_action = self._action("Destroy data…", "Ctrl+Shift+Del",
                                           "Remove this home's Kafka topics, HDFS data, the job's checkpoint and "
                                           "aggregates, to start over (asks first)", self.destroy_data)
        self.rebuild_action = self._action("Rebuild aggregates…", "Ctrl+Shift+B",
                                           "Recompute every aggregate from the raw events on HDFS into a new "
                                           "version (the Spark job pauses meanwhile; asks first)", self.rebuild)
        about = self._action("About", "F1", "Versions of ecomdesk, Kafka, Hadoop and Spark", self._about)
        for a in (self.start_all, self.stop_all, self.refresh_action):
            bar.addAction(a)
        bar.addSeparator()
        bar.addAction(settings)
        bar.addAction(self.rebuild_action)
        bar.addAction(self.destroy_action)
        bar.addAction(about)
        self.tab_actions = []
        for i, (_page, name, _) in enumerate(self._pages()):
            action = QAction(f"Show {name}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.setData(i)
            action.triggered.connect(self._show_tab)
            self.addAction(action)
            self.tab_actions.append(action)

    def _show_tab(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.tabs.setCurrentIndex(int(action.data()))

    def refresh_now(self) -> None:
        self.refresh_services()
        self.poll_data()
        self.refresh_hdfs()  # also off its tab (a read already running is not started twice)
        self.statusBar().showMessage("Refreshing…", 2000)

    # ----- services ----------------------------------------------------------------------
    def refresh_services(self) -> None:
        statuses = self.supervisor.snapshot()
        busy = {n for n, c in self.busy.items() if c}
        self.services.update_statuses(statuses, busy)
        by_name = {s.name: s for s in statuses}
        self.producer.update_status(by_name.get("producer"))
        idle = not busy and not self._closing
        installed = not self.setup_prompt.isVisibleTo(self)
        can_start = idle and installed and any(s.state in STARTABLE for s in statuses)
        self.start_all.setEnabled(can_start)
        self.start_all.setToolTip(
            f"Start HDFS, Kafka, the Spark job and the producer ({stack_state.START_KEYS})"
            if installed else "Set up the stack first"
        )
        self.stop_all.setEnabled(not self._closing and any(s.state in ACTIVE for s in statuses))
        context = stack_state.context(statuses, installed)
        stopped = installed and not self._closing and stack_state.stack_stopped(statuses)
        self.notice.show_state(context if stopped else None, can_start)
        self._set_context(context)
        if self.history.ingest(statuses):
            self.pipeline.draw_history(self.history)
        self._update_alerts(statuses)

    def _update_alerts(self, statuses) -> None:
        """Fired and resolved alerts into the Alerts tab and the desktop's notifications; the tray's colour."""
        fired, resolved = self.alert_log.ingest(statuses, time.time())
        if fired or resolved:
            self.alerts.show_log(self.alert_log)
            active = len(self.alert_log.active)
            self.tabs.setTabText(self.tabs.indexOf(self.alerts), f"Alerts ({active})" if active else "Alerts")
        for e in fired:
            self.tray.notify(f"ecomdesk: {e.service}", e.message)
        for e in resolved:
            self.tray.notify(f"ecomdesk: {e.service} resolved", e.message, error=False)
        state = overall(statuses, len(self.alert_log.active))
        running = sum(1 for s in statuses if s.state in ACTIVE)
        self.tray.set_state(state, f"ecomdesk: {running}/{len(statuses)} services running, "
                                   f"{len(self.alert_log.active)} active alert(s)")

    def _set_context(self, context: str) -> None:
        """Tell every chart why it may have no data (shown only by the charts that have none)."""
        if context == self.context:
            return
        self.context = context
        for box in self.business.boxes() + self.pipeline.boxes():
            box.set_context(context)

    def _run(self, label: str, names: list[str], fn) -> None:
        for n in names:
            self.busy[n] = self.busy.get(n, 0) + 1
        self.command_status.setStyleSheet("")
        self.command_status.setText(f"{label}…")

        def done(error: BaseException | None) -> None:
            for n in names:
                self.busy[n] -= 1
            if error is None:
                self.command_status.setText(f"{label}: done at {fmt.clock(time.time())}")
            else:
                self.command_status.setStyleSheet("color:#c0392b")
                self.command_status.setText(f"{label} failed: {error}")
                self.statusBar().showMessage(f"{label} failed", 10000)
            self.refresh_services()

        self.commands.submit(fn, on_done=lambda _: done(None), on_error=done)
        self.refresh_services()

    def start(self, names: list[str] | None) -> None:
        title = "Start all" if names is None else f"Start {', '.join(names)}"
        self._run(title, dependency_order(self.supervisor.specs, names), lambda: self.supervisor.start(names))

    def stop(self, names: list[str] | None) -> None:
        title = "Stop all" if names is None else f"Stop {', '.join(names)}"
        affected = dependents_order(self.supervisor.specs, names or list(self.supervisor.specs))
        self._run(title, affected, lambda: self.supervisor.stop(names))

    def _start_one(self, name: str) -> None:
        self.start([name])

    def _stop_one(self, name: str) -> None:
        self.stop([name])

    def _start_all(self) -> None:
        self.start(None)

    def _stop_all(self) -> None:
        self.stop(None)

    def open_setup(self) -> None:
        """Run setup in a dialog (current step, files downloaded, elapsed time, Cancel)."""
        if self.setup_dialog is not None and self.setup_dialog.running:
            self.setup_dialog.raise_()
            return
        self.setup_dialog = SetupDialog(self.installer, self)
        self.setup_dialog.finished.connect(self._setup_closed)
        self.setup_dialog.start()
        self.setup_dialog.open()

    def _setup_closed(self) -> None:
        self.setup_prompt.setVisible(not self.installer.installed())
        self.refresh_services()

    def rebuild(self) -> None:
        """Recompute the aggregates from the raw events, stopping the job around it; asks first."""
        answer = QMessageBox.question(
            self, "Rebuild aggregates",
            "Recompute every aggregate from the raw events kept on HDFS, into a new version?\n\n"
            "The Spark job stops meanwhile and starts again after; the charts switch to the new version "
            "when it is complete, and the old one stays until then. Spark's log: logs/rebuild.log.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self._run("Rebuild aggregates", ["spark-job"], partial(rebuild_around, self.supervisor, self.config))

    def destroy_data(self) -> None:
        """Remove this home's stack data, after a confirmation that names exactly what goes."""
        doomed = plan(self.config)
        if not doomed:
            QMessageBox.information(self, "Destroy data", describe(doomed).capitalize() + ".")
            return
        live = [s.title for s in self.supervisor.snapshot() if s.state in ACTIVE]
        text = f"This removes:\n{describe(doomed)}\n\nThe config and the logs stay."
        if live:
            text += f"\n\nRunning now: {', '.join(live)}. They are stopped first."
        box = QMessageBox(QMessageBox.Icon.Warning, "Destroy data", text, QMessageBox.StandardButton.Cancel, self)
        go = box.addButton("Stop and destroy" if live else "Destroy", QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        if box.clickedButton() is go:
            self._run("Destroy data", list(self.supervisor.specs), partial(stop_and_destroy, self.supervisor,
                                                                            self.config))

    def _about(self) -> None:
        show_about(self)

    def restart(self, name: str) -> None:
        affected = set(dependents_order(self.supervisor.specs, [name])) | set(
            dependency_order(self.supervisor.specs, [name])
        )
        self._run(f"Restart {name}", sorted(affected), lambda: self.supervisor.restart(name))

    def send_producer(self, command: str) -> None:
        self.statusBar().showMessage(f"producer ← {command}", 5000)
        self.controls.submit(lambda: self.supervisor.send_control("producer", command))

    def _command_failed(self, exc: BaseException) -> None:
        self.command_status.setText(f"Command failed: {exc}")

    def _control_failed(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Producer command failed: {exc}", 10000)

    def _unexpected_error(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"{type(exc).__name__}: {exc}", 10000)

    # ----- data --------------------------------------------------------------------------
    def _read(self, key: str, source: str, fn, on_done) -> None:
        """Start one read unless the previous read of the same kind is still running."""
        if key in self.inflight or self._closing:
            return
        self.inflight.add(key)
        before = stack_state.states_of(self.supervisor.snapshot())

        def ok(result) -> None:
            self.inflight.discard(key)
            self.banner.set_problem(source, None)
            on_done(result)

        def failed(exc: BaseException) -> None:
            self.inflight.discard(key)
            if isinstance(exc, Unreachable):
                self._unreachable(source, str(exc), before)
            else:
                self.banner.set_problem(source, f"{source.upper()} read failed: {type(exc).__name__}: {exc}")

        self.reads.submit(fn, on_done=ok, on_error=failed)

    def _unreachable(self, source: str, message: str, before: dict[str, str]) -> None:
        """A source did not answer: the stopped stack's state (the charts' empty state says so), or
        an alarm when its service should be up or it is an external cluster (the banner)."""
        statuses = self.supervisor.snapshot()
        if stack_state.unreachable_is_expected(source, stack_state.states_of(statuses), before):
            self.banner.set_problem(source, None)
            return
        service = stack_state.service_for(source, statuses)
        why = f" — {service[0]} is {service[1]}" if service else " — an external cluster (see Settings)"
        self.banner.set_problem(source, message + why)

    def poll_data(self) -> None:
        # read on the UI thread, used in the reader's
        top_n, user_sort, view = self.business.top_n, self.business.user_sort_key(), self.business.chart_view()
        self._read("business", "hdfs", lambda: self.reader.business(top_n, user_sort, view), self._show_business)
        self._read("topics", "kafka", self.reader.kafka_topics, self.kafka.show_topics)
        self.refresh_health()
        if self.tabs.currentWidget() is self.hdfs:
            self.refresh_hdfs()

    def refresh_health(self) -> None:
        """Read the clusters' health (states, never exceptions, unless the reader itself breaks)."""
        if "health" in self.inflight or self._closing:
            return
        self.inflight.add("health")
        states = {s.name: str(s.state) for s in self.supervisor.snapshot()}
        self.reads.submit(partial(self.read_health, states), self._show_health, self._health_failed)

    def _show_health(self, health: ClusterHealth) -> None:
        self.inflight.discard("health")
        self.cluster.show_health(health)
        n = self.cluster.problems
        self.tabs.setTabText(self.tabs.indexOf(self.cluster), f"Cluster ({n})" if n else "Cluster")

    def _health_failed(self, exc: BaseException) -> None:
        self.inflight.discard("health")
        self.cluster.show_error(f"{type(exc).__name__}: {exc}")

    def _view_changed(self) -> None:
        self.settings.setValue("time_range", self.business.range_bar.key())  # kept across restarts
        self.poll_data()

    def _show_business(self, data: Business) -> None:
        self.business.show_data(data)
        self.pipeline.draw_quarantine(data.quarantine)
        self.last_updated = time.time()
        self.updated_label.setText(f"Charts updated {fmt.clock(self.last_updated)}  ")

    def refresh_hdfs(self) -> None:
        self._read("hdfs_listing", "hdfs", self.reader.hdfs_listing, self.hdfs.show_listing)

    def peek(self, topic: str, n: int) -> None:
        def failed(exc: BaseException) -> None:
            self.kafka.show_error(f"Peek failed: {exc}")

        self.reads.submit(lambda: self.reader.kafka_peek(topic, n), self.kafka.show_messages, failed)

    def _tab_changed(self) -> None:
        if self.tabs.currentWidget() is self.hdfs:
            self.refresh_hdfs()

    # ----- settings, geometry, closing ---------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.config, self)
        if dialog.exec():
            self.data_timer.setInterval(int(self.config.ui.refresh_seconds * 1000))
            self.business.top_n = self.config.spark.top_n
            self.statusBar().showMessage(f"Settings saved to {self.config.paths.config_file}", 8000)

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.value("splitter")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)

    def _save_geometry(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self._close_confirmed:
            self._save_geometry()
            self.snapshot_timer.stop()
            self.data_timer.stop()
            self._unsubscribe()
            for jobs in (self.reads, self.controls, self.commands):
                jobs.shutdown()
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        live = [s.title for s in self.supervisor.snapshot() if s.state in ACTIVE]
        if live and QSystemTrayIcon.isSystemTrayAvailable():
            choice = self.settings.value("on_close") or self._ask_close(live)
            if choice == "tray":
                self.hide()
                self.tray.notify("ecomdesk keeps running", "The stack runs on; the tray icon brings the window "
                                 "back or stops it.", error=False)
                return
            if choice != "quit":
                return
        elif live:
            answer = QMessageBox.question(
                self,
                "Quit ecomdesk",
                f"Running: {', '.join(live)}.\n\nStop them and quit? (Services never outlive the window.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._stop_and_quit()

    def _ask_close(self, live: list[str]) -> str | None:
        """Asked once: keep the stack running in the tray, or stop it and quit; the answer is remembered."""
        box = QMessageBox(QMessageBox.Icon.Question, "Close ecomdesk",
                          f"Running: {', '.join(live)}.\n\nKeep the stack running in the tray, or stop it and quit? "
                          "(Asked once; Settings… does not change it, the file window.ini does.)",
                          QMessageBox.StandardButton.Cancel, self)
        tray = box.addButton("Keep running in the tray", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        clicked = box.clickedButton()
        choice = "tray" if clicked is tray else "quit" if clicked is stop else None
        if choice is not None:
            self.settings.setValue("on_close", choice)
        return choice

    def show_from_tray(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit_from_tray(self) -> None:
        if not self._closing:
            self._stop_and_quit()

    def _stop_and_quit(self) -> None:
        self._closing = True
        self.command_status.setText("Stopping all services before quitting…")
        self.refresh_services()
        self.commands.submit(self.supervisor.close, on_done=self._closed, on_error=self._closed)

    def _closed(self, result) -> None:
        if isinstance(result, BaseException):
            QMessageBox.critical(self, "ecomdesk", f"Stopping the services failed: {result}")
        self._close_confirmed = True
        self.close()
