"""The per-minute charts' time range: picker, roll-up, pause on pan and back to live, kept across restarts."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from ecomdesk.data.time_range import BY_KEY


def _choose(window, key: str) -> None:
    combo = window.business.range_bar.combo
    combo.setCurrentIndex(combo.findData(key))


def test_the_picker_offers_the_ranges_and_starts_on_the_last_hour(qtbot, make_window):
    window, _, reader = make_window()
    combo = window.business.range_bar.combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(BY_KEY)
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    assert reader.views[-1].range_key == "1h" and reader.views[-1].end is None
    assert len(window.business.sales.data) == 60  # one point per minute of the last hour


def test_a_long_range_is_rolled_up_to_fit_the_chart(qtbot, make_window):
    window, _, reader = make_window()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    _choose(window, "24h")
    qtbot.waitUntil(lambda: "summed per" in window.business.sales.heading.text(), timeout=5000)
    drawn = window.business.sales.data
    assert 0 < len(drawn) <= window.business.sales.plot.width()
    day = reader.frames["sales_per_minute"]
    assert drawn["total_orders"].sum() == day["total_orders"].sum()  # the sample holds exactly one day
    assert "one point per" in window.business.range_bar.bucket.text()


def test_panning_pauses_the_live_edge_and_back_to_live_resumes(qtbot, make_window):
    window, _, reader = make_window()
    qtbot.waitUntil(lambda: window.data.last_updated is not None, timeout=5000)
    vb = window.business.sales.plot.getPlotItem().vb
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] > 1e9, timeout=5000)  # ranged on the data's times, not (0, 1)
    (x0, x1), _ = vb.viewRange()
    vb.translateBy(x=-(x1 - x0) / 2)  # what a drag does
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    assert not window.business.following and window.business.range_bar.live.isVisible()
    qtbot.waitUntil(lambda: reader.views[-1].end is not None, timeout=5000)
    assert reader.views[-1].end < x1  # the read ends where the user looks, not at the newest data
    window.business.range_bar.live.click()
    assert window.business.following and not window.business.range_bar.live.isVisible()
    qtbot.waitUntil(lambda: reader.views[-1].end is None, timeout=5000)


def test_the_range_is_kept_across_restarts(qtbot, make_window, tmp_path):
    window, _, _ = make_window()
    _choose(window, "7d")
    assert QSettings(str(window.config.paths.config_dir / "window.ini"), QSettings.Format.IniFormat).value(
        "time_range") == "7d"
    again, _, reader = make_window()
    assert again.business.range_bar.key() == "7d"
    qtbot.waitUntil(lambda: bool(reader.views) and reader.views[-1] is not None, timeout=5000)
    assert reader.views[-1].range_key == "7d"
