"""The business charts, drawn from the shaped data the data reader returns (`chart_views.Business`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtWidgets import QComboBox, QWidget

from ecomdesk.data import chart_views
from ecomdesk.data.chart_views import Business
from ecomdesk.ui.chart_box import PALETTE, ChartBox, bars, lay_out

SORT_LABELS = {"avg_ticket": "Average ticket", "total_spent": "Total spent", "orders": "Orders"}
FUNNEL_TIP = ("Product views, and those the same user added to the cart within 20 minutes, then bought "
              "(after that cart, within 20 minutes of the view). Each bar: views; % of the bar before.")
CART_CONVERSION_TIP = ("Cart conversion rate: carts (add_to_cart events) that the same user bought, same product, "
                       "0-20 minutes after the cart, out of all carts. Not a step of the funnel.")
GAP_SECONDS = 90  # consecutive points further apart than this (minutes without data) are not joined


def gapped(t: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute points with a NaN between any two more than GAP_SECONDS apart, so that a line
    drawn with connect="finite" breaks where there was no data instead of bridging the gap."""
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    breaks = np.nonzero(np.diff(t) > GAP_SECONDS)[0] + 1
    return np.insert(t, breaks, np.nan), np.insert(y, breaks, np.nan)


class SalesChart(ChartBox):
    """Total sales (left axis) and orders (right axis) per minute."""

    def __init__(self):
        super().__init__("Sales per minute", time_axis=True)
        item = self.plot.getPlotItem()
        item.addLegend(offset=(10, 5))
        item.setLabel("left", "sales")
        self.sales = item.plot(pen=pg.mkPen(PALETTE[0], width=2), name="total sales")
        self.orders_view = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.orders_view)
        item.getAxis("right").linkToView(self.orders_view)
        item.getAxis("right").setLabel("orders")
        self.orders_view.setXLink(item)
        self.orders = pg.PlotDataItem(pen=pg.mkPen(PALETTE[1], width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.orders_view.addItem(self.orders)
        item.legend.addItem(self.orders, "orders")
        item.vb.sigResized.connect(self._sync)

    def _sync(self) -> None:
        vb = self.plot.getPlotItem().vb
        self.orders_view.setGeometry(vb.sceneBoundingRect())
        self.orders_view.linkedViewChanged(vb, self.orders_view.XAxis)

    def draw(self, df: pd.DataFrame) -> None:
        self.data = df.drop(columns="t")
        self.sales.setData(*gapped(df["t"], df["total_sales"]), connect="finite")
        self.orders.setData(*gapped(df["t"], df["total_orders"]), connect="finite")
        self.orders_view.enableAutoRange()


class BusinessCharts(QWidget):
    def __init__(self, top_n: int, parent=None):
        super().__init__(parent)
        self.top_n = top_n
        self.all_users: pa.Table | None = None  # every user, for re-sorting without a read
        self.sales = SalesChart()
        self.users = ChartBox("Average ticket per user")
        self.user_sort = QComboBox()
        for key, label in SORT_LABELS.items():
            self.user_sort.addItem(f"Top by {label.lower()}", key)
        self.users.extra.addWidget(self.user_sort)
        self.user_sort.currentIndexChanged.connect(self._redraw_users)
        self.categories = ChartBox("Views by category")
        self.products = ChartBox("Top products by views")
        self.product_sales = ChartBox("Sales by product per minute", time_axis=True)
        self.product_sales.plot.getPlotItem().addLegend(offset=(10, 5))
        self.funnel = ChartBox("Conversion funnel")
        self.funnel.plot.setToolTip(FUNNEL_TIP)
        self.funnel.heading.setToolTip(CART_CONVERSION_TIP)
        lay_out(self, self.boxes())

    def boxes(self) -> list[ChartBox]:
        return [self.sales, self.users, self.categories, self.products, self.product_sales, self.funnel]

    def user_sort_key(self) -> str:
        return self.user_sort.currentData()

    def show_data(self, data: Business) -> None:
        """Redraw every chart from one refresh (read and shaped in the reader's thread)."""
        self.all_users = data.users
        views = data.views
        self.sales.draw(views["sales_per_minute"])
        self._draw_users(views["avg_ticket_per_user"])
        cats = views["views_by_category"]
        self.categories.data = cats
        bars(self.categories, cats["category"].astype(str).tolist(), cats["views"].tolist(), PALETTE[2])
        prods = views["top_products"]
        self.products.data = prods
        bars(self.products, prods["product_id"].astype(str).tolist(), prods["views"].tolist(), PALETTE[4])
        self._draw_product_sales(views["sales_by_product_per_minute"])
        self._draw_funnel(views["conversion_funnel"], views["cart_conversion_rate"])

    def _draw_funnel(self, funnel: pd.DataFrame, cart_rate: float | None) -> None:
        """Viewed -> Added to cart -> Bought, each bar labelled with its share of the step before;
        the cart conversion rate, a different figure, beside the title with its definition."""
        self.funnel.data = funnel
        bars(self.funnel, funnel["stage"].tolist(), funnel["count"].tolist(), PALETTE[3])
        item = self.funnel.plot.getPlotItem()
        item.getAxis("bottom").setTicks([[(i, stage) for i, stage in enumerate(funnel["stage"])]])
        for i, (count, step) in enumerate(zip(funnel["count"], funnel["step"], strict=True)):
            label = pg.TextItem(f"{count:,}" + (f"\n{step:.1%} of the step before" if i else ""),
                                color="#333", anchor=(0.5, 1.0))
            label.setPos(i, count)
            item.addItem(label)
        self.funnel.set_heading("" if cart_rate is None else f"— cart conversion rate {cart_rate:.1%}")

    def _redraw_users(self) -> None:
        if self.all_users is not None:
            self._draw_users(chart_views.top_users(self.all_users, self.top_n, self.user_sort_key()))

    def _draw_users(self, df: pd.DataFrame) -> None:
        self.users.data = df
        key = self.user_sort_key()
        bars(self.users, df["user_id"].astype(str).tolist(), df[key].astype(float).tolist(), PALETTE[0])
        self.users.plot.getPlotItem().setLabel("left", SORT_LABELS[key].lower())

    def _draw_product_sales(self, wide: pd.DataFrame) -> None:
        self.product_sales.data = wide.drop(columns="t", errors="ignore")
        item = self.product_sales.plot.getPlotItem()
        item.clear()
        item.legend.clear()
        products = [c for c in wide.columns if c not in ("t", "window_start")]
        for i, product in enumerate(products):
            item.plot(
                *gapped(wide["t"], wide[product]),
                connect="finite",
                pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2),
                name=product,
            )
