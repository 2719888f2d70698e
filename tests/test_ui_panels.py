"""Producer controls, logs, charts, inspectors, settings and geometry, over the fake boundaries."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pandas as pd
import pytest
from PySide6.QtGui import QDesktopServices, QImage, QPainter
from PySide6.QtWidgets import QMessageBox
from ui_fakes import make_config

from ecomdesk import config as config_mod
from ecomdesk.telemetry import BatchReport, ProducerReport, job_state, to_dict
from ecomdesk.ui.about import about_text
from ecomdesk.ui.logs_panel import TAIL_LINES
from ecomdesk.ui.settings_dialog import SettingsDialog
from ecomdesk.versions import stack_versions

PRODUCER = to_dict(ProducerReport(sent=12000, delivered=11990, failed=0, in_flight=10, rate=998.0, target_rate=1000.0,
                                   paused=False, invalid_fraction=0.0, invalid=0,
                                   per_topic={"orders": 1200, "cart_events": 3000, "page_views": 7800}))


def _started(qtbot, window):
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)


def test_producer_controls_send_commands_and_show_counters(qtbot, make_window):
    window, sup, _ = make_window()
    panel = window.producer
    assert not panel.apply_rate.isEnabled()  # the producer is not running
    _started(qtbot, window)
    sup.telemetry["producer"] = dict(PRODUCER)
    qtbot.waitUntil(lambda: panel.counters["sent"].text() == "12,000", timeout=3000)
    assert panel.counters["delivered"].text() == "11,990"
    assert "orders 1,200" in panel.counters["per_topic"].text()
    panel.rate.setValue(5000)
    panel.apply_rate.click()
    panel.pause.click()
    panel.invalid.setValue(0.05)
    panel.apply_invalid.click()
    panel.campaign_factor.setValue(4)
    panel.campaign_minutes.setValue(15)
    panel.apply_campaign.click()
    qtbot.waitUntil(lambda: len(sup.controls) == 4, timeout=3000)
    assert sup.controls == [("producer", "rate 5000"), ("producer", "pause"), ("producer", "invalid 0.05"),
                            ("producer", "campaign 4 15")]
    sup.telemetry["producer"] = {**PRODUCER, "paused": True}
    qtbot.waitUntil(lambda: panel.pause.text() == "Resume", timeout=3000)
    panel.pause.click()
    qtbot.waitUntil(lambda: sup.controls[-1] == ("producer", "resume"), timeout=3000)


def test_a_refused_producer_command_is_reported(qtbot, make_window):
    window, sup, _ = make_window()
    window.commands.send_producer("rate 10")  # the producer is stopped: the supervisor raises
    qtbot.waitUntil(lambda: "producer is not running" in window.statusBar().currentMessage(), timeout=3000)


def test_logs_arrive_from_other_threads_are_bounded_filtered_and_highlighted(qtbot, make_window, monkeypatch):
    window, sup, _ = make_window()
    logs = window.logs

    def spam():
        for i in range(TAIL_LINES + 200):
            sup.emit_log("kafka", f"INFO line {i}")
        sup.emit_log("kafka", "ERROR broker exploded")
        sup.emit_log("producer", "WARN slow delivery")

    t = threading.Thread(target=spam)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "broker exploded" in logs.view.toPlainText(), timeout=3000)
    assert len(logs.tails["kafka"]) == TAIL_LINES
    assert logs.view.document().blockCount() <= TAIL_LINES
    assert "[producer] WARN slow delivery" in logs.view.toPlainText()

    logs.service.setCurrentIndex(logs.service.findData("kafka"))
    logs.filter.setText("exploded")
    assert logs.view.toPlainText() == "ERROR broker exploded"
    block = logs.view.document().firstBlock()
    fmt_ranges = block.layout().formats()
    assert fmt_ranges and fmt_ranges[0].format.foreground().color().name() == "#c0392b"

    logs.filter.setText("")
    logs.follow.setChecked(False)
    bar = logs.view.verticalScrollBar()
    bar.setValue(10)
    sup.emit_log("kafka", "INFO more")
    qtbot.wait(400)
    assert bar.value() == 10 and logs.view.toPlainText().endswith("INFO more")

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    logs.open_file.click()
    assert opened == [str(sup.log_file("kafka"))]


def _last_6_hours(qtbot, window) -> None:
    """The last 6 hours of the sample day, minute by minute (the default range is the last hour)."""
    window.business.range_bar.combo.setCurrentIndex(window.business.range_bar.combo.findData("6h"))
    qtbot.waitUntil(lambda: len(window.business.sales.data) > 60, timeout=5000)  # the last hour has 60 rows


def test_charts_show_the_aggregates_read_off_the_ui_thread(qtbot, make_window):
    window, _, reader = make_window()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    _last_6_hours(qtbot, window)
    assert threading.main_thread().name not in reader.threads
    sales = reader.frames["sales_per_minute"].sort_values("window_start").tail(360)
    xs, ys = window.business.sales.sales.getData()
    assert list(ys) == sales["total_sales"].tolist()
    assert len(xs) == len(sales) and xs[0] == sales["window_start"].iloc[0].timestamp()
    assert "Charts updated" in window.updated_label.text()
    users = window.business.users.data
    top = reader.frames["avg_ticket_per_user"].sort_values("avg_ticket", ascending=False).head(10)
    assert users["user_id"].tolist() == top["user_id"].tolist()
    window.business.user_sort.setCurrentIndex(window.business.user_sort.findData("orders"))
    assert window.business.users.data["orders"].is_monotonic_decreasing
    assert "conversion" in window.business.funnel.heading.text()


def test_line_charts_break_where_minutes_have_no_data(qtbot, make_window):
    window, _, reader = make_window()
    spm = reader.frames["sales_per_minute"].sort_values("window_start").reset_index(drop=True)
    n = len(spm)
    reader.frames["sales_per_minute"] = spm.drop(index=range(n - 100, n - 10))  # 90 minutes without data
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    _last_6_hours(qtbot, window)
    xs, ys = window.business.sales.sales.getData()
    gaps = np.flatnonzero(np.isnan(ys))
    first = 360 - 100  # the 6 hours' rows before the gap
    assert gaps.tolist() == [first] and np.isnan(xs[first])
    assert np.nanmax(np.diff(xs[:first])) == 60 and xs[first + 1] - xs[first - 1] == 91 * 60


def test_unreachable_hdfs_of_a_running_stack_shows_a_banner_keeps_data_and_recovers(qtbot, make_window):
    window, _, reader = make_window()
    _started(qtbot, window)  # the NameNode runs: HDFS not answering is an alarm
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    before = window.business.sales.sales.getData()[1].copy()
    reader.down.add("hdfs")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5000)
    assert "hdfs unreachable: Connection refused — HDFS NameNode is running" in window.banner.text()
    qtbot.wait(500)
    assert list(window.business.sales.sales.getData()[1]) == list(before)
    newest = reader.frames["sales_per_minute"]["window_start"].idxmax()  # inside the default last hour
    reader.frames["sales_per_minute"].loc[newest, "total_sales"] = 123456.0
    reader.down.clear()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: 123456.0 in window.business.sales.sales.getData()[1], timeout=5000)


def test_chart_export_png_and_csv(qtbot, make_window, tmp_path):
    window, _, reader = make_window()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    box = window.business.categories
    box.export_png(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    box.export_csv(tmp_path / "c.csv")
    back = pd.read_csv(tmp_path / "c.csv")
    expected = reader.frames["views_by_category"].sort_values("views", ascending=False)
    assert back["category"].tolist() == expected["category"].tolist()
    assert back["views"].tolist() == expected["views"].tolist()


def test_pipeline_charts_follow_the_telemetry(qtbot, make_window):
    window, sup, _ = make_window()
    _started(qtbot, window)
    sup.telemetry["producer"] = dict(PRODUCER)
    batch = BatchReport(query="sales", batch_id=1, input_rows=10, input_rows_per_second=500.0,
                        processed_rows_per_second=450.0, batch_duration_ms=800, offsets_behind={"orders": 42},
                        state_rows=3, watermark=None, quarantined=7)
    sup.telemetry["spark-job"] = job_state({"sales": batch}, batch)
    qtbot.waitUntil(lambda: "behind/orders" in window.pipeline.behind.curves, timeout=3000)
    assert list(window.pipeline.behind.curves["behind/orders"].getData()[1]) == [42.0]
    assert list(window.pipeline.batch.curves["batch_ms/sales"].getData()[1]) == [800.0]
    sup.telemetry["producer"] = {**PRODUCER, "sent": 20000, "rate": 5000.0, "target_rate": 5000.0}
    qtbot.waitUntil(lambda: 5000.0 in window.pipeline.events.curves["producer_rate"].getData()[1], timeout=3000)
    batch = dataclasses.replace(batch, batch_id=2, quarantined=9)
    sup.telemetry["spark-job"] = job_state({"sales": batch}, batch)
    qtbot.waitUntil(lambda: len(window.pipeline.quarantined.curves["quarantined"].getData()[1]) == 2, timeout=3000)
    assert window.pipeline.quarantined.data["value"].tolist() == [7.0, 9.0]


def _labels_top_down(axis) -> list[str]:
    """The tick labels an axis draws, top to bottom (as pyqtgraph lays them out for painting)."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _, _, text in sorted(texts, key=lambda spec: spec[0].center().y())]


def test_quarantine_reasons_are_readable_labels_on_the_left_axis(qtbot, make_window):
    window, _, _ = make_window()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)  # the first read draws its own counts
    window.data_timer.stop()
    qtbot.waitUntil(lambda: not window.reads.in_flight, timeout=10000)  # a read landing after this draw would redraw
    window.tabs.setCurrentWidget(window.pipeline)
    window.pipeline.draw_quarantine(pd.DataFrame({"reason": ["negative_price", "unparseable_json"],
                                                  "count": [3, 9]}))
    axis = window.pipeline.reasons.plot.getPlotItem().getAxis("left")
    qtbot.waitUntil(lambda: _labels_top_down(axis) == ["unparseable_json", "negative_price"], timeout=3000)
    assert window.pipeline.reasons.data["count"].tolist() == [9, 3]


def test_hdfs_browser_and_kafka_inspector(qtbot, make_window):
    window, _, reader = make_window()
    window.tabs.setCurrentWidget(window.hdfs)
    qtbot.waitUntil(lambda: window.hdfs.tree.topLevelItemCount() == 1, timeout=3000)
    root = window.hdfs.tree.topLevelItem(0)
    assert root.text(0) == "/ecommerce" and root.text(1) == "5"
    assert root.child(0).text(0) == "aggregates" and root.child(0).child(0).text(0) == "sales_per_minute"
    kafka = window.kafka
    qtbot.waitUntil(lambda: kafka.topics.rowCount() == 2, timeout=3000)
    assert kafka.topics.item(0, 0).text() == "orders" and kafka.topics.item(0, 2).text() == "31"
    kafka.count.setValue(3)
    kafka.peek.click()
    qtbot.waitUntil(lambda: kafka.messages.rowCount() == 3, timeout=3000)
    assert reader.peeks == [("orders", 3)]
    assert kafka.messages.item(2, 4).text() == '{"i": 2}'


def test_settings_dialog_saves_a_valid_config_and_refuses_a_bad_one(qtbot, tmp_path, monkeypatch):
    config = make_config(tmp_path)
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    dialog.fields[("ui", "refresh_seconds")].setValue(5.0)
    dialog.fields[("ports", "kafka")].setValue(19092)
    dialog.fields[("spark", "master")].setText("local[1]")
    dialog.fields[("producer", "seed")].setText("42")
    dialog.accept()
    saved = config_mod.load(config.paths)
    assert (saved.ui.refresh_seconds, saved.ports.kafka, saved.spark.master, saved.producer.seed) == (
        5.0,
        19092,
        "local[1]",
        42,
    )
    assert config.ports.kafka == 19092

    dialog = SettingsDialog(config)  # the alert thresholds are settings too
    qtbot.addWidget(dialog)
    dialog.fields[("alerts", "service_down")].setChecked(False)
    dialog.fields[("alerts", "lag_seconds")].setValue(45.0)
    dialog.fields[("alerts", "slow_batches")].setValue(2)
    dialog.accept()
    saved = config_mod.load(config.paths)
    assert (saved.alerts.service_down, saved.alerts.lag_seconds, saved.alerts.slow_batches) == (False, 45.0, 2)

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    dialog.fields[("producer", "seed")].setText("forty-two")
    dialog.fields[("ports", "kafka")].setValue(29092)
    dialog.accept()
    assert warnings and "seed must be an integer" in warnings[0]
    assert config_mod.load(config.paths).ports.kafka == 19092


def test_the_restart_policy_is_editable_and_ranges_come_from_the_config(qtbot, tmp_path, monkeypatch):
    config = make_config(tmp_path)
    config.restart.services = {"kafka": {"attempts": 9}}  # per-service tables stay as the file has them
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    attempts, failures = dialog.fields[("restart", "attempts")], dialog.fields[("restart", "health_failures")]
    assert (failures.minimum(), dialog.fields[("ports", "kafka")].maximum()) == (1, 65535)
    assert "within window seconds" in attempts.toolTip()
    attempts.setValue(2)
    dialog.fields[("restart", "policy")].setText("no")
    dialog.accept()
    saved = config_mod.load(config.paths)
    assert (saved.restart.attempts, saved.restart.policy) == (2, "no")
    assert saved.restart.services == {"kafka": {"attempts": 9}}
    with pytest.raises(config_mod.ConfigError, match=r"\[restart\] health_failures must be between 1 and 1000"):
        config_mod.from_dict({"restart": {"health_failures": 0}})  # the file's check reads the same range
    warnings: list = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    dialog.fields[("restart", "policy")].setText("sometimes")
    dialog.accept()
    assert warnings and "restart policy 'sometimes'" in warnings[0]


def test_window_geometry_is_remembered(qtbot, make_window, tmp_path):
    config = make_config(tmp_path)
    window, _, _ = make_window(config=config)
    window.resize(1500, 1000)
    qtbot.wait(50)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    again, _, _ = make_window(config=config)
    assert (again.width(), again.height()) == (1500, 1000)


def test_about_names_the_pinned_versions():
    text = about_text()
    v = stack_versions()
    for key in ("kafka", "spark", "hadoop", "ecomdesk"):
        assert v[key] in text
    assert "Apache Kafka" in text and "Apache Hadoop" in text
    assert "installed in" in text or "not installed" in text
