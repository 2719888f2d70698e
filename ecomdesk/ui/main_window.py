"""The main window: observes the stack's events and figures and the data reader, and sends commands.

It talks to the stack through `stack.door.Stack` only. Nothing here blocks the UI thread: commands run on
a command thread (`commands`), reads on reader threads (`reads`); the stack's events arrive through
`EventFeed`, and its snapshot (in memory, cheap) refreshes the live figures once a second. The window
never owns a service itself: closing it closes the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QSystemTrayIcon

from ecomdesk import service_names as names
from ecomdesk.core.events import AlertFired, AlertResolved, Event, StateChanged
from ecomdesk.core.spec import ACTIVE, STARTABLE, dependency_order
from ecomdesk.data.health import read_cluster
from ecomdesk.data.health.model import ClusterHealth
from ecomdesk.data.pipeline_history import PipelineHistory
from ecomdesk.data.time_range import DEFAULT
from ecomdesk.ui import close_policy, stack_state
from ecomdesk.ui.about import show_about
from ecomdesk.ui.alerts_panel import AlertLog, AlertsPanel
from ecomdesk.ui.banner import Banner, StackNotice
from ecomdesk.ui.charts import BusinessCharts
from ecomdesk.ui.cluster_panel import ClusterPanel
from ecomdesk.ui.commands import StackCommands
from ecomdesk.ui.data_reads import DataReads
from ecomdesk.ui.event_feed import EventFeed
from ecomdesk.ui.inspect_hdfs import HdfsBrowser
from ecomdesk.ui.inspect_kafka import KafkaInspector
from ecomdesk.ui.logs_panel import LogsPanel
from ecomdesk.ui.pipeline_charts import PipelineCharts
from ecomdesk.ui.producer_panel import ProducerPanel
from ecomdesk.ui.reads import Reads
from ecomdesk.ui.services_panel import ServicesPanel
from ecomdesk.ui.settings_dialog import SettingsDialog
from ecomdesk.ui.setup_dialog import SetupDialog, SetupPrompt
from ecomdesk.ui.tray import Tray, overall
from ecomdesk.ui.window_layout import build_actions, build_layout, restore_geometry, save_geometry

SNAPSHOT_MS = 1000


class MainWindow(QMainWindow):
    def __init__(self, stack, reader, config, settings: QSettings | None = None,
                 health: Callable[[Mapping[str, str]], ClusterHealth] | None = None):
        super().__init__()
        self.stack, self.reader, self.config = stack, reader, config
        # the clusters' health from the services' states (a stopped managed system is not asked)
        self.read_health = health or partial(read_cluster, config)
        self.settings = settings or QSettings(str(config.paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
        self.setWindowTitle("ecomdesk — e-commerce pipeline control panel")
        services = [(name, stack.specs[name].title) for name in dependency_order(stack.specs)]
        self.setup_dialog: SetupDialog | None = None
        self.history, self.alert_log, self.context = PipelineHistory(), AlertLog(), ""
        self._close_confirmed = self._closing = False

        self.services, self.command_status = ServicesPanel(services), QLabel("")
        self.command_status.setWordWrap(True)
        self.producer = ProducerPanel(config.producer.rate, config.producer.invalid_fraction)
        self.producer.setVisible(names.PRODUCER in stack.specs)
        self.banner, self.notice, self.setup_prompt = Banner(), StackNotice(), SetupPrompt()
        self.setup_prompt.setVisible(not stack.installed())
        self.business = BusinessCharts(config.spark.top_n, base_path=config.hdfs.base_path, currency=config.ui.currency,
                                       time_range=str(self.settings.value("time_range", DEFAULT)))
        self.pipeline = PipelineCharts(base_path=config.hdfs.base_path)
        self.logs = LogsPanel(services, stack.log_file)
        self.hdfs, self.kafka = HdfsBrowser(reader.base_path), KafkaInspector()
        self.alerts, self.cluster = AlertsPanel(), ClusterPanel()
        self.tray = Tray(QApplication.windowIcon(), self.show_from_tray, self.quit_from_tray, self)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        self.updated_label = QLabel("Charts: no data read yet")
        self.commands = StackCommands(stack, self.command_status, self)
        self.reads = Reads(stack.snapshot, self.banner, self._unexpected_error, self)
        self.tabs, self.splitter = build_layout(self)
        self.start_all, self.stop_all, self.refresh_action = build_actions(self)
        self.data = DataReads(self, self.reads, self)

        # bound methods, not lambdas: a lambda holding `self` in a child's connection keeps the window alive
        self.commands.changed.connect(self.refresh_services)
        self.commands.told.connect(self.statusBar().showMessage)
        self.notice.start_requested.connect(self.commands.start_all)
        self.setup_prompt.setup_requested.connect(self.open_setup)
        self.business.view_changed.connect(self._view_changed)
        self.services.start_requested.connect(self.commands.start_one)
        self.services.stop_requested.connect(self.commands.stop_one)
        self.services.restart_requested.connect(self.commands.restart)
        self.producer.control.connect(self.commands.send_producer)
        self.hdfs.refresh_requested.connect(self.data.refresh_hdfs)
        self.kafka.peek_requested.connect(self.data.peek)
        self.tabs.currentChanged.connect(self.data.tab_changed)
        self._unsubscribe_logs = stack.subscribe_logs(self.logs.push)
        self.feed = EventFeed(stack.subscribe, self)
        self.feed.arrived.connect(self.on_events)

        self.snapshot_timer = self._timer(SNAPSHOT_MS, self.refresh_services)  # the live figures
        self.data_timer = self._timer(int(config.ui.refresh_seconds * 1000), self.data.poll)
        self.refresh_services()
        QTimer.singleShot(0, self.data.poll)
        restore_geometry(self)

    def _timer(self, ms: int, slot) -> QTimer:
        timer = QTimer(self)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        timer.start()
        return timer

    # ----- the stack -----------------------------------------------------------------------
    def on_events(self, events: list[Event]) -> None:
        """The stack's events since the last drain: alerts go to the log, the tab and the desktop; a change
        of state redraws the services at once (once for them all)."""
        alerts = [e for e in events if isinstance(e, AlertFired | AlertResolved)]
        for event in alerts:
            entry = self.alert_log.apply(event)
            resolved = isinstance(event, AlertResolved)
            self.tray.notify(f"ecomdesk: {entry.service}{' resolved' if resolved else ''}", entry.message,
                             error=not resolved)
        if alerts:
            self.alerts.show_log(self.alert_log)
            active = len(self.alert_log.active)
            self.tabs.setTabText(self.tabs.indexOf(self.alerts), f"Alerts ({active})" if active else "Alerts")
        if alerts or any(isinstance(e, StateChanged) for e in events):
            self.refresh_services()

    def refresh_services(self) -> None:
        statuses = self.stack.snapshot()
        busy = self.commands.busy_names()
        self.services.update_statuses(statuses, busy)
        self.producer.update_status(next((s for s in statuses if s.name == names.PRODUCER), None))
        installed = not self.setup_prompt.isVisibleTo(self)
        can_start = not busy and not self._closing and installed and any(s.state in STARTABLE for s in statuses)
        self.start_all.setEnabled(can_start)
        self.start_all.setToolTip(f"Start HDFS, Kafka, the Spark job and the producer ({stack_state.START_KEYS})"
                                  if installed else "Set up the stack first")
        self.stop_all.setEnabled(not self._closing and any(s.state in ACTIVE for s in statuses))
        context = stack_state.context(statuses, installed)
        stopped = installed and not self._closing and stack_state.stack_stopped(statuses)
        self.notice.show_state(context if stopped else None, can_start)
        if context != self.context:  # every chart says why it may have no data (shown by those that have none)
            self.context = context
            for box in self.business.boxes() + self.pipeline.boxes():
                box.set_context(context)
        if self.history.ingest(statuses):
            self.pipeline.draw_history(self.history)
        if self.alert_log.follow(statuses):  # an active alert's message changes while it lasts (the lag)
            self.alerts.show_log(self.alert_log)
        active, running = len(self.alert_log.active), sum(1 for s in statuses if s.state in ACTIVE)
        self.tray.set_state(overall(statuses, active),
                            f"ecomdesk: {running}/{len(statuses)} services running, {active} active alert(s)")

    def open_setup(self) -> None:
        """Run setup in a dialog (current step, files downloaded, elapsed time, Cancel)."""
        if self.setup_dialog is not None and self.setup_dialog.running:
            self.setup_dialog.raise_()
            return
        self.setup_dialog = SetupDialog(self.stack.setup, self)
        self.setup_dialog.finished.connect(self._setup_closed)
        self.setup_dialog.start()
        self.setup_dialog.open()

    def _setup_closed(self) -> None:
        self.setup_prompt.setVisible(not self.stack.installed())
        self.refresh_services()

    def about(self) -> None:
        show_about(self)

    def show_tab(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.tabs.setCurrentIndex(int(action.data()))

    def _unexpected_error(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"{type(exc).__name__}: {exc}", 10000)

    # ----- data ----------------------------------------------------------------------------
    def refresh_now(self) -> None:
        self.refresh_services()
        self.data.poll()
        self.data.refresh_hdfs()  # also off its tab (a read already running is not started twice)
        self.statusBar().showMessage("Refreshing…", 2000)

    def _view_changed(self) -> None:
        self.settings.setValue("time_range", self.business.range_bar.key())  # kept across restarts
        self.data.poll()

    # ----- settings, geometry, closing -------------------------------------------------------
    def open_settings(self) -> None:
        if SettingsDialog(self.config, self).exec():
            self.data_timer.setInterval(int(self.config.ui.refresh_seconds * 1000))
            self.business.top_n = self.config.spark.top_n
            self.statusBar().showMessage(f"Settings saved to {self.config.paths.config_file}", 8000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self._close_confirmed:
            save_geometry(self)
            for timer in (self.snapshot_timer, self.data_timer):
                timer.stop()
            self._unsubscribe_logs()
            self.feed.close()
            self.shutdown_jobs()
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        choice = close_policy.choose(self, [s.title for s in self.stack.snapshot() if s.state in ACTIVE],
                                     self.settings)
        if choice == close_policy.TRAY:
            self.hide()
            self.tray.notify("ecomdesk keeps running", "The stack runs on; the tray icon brings the window back or "
                             "stops it.", error=False)
        elif choice == close_policy.QUIT:
            self._stop_and_quit()

    def shutdown_jobs(self, wait: bool = False) -> None:
        self.reads.close(wait)
        self.commands.close(wait)

    def show_from_tray(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit_from_tray(self) -> None:
        if not self._closing:
            self._stop_and_quit()

    def _stop_and_quit(self) -> None:
        self._closing = True
        self.data_timer.stop()
        self.reads.closed = True  # no more reads of services on their way down
        self.command_status.setText("Stopping all services before quitting…")
        self.refresh_services()
        self.commands.commands.submit(self.stack.close, on_done=self._closed, on_error=self._closed)

    def _closed(self, result) -> None:
        if isinstance(result, BaseException):
            QMessageBox.critical(self, "ecomdesk", f"Stopping the services failed: {result}")
        self._close_confirmed = True
        self.close()
