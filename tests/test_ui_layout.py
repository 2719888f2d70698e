"""The window's layout (ui/window_layout): the services table fits at the common screen sizes with every
button whole (under Xvfb, with the real catalog's services), and every action has a shortcut and a tooltip."""


from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractButton
from ui_fakes import started
from xwindow import xvfb

TESTS = Path(__file__).parent


def test_long_messages_are_elided_with_the_whole_text_in_the_tooltip(qtbot, make_window):
    window, sup, _ = make_window()
    started(qtbot, window)
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
