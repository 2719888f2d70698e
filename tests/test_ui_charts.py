"""Charts that read at a glance: the minute in progress, the first point, axis ticks with separators and
the currency, an all-zero series (ui/charts, ui/chart_box). Over the fakes."""


from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt
from ui_fakes import make_config, started

from ecomdesk.data.chart_views import business, finished_minutes
from ecomdesk.testing.contract_data import sample_frames
from ecomdesk.ui import fmt

TESTS = Path(__file__).parent


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
    started(qtbot, window)
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
