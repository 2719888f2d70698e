"""A titled pyqtgraph plot that remembers the data it draws and exports it as PNG or CSV.

Generic helpers every chart can use: `ValueAxis` (values with separators or k/M and an optional
currency, never pyqtgraph's "(x0.001)" scaling; whole numbers only for counts), the empty state (a
calm text in place of the plot while the chart has nothing to draw), `fit_flat` (a sensible range
for a series that is all one value), and bar charts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ecomdesk.data.contract import AGGREGATES_DIR, join
from ecomdesk.ui import fmt

pg.setConfigOptions(antialias=True, background="w", foreground="#333")

LEGEND_BRUSH = pg.mkBrush(255, 255, 255, 210)  # legends over lines stay readable
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class ValueAxis(pg.AxisItem):
    """Tick labels as `fmt.compact` writes them; `integer` keeps only whole-number ticks (counts)."""

    def __init__(self, orientation: str, prefix: str = "", integer: bool = False, **kwargs):
        super().__init__(orientation, **kwargs)
        self.prefix = prefix
        self.integer = integer
        self.enableAutoSIPrefix(False)

    def set_format(self, prefix: str | None = None, integer: bool | None = None) -> None:
        if prefix is not None:
            self.prefix = prefix
        if integer is not None:
            self.integer = integer
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 (pyqtgraph override)
        levels = super().tickValues(minVal, maxVal, size)
        if not self.integer:
            return levels
        out = []
        for spacing, values in levels:
            whole = [v for v in values if abs(v - round(v)) < 1e-9]
            if whole:
                out.append((max(spacing, 1.0), whole))
        return out

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        return [fmt.compact(v * scale, spacing * scale, self.prefix) for v in values]


class ChartBox(QWidget):
    """`title` with a tooltip saying what the chart shows and where it comes from (`source`);
    `empty` is what its empty state says (plus the window's context, `set_context`)."""

    def __init__(self, title: str, time_axis: bool = False, source: str = "", empty: str = "",
                 axes: dict[str, pg.AxisItem] | None = None, parent=None):
        super().__init__(parent)
        self.title = title
        self.data = pd.DataFrame()
        self.empty = empty or f"No {title[0].lower() + title[1:]} yet"
        self.context = ""
        self.has_data = False
        axis: dict[str, pg.AxisItem] = {"left": ValueAxis("left")}
        axis["bottom"] = pg.DateAxisItem() if time_axis else ValueAxis("bottom")
        axis.update(axes or {})
        self.plot = pg.PlotWidget(axisItems=axis)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumHeight(170)
        self.empty_label = QLabel()
        self.empty_label.setObjectName("empty-state")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color:#5f6b73; background:white; border:1px solid #e3e6e8; padding:12px")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.empty_label)
        self.heading = QLabel(f"<b>{title}</b>")
        self.heading.setToolTip(source or title)
        self.extra = QHBoxLayout()
        # PySide6 takes Qt properties as keywords; its stubs list only the constructor's own arguments
        self.png = QToolButton(text="PNG")  # type: ignore[call-arg]
        self.png.setToolTip(f"Export “{title}” as a PNG image")
        self.csv = QToolButton(text="CSV")  # type: ignore[call-arg]
        self.csv.setToolTip(f"Export the data of “{title}” as CSV")
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
        layout.addWidget(self.stack, 1)
        self.set_has_data(False)

    def set_heading(self, suffix: str = "") -> None:
        self.heading.setText(f"<b>{self.title}</b> {suffix}")

    # ----- empty state -----
    def set_has_data(self, has_data: bool) -> None:
        """The plot when there is something to draw, the empty-state text otherwise."""
        self.has_data = has_data
        self.stack.setCurrentWidget(self.plot if has_data else self.empty_label)
        self.png.setEnabled(has_data)
        self.csv.setEnabled(has_data)
        self._show_empty_text()

    def set_context(self, context: str) -> None:
        """Why there is no data, and what to do (from the window: stack stopped, starting, …)."""
        self.context = context
        self._show_empty_text()

    def empty_text(self) -> str:
        return f"{self.empty}." + (f"\n{self.context}" if self.context else "")

    def _show_empty_text(self) -> None:
        self.empty_label.setText(self.empty_text())

    # ----- export -----
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


def aggregate_source(base_path: str, name: str, what: str) -> str:
    """A chart title's tooltip: what it shows, and the aggregate and HDFS path it is read from."""
    path = join(base_path, AGGREGATES_DIR, name)
    return f"{what}\nFrom the aggregate {name}: {path} on HDFS, written by the Spark job."


def lay_out(parent: QWidget, boxes: list[ChartBox], columns: int = 3) -> None:
    """A tab's charts in a grid of `columns`, edge to edge."""
    grid = QGridLayout(parent)
    grid.setContentsMargins(0, 0, 0, 0)
    for i, box in enumerate(boxes):
        grid.addWidget(box, i // columns, i % columns)


def fit_flat(view: pg.ViewBox, values: list[np.ndarray], flat_was: bool) -> bool:
    """Give a series that is all one value (all zero: nothing behind, nothing quarantined) a range
    from 0 instead of pyqtgraph's ±0.5 around it; back to auto-range once it varies. Returns
    whether it is flat now (pass it back next time, so a user's zoom is kept while nothing changes)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    flat = finite.size > 0 and float(finite.min()) == float(finite.max())
    if flat:
        top = float(finite.max())
        lo, hi = (0.0, top * 1.2) if top > 0 else (top * 1.2, 0.0) if top < 0 else (0.0, 1.0)
        view.setYRange(lo, hi, padding=0.05)  # not 0: a label at the very edge is not drawn
    elif flat_was:
        view.enableAutoRange(axis=pg.ViewBox.YAxis)
    return flat


def bars(box: ChartBox, labels: list[str], values: list[float], color: str = PALETTE[0]) -> None:
    """Replace the plot's content with one bar per label."""
    plot = box.plot.getPlotItem()
    plot.clear()
    xs = list(range(len(values)))
    if xs:
        plot.addItem(pg.BarGraphItem(x=xs, height=values, width=0.7, brush=color))
    plot.getAxis("bottom").setTicks([[(x, _short(label)) for x, label in zip(xs, labels, strict=True)]])
    plot.enableAutoRange()
    box.set_has_data(any(v for v in values))


def hbars(box: ChartBox, labels: list[str], values: list[float], color: str = PALETTE[0]) -> None:
    """Horizontal bars, largest on top: for categories whose names are too long for the x axis."""
    plot = box.plot.getPlotItem()
    plot.clear()
    ys = list(range(len(values)))[::-1]
    if ys:
        plot.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.7, width=values, brush=color))
    plot.getAxis("left").setTicks([[(y, label) for y, label in zip(ys, labels, strict=True)]])
    plot.enableAutoRange()
    box.set_has_data(any(v for v in values))


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
