"""The Cluster tab against a fake health source: the three panels, problems in words, the tab's count,
reads off the GUI thread, and what it looks like rendered offscreen."""

from __future__ import annotations

from PySide6.QtGui import QColor
from ui_fakes import FakeHealth

from ecomdesk.ui.cluster_panel import PROBLEM_ROW


def _cells(table, column: int) -> list[str]:
    return [table.item(r, column).text() for r in range(table.rowCount())]


def _cluster_tab(window) -> str:
    return window.tabs.tabText(window.tabs.indexOf(window.cluster))


def test_the_cluster_tab_shows_each_system_and_its_problems_in_words(make_window, qtbot):
    health = FakeHealth()
    window, supervisor, _ = make_window(health=health)
    panel = window.cluster
    qtbot.waitUntil(lambda: panel.kafka.state.text() == "OK", timeout=5000)
    assert health.calls[-1] == {name: "stopped" for name in supervisor.specs}
    assert all(t.startswith("ecomdesk-read") for t in health.threads)
    assert (panel.kafka.table.rowCount(), panel.hdfs.table.rowCount(), panel.spark.table.rowCount()) == (6, 3, 2)
    assert set(_cells(panel.kafka.table, 8)) == {"ok"} and _cells(panel.kafka.table, 4)[0] == "1,2,3"
    assert set(_cells(panel.hdfs.table, 1)) == {"live"} and set(_cells(panel.spark.table, 1)) == {"ALIVE"}
    assert panel.kafka.problems.isHidden() and _cluster_tab(window) == "Cluster"

    health.degraded = True  # one broker, one DataNode and one worker lost
    qtbot.waitUntil(lambda: panel.hdfs.state.text().startswith("DEGRADED"), timeout=5000)
    assert panel.kafka.state.text() == "DEGRADED — 2 problem(s)"
    kafka_problems = panel.kafka.problems.text()
    assert "⚠ 6 under-replicated partition(s), ISR smaller than the replicas" in kafka_problems
    assert "⚠ broker(s) 2 hold replicas but are not in the cluster" in kafka_problems
    assert "⚠ 1 dead DataNode(s): 127.0.0.1:9862" in panel.hdfs.problems.text()
    assert "⚠ 12 under-replicated block(s)" in panel.hdfs.problems.text()
    assert "⚠ worker 127.0.0.1:7102 DEAD: its executors are gone" in panel.spark.problems.text()
    assert not panel.kafka.problems.isHidden()
    assert set(_cells(panel.kafka.table, 8)) == {"under-replicated"} and _cells(panel.kafka.table, 4)[0] == "1,3"
    assert _cells(panel.hdfs.table, 1) == ["live", "dead", "live"]
    assert panel.hdfs.table.item(1, 0).background().color() == PROBLEM_ROW
    assert panel.hdfs.table.item(0, 0).background().color() != PROBLEM_ROW
    assert _cluster_tab(window) == "Cluster (5)"

    health.degraded = False
    qtbot.waitUntil(lambda: _cluster_tab(window) == "Cluster", timeout=5000)
    assert panel.hdfs.state.text() == "OK" and panel.hdfs.problems.isHidden()


def test_the_running_services_states_reach_the_health_source(make_window, qtbot):
    health = FakeHealth()
    window, supervisor, _ = make_window(health=health)
    supervisor.start(["kafka"])
    qtbot.waitUntil(lambda: bool(health.calls) and health.calls[-1].get("kafka") == "running", timeout=5000)
    assert health.calls[-1]["hdfs-namenode"] == "stopped"


def test_a_failing_health_read_is_said_not_swallowed(make_window, qtbot):
    health = FakeHealth()
    health.error = "the reader broke"
    window, _, _ = make_window(health=health)
    qtbot.waitUntil(lambda: window.cluster.spark.state.text().startswith("NOT READ"), timeout=5000)
    assert window.cluster.kafka.state.text() == "NOT READ — RuntimeError: the reader broke"
    health.error = None
    qtbot.waitUntil(lambda: window.cluster.spark.state.text() == "OK", timeout=5000)


def test_the_cluster_tab_renders_offscreen(make_window, qtbot, tmp_path):
    health = FakeHealth()
    health.degraded = True
    window, _, _ = make_window(health=health)
    window.tabs.setCurrentWidget(window.cluster)
    qtbot.waitUntil(lambda: window.cluster.hdfs.state.text().startswith("DEGRADED"), timeout=5000)
    image = window.grab().toImage()
    assert not image.isNull() and image.width() >= 1000
    assert image.save(str(tmp_path / "cluster.png"))
    state = window.cluster.hdfs.state
    assert state.isVisible() and state.width() > 100
    badge = state.grab().toImage()
    red = QColor("#c0392b").rgb()
    pixels = [badge.pixel(x, y) for x in range(0, badge.width(), 4) for y in range(0, badge.height(), 2)]
    assert sum(p == red for p in pixels) > len(pixels) // 2  # the DEGRADED badge is drawn, on red
    row = window.cluster.hdfs.table
    rect = row.visualItemRect(row.item(1, 0))
    assert rect.height() > 0 and row.viewport().grab(rect).toImage().pixelColor(2, 2) == PROBLEM_ROW
