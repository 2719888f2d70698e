"""The business charts, drawn from the shaped data the data reader returns (`chart_views.Business`)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QWidget

from ecomdesk.data import chart_views
from ecomdesk.data.chart_views import Business
from ecomdesk.ui.chart_box import LEGEND_BRUSH, PALETTE, ChartBox, ValueAxis, aggregate_source, bars, hbars, lay_out

SORT_LABELS = {"avg_ticket": "Average ticket", "total_spent": "Total spent", "orders": "Orders"}
GAP_SECONDS = 90  # consecutive points further apart than this (minutes without data) are not joined
MARKERS_UP_TO = 120  # per-minute lines mark each point while they have at most this many


def gapped(t: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute points with a NaN between any two more than GAP_SECONDS apart, so that a line
    drawn with connect="finite" breaks where there was no data instead of bridging the gap."""
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    breaks = np.nonzero(np.diff(t) > GAP_SECONDS)[0] + 1
    return np.insert(t, breaks, np.nan), np.insert(y, breaks, np.nan)


class MinuteLine:
    """One per-minute series in two parts: the finished minutes (`done`; a marker on each point
    while there are few, so the first minute shows), and the minute still in progress (`progress`:
    dotted, lighter, a hollow marker), joined to the last finished point; it is still filling, so
    its lower value must not read as a drop."""

    def __init__(self, add, color: str, name: str, style: Qt.PenStyle = Qt.PenStyle.SolidLine):
        light = QColor(color)
        light.setAlpha(120)
        self.done = pg.PlotDataItem(pen=pg.mkPen(color, width=2, style=style), name=name,
                                    symbolPen=pg.mkPen(color), symbolBrush=color, symbolSize=5)
        self.progress = pg.PlotDataItem(pen=pg.mkPen(light, width=2, style=Qt.PenStyle.DotLine),
                                        symbol="o", symbolSize=7, symbolPen=pg.mkPen(color, width=1.5),
                                        symbolBrush="w")
        add(self.done)
        add(self.progress)

    def set_data(self, t: ArrayLike, y: ArrayLike, now: float) -> None:
        t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
        k = chart_views.finished_minutes(t, now)
        self.done.setSymbol("o" if len(t) <= MARKERS_UP_TO else None)
        self.done.setData(*gapped(t[:k], y[:k]), connect="finite")
        tail = slice(max(k - 1, 0), None) if k < len(t) else slice(0, 0)
        self.progress.setData(t[tail], y[tail])


class SalesChart(ChartBox):
    """Total sales (left axis) and orders (right axis) per minute."""

    def __init__(self, base_path: str = "/ecommerce", currency: str = "$"):
        super().__init__(
            "Sales per minute", time_axis=True, empty="No sales yet",
            source=aggregate_source(base_path, "sales_per_minute",
                                    f"Total sales ({currency}, left axis) and orders (right axis) per minute of "
                                    "event time; the minute still in progress is dotted."),
            axes={"left": ValueAxis("left", prefix=currency), "right": ValueAxis("right", integer=True)},
        )
        item = self.plot.getPlotItem()
        item.addLegend(offset=(10, 5), brush=LEGEND_BRUSH)
        item.setLabel("left", f"sales ({currency})")
        self.orders_view = pg.ViewBox()
        self.line = MinuteLine(item.addItem, PALETTE[0], "total sales")
        self.sales = self.line.done
        item.showAxis("right")
        item.scene().addItem(self.orders_view)
        item.getAxis("right").linkToView(self.orders_view)
        item.getAxis("right").setLabel("orders")
        self.orders_view.setXLink(item)
        self.orders_line = MinuteLine(self.orders_view.addItem, PALETTE[1], "orders", Qt.PenStyle.DashLine)
        self.orders = self.orders_line.done
        item.legend.addItem(self.orders, "orders")
        item.vb.sigResized.connect(self._sync)

    def _sync(self) -> None:
        vb = self.plot.getPlotItem().vb
        self.orders_view.setGeometry(vb.sceneBoundingRect())
        self.orders_view.linkedViewChanged(vb, self.orders_view.XAxis)

    def draw(self, df: pd.DataFrame, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.data = df.drop(columns="t")
        self.line.set_data(df["t"], df["total_sales"], now)
        self.orders_line.set_data(df["t"], df["total_orders"], now)
        self.orders_view.enableAutoRange()
        self.set_has_data(len(df) > 0)


class BusinessCharts(QWidget):
    def __init__(self, top_n: int, parent=None, base_path: str = "/ecommerce", currency: str = "$"):
        super().__init__(parent)
        self.top_n = top_n
        self.currency = currency
        self.all_users: pa.Table | None = None  # every user, for re-sorting without a read
        self.sales = SalesChart(base_path, currency)
        self.users = ChartBox(
            "Average ticket per user", empty="No orders yet",
            source=aggregate_source(base_path, "avg_ticket_per_user",
                                    "The top users by the chosen figure (average ticket, total spent or orders)."),
            axes={"bottom": ValueAxis("bottom", prefix=currency)},
        )
        self.user_sort = QComboBox()
        self.user_sort.setToolTip("Which figure ranks the users, and which the bars show")
        for key, label in SORT_LABELS.items():
            self.user_sort.addItem(f"Top by {label.lower()}", key)
        self.users.extra.addWidget(self.user_sort)
        self.user_sort.currentIndexChanged.connect(self._redraw_users)
        self.categories = ChartBox(
            "Views by category", empty="No page views yet",
            source=aggregate_source(base_path, "views_by_category", "Page views per product category, all time."),
            axes={"bottom": ValueAxis("bottom", integer=True)},
        )
        self.products = ChartBox(
            "Top products by views", empty="No page views yet",
            source=aggregate_source(base_path, "top_products", f"The {top_n} most viewed products, all time."),
            axes={"left": ValueAxis("left", integer=True)},
        )
        self.product_sales = ChartBox(
            "Sales by product per minute", time_axis=True, empty="No sales yet",
            source=aggregate_source(base_path, "sales_by_product_per_minute",
                                    f"Revenue ({currency}) per minute of the {chart_views.PRODUCT_LINES} products "
                                    "with the most revenue; the minute still in progress is dotted."),
            axes={"left": ValueAxis("left", prefix=currency)},
        )
        self.product_sales.plot.getPlotItem().addLegend(offset=(10, 5), brush=LEGEND_BRUSH)
        self.product_lines: list[MinuteLine] = []
        self.funnel = ChartBox("Conversion funnel", empty="No carts yet", source=aggregate_source(
            base_path, "conversion_overall", "Carts, purchases and carts converted to a purchase, all time."))
        lay_out(self, self.boxes())

    def boxes(self) -> list[ChartBox]:
        return [self.sales, self.users, self.categories, self.products, self.product_sales, self.funnel]

    def user_sort_key(self) -> str:
        return self.user_sort.currentData()

    def show_data(self, data: Business, now: float | None = None) -> None:
        """Redraw every chart from one refresh (read and shaped in the reader's thread)."""
        now = time.time() if now is None else now
        self.all_users = data.users
        views = data.views
        self.sales.draw(views["sales_per_minute"], now)
        self._draw_users(views["avg_ticket_per_user"])
        cats = views["views_by_category"]
        self.categories.data = cats
        hbars(self.categories, cats["category"].astype(str).tolist(), cats["views"].tolist(), PALETTE[2])
        prods = views["top_products"]
        self.products.data = prods
        bars(self.products, prods["product_id"].astype(str).tolist(), prods["views"].tolist(), PALETTE[4])
        self._draw_product_sales(views["sales_by_product_per_minute"], now)
        funnel = views["conversion_funnel"]
        self.funnel.data = funnel
        bars(self.funnel, funnel["stage"].tolist(), funnel["count"].tolist(), PALETTE[3])
        rate = views["conversion_rate"]
        self.funnel.set_heading("" if rate is None else f"— conversion {rate:.1%}")

    def _redraw_users(self) -> None:
        if self.all_users is not None:
            self._draw_users(chart_views.top_users(self.all_users, self.top_n, self.user_sort_key()))

    def _draw_users(self, df: pd.DataFrame) -> None:
        self.users.data = df
        key = self.user_sort_key()
        hbars(self.users, df["user_id"].astype(str).tolist(), df[key].astype(float).tolist(), PALETTE[0])
        item = self.users.plot.getPlotItem()
        money = key != "orders"
        item.getAxis("bottom").set_format(prefix=self.currency if money else "", integer=not money)
        item.setLabel("bottom", SORT_LABELS[key].lower() + (f" ({self.currency})" if money else ""))

    def _draw_product_sales(self, wide: pd.DataFrame, now: float) -> None:
        self.product_sales.data = wide.drop(columns="t", errors="ignore")
        item = self.product_sales.plot.getPlotItem()
        item.clear()
        item.legend.clear()
        products = [c for c in wide.columns if c not in ("t", "window_start")]
        self.product_lines = []
        for i, product in enumerate(products):
            line = MinuteLine(item.addItem, PALETTE[i % len(PALETTE)], product)
            line.set_data(wide["t"], wide[product], now)
            self.product_lines.append(line)
        self.product_sales.set_has_data(len(wide) > 0 and bool(products))
