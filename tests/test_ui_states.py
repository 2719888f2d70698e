"""Issue 12: states, not alarms; charts that read at a glance; shortcuts and tooltips. Over the fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractButton
from ui_fakes import FakeInstaller, make_config
from xwindow import xvfb

from ecomdesk.core.spec import State
from ecomdesk.data.chart_views import business, finished_minutes
from ecomdesk.testing.contract_data import sample_frames
from ecomdesk.ui import fmt
from ecomdesk.ui.stack_state import STOPPED, unreachable_is_expected

TESTS = Path(__file__).parent


def _started(qtbot, window):
    window.start_all.trigger()
    qtbot.waitUntil(lambda: "Start all: done" in window.command_status.text(), timeout=5000)


def _reads_done(qtbot, reader, n: int = 3):
    """Wait for `n` more reads to have run (each read records its thread)."""
    target = len(reader.threads) + n
    qtbot.waitUntil(lambda: len(reader.threads) >= target, timeout=5000)


# ----- 1. states, not alarms --------------------------------------------------------------------
def test_a_stack_never_started_is_a_calm_state_with_what_to_do_not_an_alarm(qtbot, make_window):
    from ui_fakes import FakeReader

    reader = FakeReader()
    reader.down |= {"hdfs", "kafka"}  # nothing runs: nothing answers
    window, _, _ = make_window(reader=reader)
    _reads_done(qtbot, reader, 4)
    assert not window.banner.isVisible() and not window.banner.problems
    assert window.notice.isVisible() and window.notice.text.text() == STOPPED
    assert "Start all (Ctrl+R)" in STOPPED and window.notice.button.isEnabled()
    for box in window.business.boxes() + window.pipeline.boxes():
        assert not box.has_data and box.stack.currentWidget() is box.empty_label
        assert box.empty_label.text().startswith("No ") and STOPPED in box.empty_label.text()
    assert window.business.sales.empty_label.text() == f"No sales yet.\n{STOPPED}"
    window.notice.button.click()  # the strip's Start all starts the stack
    qtbot.waitUntil(lambda: all(r.state == State.RUNNING for r in window.services.rows.values()), timeout=5000)
    qtbot.waitUntil(lambda: not window.notice.isVisible(), timeout=3000)
    assert "Waiting for data" in window.business.sales.empty_label.text()


def test_stop_all_is_a_state_the_charts_keep_their_data_and_no_banner(qtbot, make_window):
    window, _, reader = make_window()
    _started(qtbot, window)
    qtbot.waitUntil(lambda: window.business.sales.has_data, timeout=5000)
    before = window.business.sales.sales.getData()[1].copy()
    window.stop_all.trigger()
    qtbot.waitUntil(lambda: all(r.state == State.STOPPED for r in window.services.rows.values()), timeout=5000)
    reader.down |= {"hdfs", "kafka"}  # what a stopped stack does
    _reads_done(qtbot, reader, 4)
    assert not window.banner.isVisible()
    assert window.notice.isVisible()
    assert window.business.sales.has_data  # the last data read stays
    assert list(window.business.sales.sales.getData()[1]) == list(before)


def test_a_failed_service_behind_a_source_is_an_alarm(qtbot, make_window):
    window, sup, reader = make_window()
    _started(qtbot, window)
    sup.state["kafka"] = State.FAILED
    sup.message["kafka"] = "crashed 5 times in 300 s; not restarting"
    reader.down.add("kafka")
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "kafka unreachable: Connection refused — Kafka broker is failed" in window.banner.text()
    assert not window.notice.isVisible()


def test_an_external_cluster_that_does_not_answer_is_an_alarm_even_with_nothing_started(qtbot, make_window, tmp_path):
    config = make_config(tmp_path)
    config.hdfs.namenode = "127.0.0.1:1"  # an external cluster: the catalog has no HDFS service
    window, _, reader = make_window(config=config)
    reader.down.add("hdfs")
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "hdfs unreachable" in window.banner.text() and "external cluster" in window.banner.text()


@pytest.mark.parametrize(
    ("source", "now", "before", "expected"),
    [
        ("hdfs", {"hdfs-namenode": "stopped"}, None, True),  # never started / stopped by the user
        ("hdfs", {"hdfs-namenode": "stopping"}, {"hdfs-namenode": "running"}, True),
        ("hdfs", {"hdfs-namenode": "starting"}, {"hdfs-namenode": "stopped"}, True),
        ("hdfs", {"hdfs-namenode": "running"}, {"hdfs-namenode": "starting"}, True),  # read began before it was up
        ("hdfs", {"hdfs-namenode": "running"}, {"hdfs-namenode": "running"}, False),
        ("kafka", {"kafka": "failed"}, {"kafka": "stopped"}, False),
        ("kafka", {"kafka": "restarting"}, None, False),
        ("kafka", {"kafka": "unhealthy"}, None, False),
        ("kafka", {"hdfs-namenode": "stopped"}, None, False),  # an external broker
    ],
)
def test_which_unreachable_source_is_expected(source, now, before, expected):
    assert unreachable_is_expected(source, now, before) is expected


def test_a_stack_not_set_up_says_so_in_the_charts(qtbot, make_window):
    window, _, _ = make_window(installer=FakeInstaller(installed=False))
    assert window.setup_prompt.isVisible() and not window.notice.isVisible()
    assert "not set up yet" in window.business.sales.empty_label.text()


# ----- 2. charts that read at a glance ----------------------------------------------------------
def _frames_ending_at(now: pd.Timestamp, minutes: int) -> dict[str, pd.DataFrame]:
    frames = sample_frames(1, 4, users=20)
    for name in ("sales_per_minute", "sales_by_product_per_minute", "conversion_funnel"):
        df = frames[name]
        starts = sorted(df["window_start"].unique())[:minutes]
        df = df[df["window_start"].isin(starts)].copy()
        shift = now.floor("min") - pd.Timestamp(starts[-1])
        df["window_start"] += shift
        df["window_end"] += shift
        frames[name] = df.reset_index(drop=True)
    return frames


def _points(item) -> int:
    xs = item.getData()[0]
    return 0 if xs is None else len(xs)


def test_finished_minutes_splits_off_the_minute_in_progress():
    t = np.array([0.0, 60.0, 120.0])
    assert finished_minutes(t, 179.0) == 2 and finished_minutes(t, 180.0) == 3 and finished_minutes(t, 30.0) == 0


def test_the_first_minute_shows_a_point_and_the_minute_in_progress_is_not_a_drop(qtbot, make_window):
    window, _, _ = make_window()
    charts = window.business
    now = pd.Timestamp("2025-03-01 12:00:30", tz="UTC")
    charts.show_data(business(_frames_ending_at(now, 1), 10), now=now.timestamp())
    line = charts.sales.line
    assert _points(line.done) == 0  # nothing finished yet …
    xs, ys = line.progress.getData()
    assert len(xs) == 1 and line.progress.opts["symbol"] == "o"  # … but the minute in progress has a marker
    assert charts.sales.has_data

    charts.show_data(business(_frames_ending_at(now, 5), 10), now=now.timestamp())
    dx, dy = line.done.getData()
    px, py = line.progress.getData()
    assert len(dx) == 4 and line.done.opts["symbol"] == "o"  # few points: each one marked
    assert list(px) == [dx[-1], dx[-1] + 60]  # the in-progress segment starts at the last finished minute
    assert line.progress.opts["pen"].style() == Qt.PenStyle.DotLine
    assert line.progress.opts["pen"].color().alpha() < 255  # lighter
    for product_line in charts.product_lines:
        assert _points(product_line.done) == 4 and _points(product_line.progress) == 2

    later = now + pd.Timedelta(minutes=1)  # the minute ended: drawn as finished, nothing in progress
    charts.show_data(business(_frames_ending_at(now, 5), 10), now=later.timestamp())
    assert _points(line.done) == 5 and _points(line.progress) == 0


def test_axes_read_with_separators_k_m_and_the_currency(qtbot, make_window, tmp_path):
    from ui_fakes import make_config

    config = make_config(tmp_path)
    config.ui.currency = "€"
    window, _, _ = make_window(config=config)
    qtbot.waitUntil(lambda: window.business.sales.has_data, timeout=5000)
    axis = window.business.sales.plot.getPlotItem().getAxis("left")
    assert axis.tickStrings([2_000_000, 2_200_000], 1, 200_000) == ["€2.0M", "€2.2M"]
    assert axis.tickStrings([2_500, 5_000], 1, 2_500) == ["€2,500", "€5,000"]
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()
    assert "€" in axis.labelText
    assert fmt.compact(45_000, 5_000) == "45k" and fmt.compact(-1_500, 500, "$") == "-$1,500"
    users = window.business.users.plot.getPlotItem().getAxis("bottom")
    assert users.prefix == "€"
    window.business.user_sort.setCurrentIndex(window.business.user_sort.findData("orders"))
    assert users.prefix == "" and users.integer


def test_an_all_zero_series_gets_a_range_from_zero_not_minus_400_to_400(qtbot, make_window):
    from ecomdesk.telemetry import BatchReport, job_state

    window, sup, _ = make_window()
    _started(qtbot, window)
    for i in range(1, 4):
        batch = BatchReport(query="sales", batch_id=i, input_rows=10, input_rows_per_second=5.0,
                            processed_rows_per_second=5.0, batch_duration_ms=100, offsets_behind={"orders": 0},
                            state_rows=1, watermark=None, quarantined=0)
        sup.telemetry["spark-job"] = job_state({"sales": batch}, batch)
        qtbot.waitUntil(lambda i=i: len(window.history.series.get("behind/orders", ())) == i, timeout=3000)
    chart = window.pipeline.behind
    qtbot.waitUntil(lambda: chart.has_data, timeout=3000)
    low, high = chart.plot.getPlotItem().vb.viewRange()[1]
    assert -0.1 <= low <= 0 and 1 <= high <= 1.1
    axis = chart.plot.getPlotItem().getAxis("left")
    assert axis.tickValues(low, high, 200) == [(1.0, [0.0, 1.0])]  # whole messages only
    assert axis.autoSIPrefixScale == 1.0


# ----- 2. the services table fits ---------------------------------------------------------------
def test_long_messages_are_elided_with_the_whole_text_in_the_tooltip(qtbot, make_window):
    window, sup, _ = make_window()
    _started(qtbot, window)
    long = "NameNode active; 1 live DataNode(s), 41.3 GiB free, out of safe mode, " * 3
    sup.message["hdfs-namenode"] = long
    row = window.services.rows["hdfs-namenode"]
    qtbot.waitUntil(lambda: row.message.text() == long, timeout=3000)
    assert row.message.elided() and long in row.message.toolTip()
    scroll = window.findChild(type(window.centralWidget()).__mro__[0], "services-scroll")
    assert scroll is not None and not scroll.horizontalScrollBar().isVisible()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", [(1400, 900), (1920, 1080)])
def test_under_xvfb_nothing_is_clipped_and_the_services_table_needs_no_scroll_bar(size, tmp_path):
    width, height = size
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(TESTS.parent)}
    with xvfb(f"{width + 100}x{height + 100}") as display:
        env["DISPLAY"] = display
        for args in ([], ["--tab", "pipeline"], ["--stopped"]):
            out = subprocess.run([sys.executable, str(TESTS / "window_probe.py"), str(width), str(height), *args],
                                 env=env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr[-3000:]
            report = json.loads(out.stdout.strip().splitlines()[-1])
            assert report["size"] == [width, height], report
            assert report["clipped"] == [], (args, report)
            assert not report["services_hscroll"] and not report["services_wider_than_view"], (args, report)
            assert report["buttons_outside_view"] == [], (args, report)
            assert not report["banner"], (args, report)


# ----- 5. discoverable --------------------------------------------------------------------------
def test_keyboard_shortcuts_start_stop_refresh_and_switch_tabs(qtbot, make_window):
    window, sup, reader = make_window()
    assert window.start_all.shortcut() == QKeySequence("Ctrl+R")
    assert window.stop_all.shortcut() == QKeySequence("Ctrl+Shift+S")
    assert window.refresh_action.shortcut() == QKeySequence("F5")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: ("start", None) in sup.calls, timeout=3000)
    qtbot.waitUntil(lambda: window.stop_all.isEnabled(), timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ("stop", None) in sup.calls, timeout=3000)
    for i, page in enumerate((window.pipeline, window.logs, window.hdfs, window.kafka, window.business)):
        key = Qt.Key(Qt.Key.Key_2 + i) if i < 4 else Qt.Key.Key_1
        qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentWidget() is page
    window.data_timer.stop()  # only F5 reads now
    qtbot.waitUntil(lambda: not window.reads.in_flight, timeout=3000)
    calls = reader.business_calls
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: reader.business_calls > calls, timeout=3000)


def test_every_button_and_chart_title_says_what_it_does_and_where_it_comes_from(qtbot, make_window):
    window, _, _ = make_window()
    window.tabs.setCurrentWidget(window.pipeline)
    window.tabs.setCurrentWidget(window.business)
    missing = [b.text() or b.objectName() for b in window.findChildren(QAbstractButton)
               if b.text() and not b.toolTip() and b.objectName() != "qt_toolbar_ext_button"]
    assert missing == []
    for i in range(window.tabs.count()):
        assert f"Ctrl+{i + 1}" in window.tabs.tabToolTip(i)
    for action in (window.start_all, window.stop_all, window.refresh_action):
        assert action.shortcut().toString() in action.toolTip()
    tips = {box.title: box.heading.toolTip() for box in window.business.boxes() + window.pipeline.boxes()}
    assert "/ecommerce/aggregates/sales_per_minute" in tips["Sales per minute"]
    assert "sales_by_product_per_minute" in tips["Sales by product per minute"]
    assert "/ecommerce/aggregates/quarantine_counts" in tips["Quarantined by reason (HDFS)"]
    assert "telemetry" in tips["Producer events/s"] and "progress reports" in tips["Batch duration"]
    assert all(tip and tip != title for title, tip in tips.items())

