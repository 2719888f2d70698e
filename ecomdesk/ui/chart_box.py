"""A titled pyqtgraph plot that remembers the data it draws and exports it as PNG or CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtWidgets import QFileDialog, QGridLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

pg.setConfigOptions(antialias=True, background="w", foreground="#333")

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class ChartBox(QWidget):
    def __init__(self, title: str, time_axis: bool = False, parent=None):
        super().__init__(parent)
        self.title = title
        self.data = pd.DataFrame()
        axis = {"bottom": pg.DateAxisItem()} if time_axis else {}
        self.plot = pg.PlotWidget(axisItems=axis)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumHeight(170)
        self.heading = QLabel(f"<b>{title}</b>")
        self.extra = QHBoxLayout()
        # PySide6 takes Qt properties as keywords; its stubs list only the constructor's own arguments
        self.png = QToolButton(text="PNG")  # type: ignore[call-arg]
        self.png.setToolTip("Export the chart as a PNG image")
        self.csv = QToolButton(text="CSV")  # type: ignore[call-arg]
        self.csv.setToolTip("Export the chart's data as CSV")
        self.png.clicked.connect(self._ask_png)  # bound methods: a lambda would keep the box alive
        self.csv.clicked.connect(self._ask_csv)
        bar = QHBoxLayout()
        bar.addWidget(self.heading, 1)
        bar.addLayout(self.extra)
        bar.addWidget(self.png)
        bar.addWidget(self.csv)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

    def set_heading(self, suffix: str = "") -> None:
        self.heading.setText(f"<b>{self.title}</b> {suffix}")

    def _ask_png(self) -> None:
        self._ask_and_export("png")

    def _ask_csv(self) -> None:
        self._ask_and_export("csv")

    def _ask_and_export(self, kind: str) -> None:
        stem = self.title.lower().replace(" ", "_").replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", f"{stem}.{kind}", f"*.{kind}")
        if path:
            (self.export_png if kind == "png" else self.export_csv)(Path(path))

    def export_png(self, path: Path) -> None:
        exporter = pyqtgraph.exporters.ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = max(800, self.plot.width())
        exporter.export(str(path))

    def export_csv(self, path: Path) -> None:
        self.data.to_csv(path, index=False)


def lay_out(parent: QWidget, boxes: list[ChartBox], columns: int = 3) -> None:
    """A tab's charts in a grid of `columns`, edge to edge."""
    grid = QGridLayout(parent)
    grid.setContentsMargins(0, 0, 0, 0)
    for i, box in enumerate(boxes):
        grid.addWidget(box, i // columns, i % columns)


def bars(box: ChartBox, labels: list[str], values: list[float], color: str = PALETTE[0]) -> None:
    """Replace the plot's content with one bar per label."""
    plot = box.plot.getPlotItem()
    plot.clear()
    xs = list(range(len(values)))
    if xs:
        plot.addItem(pg.BarGraphItem(x=xs, height=values, width=0.7, brush=color))
    plot.getAxis("bottom").setTicks([[(x, _short(label)) for x, label in zip(xs, labels, strict=True)]])
    plot.enableAutoRange()


def hbars(box: ChartBox, labels: list[str], values: list[float], color: str = PALETTE[0]) -> None:
    """Horizontal bars, largest on top: for categories whose names are too long for the x axis."""
    plot = box.plot.getPlotItem()
    plot.clear()
    ys = list(range(len(values)))[::-1]
    if ys:
        plot.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.7, width=values, brush=color))
    plot.getAxis("left").setTicks([[(y, label) for y, label in zip(ys, labels, strict=True)]])
    plot.enableAutoRange()


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
