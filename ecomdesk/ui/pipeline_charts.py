"""Pipeline health charts: producer events/s, Spark rows/s and batch duration, lag, quarantine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ecomdesk.data.pipeline_history import PipelineHistory
from ecomdesk.ui.chart_box import PALETTE, ChartBox, hbars, lay_out


class SeriesChart(ChartBox):
    """Lines for every history series under some prefixes, created as series appear."""

    def __init__(self, title: str, prefixes: tuple[str, ...], dashed: tuple[str, ...] = (), unit: str = ""):
        super().__init__(title, time_axis=True)
        self.prefixes = prefixes
        self.dashed = dashed
        self.curves: dict[str, pg.PlotDataItem] = {}
        item = self.plot.getPlotItem()
        item.addLegend(offset=(10, 5))
        if unit:
            item.setLabel("left", unit)

    def keys(self, history: PipelineHistory) -> list[str]:
        return [k for p in self.prefixes for k in history.keys(p)]

    def draw(self, history: PipelineHistory) -> None:
        keys = self.keys(history)
        for key in keys:
            series = history.series[key]
            curve = self.curves.get(key)
            if curve is None:
                style = Qt.PenStyle.DashLine if key.startswith(self.dashed) else Qt.PenStyle.SolidLine
                color = PALETTE[len(self.curves) % len(PALETTE)]
                curve = self.plot.getPlotItem().plot(pen=pg.mkPen(color, width=2, style=style), name=key)
                self.curves[key] = curve
            curve.setData(np.fromiter(series.t, float), np.fromiter(series.v, float))
        self.data = history.frame(keys)


class PipelineCharts(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.events = SeriesChart(
            "Producer events/s", ("producer_rate", "target_rate"), ("target_rate",), "events/s"
        )
        self.rows = SeriesChart(
            "Spark input vs processed rows/s",
            ("spark_input/", "spark_processed/"),
            ("spark_processed/",),
            "rows/s",
        )
        self.batch = SeriesChart("Batch duration", ("batch_ms/",), unit="ms")
        self.behind = SeriesChart("Offsets behind latest", ("behind/",), unit="messages")
        self.quarantined = SeriesChart("Quarantined events (cumulative)", ("quarantined",), unit="events")
        self.reasons = ChartBox("Quarantined by reason (HDFS)")
        lay_out(self, self.boxes())

    def boxes(self) -> list[ChartBox]:
        return [self.events, self.rows, self.batch, self.behind, self.quarantined, self.reasons]

    def draw_history(self, history: PipelineHistory) -> None:
        for chart in (self.events, self.rows, self.batch, self.behind, self.quarantined):
            chart.draw(history)

    def draw_quarantine(self, counts: pd.DataFrame) -> None:
        counts = counts.sort_values("count", ascending=False) if not counts.empty else counts
        self.reasons.data = counts
        labels = counts["reason"].astype(str).tolist() if not counts.empty else []
        values = counts["count"].tolist() if not counts.empty else []
        hbars(self.reasons, labels, values, PALETTE[3])
