"""States, not alarms: a stopped or never started stack is a calm state that says what to do; an
unreachable source is an alarm only when its service should be up or it is an external cluster (ui/stack_state,
the banner and the notice). Over the fakes."""


from __future__ import annotations

from pathlib import Path

import pytest
from ui_fakes import FakeInstaller, make_config, reads_done, started

from ecomdesk.core.spec import State
from ecomdesk.ui.stack_state import STOPPED, unreachable_is_expected

TESTS = Path(__file__).parent


def test_a_stack_never_started_is_a_calm_state_with_what_to_do_not_an_alarm(qtbot, make_window):
    from ui_fakes import FakeReader

    reader = FakeReader()
    reader.down |= {"hdfs", "kafka"}  # nothing runs: nothing answers
    window, _, _ = make_window(reader=reader)
    reads_done(qtbot, reader, 4)
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
    started(qtbot, window)
    qtbot.waitUntil(lambda: window.business.sales.has_data, timeout=5000)
    before = window.business.sales.sales.getData()[1].copy()
    window.stop_all.trigger()
    qtbot.waitUntil(lambda: all(r.state == State.STOPPED for r in window.services.rows.values()), timeout=5000)
    reader.down |= {"hdfs", "kafka"}  # what a stopped stack does
    reads_done(qtbot, reader, 4)
    assert not window.banner.isVisible()
    assert window.notice.isVisible()
    assert window.business.sales.has_data  # the last data read stays
    assert list(window.business.sales.sales.getData()[1]) == list(before)


def test_a_failed_service_behind_a_source_is_an_alarm(qtbot, make_window):
    window, sup, reader = make_window()
    started(qtbot, window)
    sup.state["kafka"] = State.FAILED
    sup.message["kafka"] = "crashed 5 times in 300 s; not restarting"
    reader.down.add("kafka")
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "kafka unreachable: Connection refused — Kafka broker is failed" in window.banner.text()
    assert not window.notice.isVisible()


def test_an_external_cluster_that_does_not_answer_is_an_alarm_even_with_nothingstarted(qtbot, make_window, tmp_path):
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
