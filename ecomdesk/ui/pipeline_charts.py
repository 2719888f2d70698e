"""Pipeline health charts: producer events/s, Spark rows/s and batch duration, lag, quarantine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ecomdesk.data.contract import QUARANTINE_COUNTS
from ecomdesk.data.pipeline_history import PipelineHistory
from ecomdesk.ui.chart_box import LEGEND_BRUSH, PALETTE, ChartBox, ValueAxis, aggregate_source, fit_flat, hbars, lay_out

PRODUCER = "From the producer's telemetry (one report a second on its stdout), kept for the last 30 minutes."
SPARK = "From the Spark job's progress reports (one per micro-batch of each query), kept for the last 30 minutes."


class SeriesChart(ChartBox):
    """Lines for every history series under some prefixes, created as series appear."""

    def __init__(self, title: str, prefixes: tuple[str, ...], dashed: tuple[str, ...] = (), unit: str = "",
                 source: str = "", empty: str = "", integer: bool = False):
        super().__init__(title, time_axis=True, source=source, empty=empty,
                         axes={"left": ValueAxis("left", integer=integer)})
        self.prefixes = prefixes
        self.dashed = dashed
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.flat = False
        item = self.plot.getPlotItem()
        item.addLegend(offset=(10, 5), brush=LEGEND_BRUSH)
        if unit:
            item.setLabel("left", unit)

    def keys(self, history: PipelineHistory) -> list[str]:
        return [k for p in self.prefixes for k in history.keys(p)]

    def draw(self, history: PipelineHistory) -> None:
        keys = self.keys(history)
        values = []
        for key in keys:
            series = history.series[key]
            curve = self.curves.get(key)
            if curve is None:
                style = Qt.PenStyle.DashLine if key.startswith(self.dashed) else Qt.PenStyle.SolidLine
                color = PALETTE[len(self.curves) % len(PALETTE)]
                curve = self.plot.getPlotItem().plot(pen=pg.mkPen(color, width=2, style=style), name=key)
                self.curves[key] = curve
            v = np.fromiter(series.v, float)
            # a marker while a series has few points: its first point is visible, not a line of length 0
            curve.setSymbol("o" if len(v) <= 3 else None)
            curve.setSymbolSize(5)
            curve.setData(np.fromiter(series.t, float), v)
            values.append(v)
        self.flat = fit_flat(self.plot.getPlotItem().vb, values, self.flat)
        self.data = history.frame(keys)
        self.set_has_data(any(len(v) for v in values))


class PipelineCharts(QWidget):
    def __init__(self, parent=None, base_path: str = "/ecommerce"):
        super().__init__(parent)
        self.events = SeriesChart(
            "Producer events/s", ("producer_rate", "target_rate"), ("target_rate",), "events/s",
            source=f"Events the producer sends per second (solid) and its target rate (dashed).\n{PRODUCER}",
            empty="No producer telemetry yet",
        )
        self.rows = SeriesChart(
            "Spark input vs processed rows/s",
            ("spark_input/", "spark_processed/"),
            ("spark_processed/",),
            "rows/s",
            source=f"Rows per second read from Kafka (solid) and processed (dashed), per streaming query.\n{SPARK}",
            empty="No Spark batch yet",
        )
        self.batch = SeriesChart("Batch duration", ("batch_ms/",), unit="ms",
                                 source=f"How long each micro-batch took, per streaming query.\n{SPARK}",
                                 empty="No Spark batch yet")
        self.behind = SeriesChart(
            "Offsets behind latest", ("behind/",), unit="messages", integer=True, empty="No Spark batch yet",
            source=f"Messages in each Kafka topic the job has not read yet (0: caught up).\n{SPARK}",
        )
        self.quarantined = SeriesChart(
            "Quarantined events (cumulative)", ("quarantined",), unit="events", integer=True,
            empty="No Spark batch yet", source=f"Invalid events the job set aside, all batches so far.\n{SPARK}",
        )
        self.reasons = ChartBox(
            "Quarantined by reason (HDFS)", empty="No quarantined events",
            source=aggregate_source(base_path, QUARANTINE_COUNTS, "Quarantined events per reason, all time."),
            axes={"bottom": ValueAxis("bottom", integer=True)},
        )
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
