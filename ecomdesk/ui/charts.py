"""The business charts, drawn from the shaped data the data reader returns (`chart_views.Business`)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ecomdesk.data import chart_views
from ecomdesk.data.chart_views import Business
from ecomdesk.data.time_range import BY_KEY, DEFAULT, MINUTE, RANGES, ChartView, bucket_label
from ecomdesk.ui.chart_box import LEGEND_BRUSH, PALETTE, ChartBox, ValueAxis, aggregate_source, bars, hbars, lay_out

SORT_LABELS = {"avg_ticket": "Average ticket", "total_spent": "Total spent", "orders": "Orders"}
FUNNEL_TIP = ("Product views, and those the same user added to the cart within 20 minutes, then bought "
              "(after that cart, within 20 minutes of the view). Each bar: views; % of the bar before.")
CART_CONVERSION_TIP = ("Cart conversion rate: carts (add_to_cart events) that the same user bought, same product, "
                       "0-20 minutes after the cart, out of all carts. Not a step of the funnel.")
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

    def set_data(self, t: ArrayLike, y: ArrayLike, now: float, bucket: float = MINUTE) -> None:
        t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
        k = chart_views.finished_minutes(t, now, bucket)
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

    def draw(self, df: pd.DataFrame, now: float | None = None, bucket: float = MINUTE) -> None:
        now = time.time() if now is None else now
        self.data = df.drop(columns="t")
        self.line.set_data(df["t"], df["total_sales"], now, bucket)
        self.orders_line.set_data(df["t"], df["total_orders"], now, bucket)
        self.orders_view.enableAutoRange()
        self.set_has_data(len(df) > 0)


class RangeBar(QWidget):
    """The per-minute charts' time range, and Back to live while the user looks elsewhere."""

    def __init__(self, key: str, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Time range:"))
        self.combo = QComboBox()
        self.combo.setToolTip("Range of the per-minute charts; long ranges are summed per 5 min, hour, ...")
        for r in RANGES:
            self.combo.addItem(r.label, r.key)
        self.combo.setCurrentIndex(max(0, self.combo.findData(key if key in BY_KEY else DEFAULT)))
        layout.addWidget(self.combo)
        self.live = QPushButton("⏵ Back to live")
        self.live.setToolTip("Follow the newest data again (panning or zooming a per-minute chart pauses it)")
        self.live.hide()
        layout.addWidget(self.live)
        self.bucket = QLabel("")
        layout.addWidget(self.bucket)
        layout.addStretch(1)

    def key(self) -> str:
        return self.combo.currentData()


class BusinessCharts(QWidget):
    view_changed = Signal()  # the time range changed, or following the live edge paused or resumed

    def __init__(self, top_n: int, parent=None, base_path: str = "/ecommerce", currency: str = "$",
                 time_range: str = DEFAULT):
        super().__init__(parent)
        self.top_n = top_n
        self.following = True
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
        self.funnel = ChartBox("Conversion funnel", empty="No page views yet", source=aggregate_source(
            base_path, "conversion_overall", "Page views, those added to the cart and those bought within the "
            "conversion window, all time; the cart conversion rate beside the title is another figure."))
        self.funnel.plot.setToolTip(FUNNEL_TIP)
        self.funnel.heading.setToolTip(f"{self.funnel.heading.toolTip()}\n\n{CART_CONVERSION_TIP}")
        self.range_bar = RangeBar(time_range)
        self.range_bar.combo.currentIndexChanged.connect(self._range_chosen)
        self.range_bar.live.clicked.connect(self.back_to_live)
        self.product_sales.plot.setXLink(self.sales.plot)  # the two per-minute charts pan together
        self._timeline().sigRangeChangedManually.connect(self._paused)
        self.product_sales.plot.getPlotItem().vb.sigRangeChangedManually.connect(self._paused)
        grid = QWidget()
        lay_out(grid, self.boxes())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.range_bar)
        layout.addWidget(grid, 1)

    def _timeline(self) -> pg.ViewBox:
        return self.sales.plot.getPlotItem().vb

    def chart_view(self) -> ChartView:
        """What the next read should return: the chosen range, ending now or where the user looks."""
        end = None if self.following else float(self._timeline().viewRange()[0][1])
        return ChartView(self.range_bar.key(), end, max(100, self.sales.plot.width()))

    def _range_chosen(self) -> None:
        self.back_to_live()

    def _paused(self, *_) -> None:
        if self.following:
            self.following = False
            self.range_bar.live.show()
            self.view_changed.emit()

    def back_to_live(self) -> None:
        self.following = True
        self.range_bar.live.hide()
        self._timeline().enableAutoRange(x=True)
        self.view_changed.emit()

    def boxes(self) -> list[ChartBox]:
        return [self.sales, self.users, self.categories, self.products, self.product_sales, self.funnel]

    def user_sort_key(self) -> str:
        return self.user_sort.currentData()

    def show_data(self, data: Business, now: float | None = None) -> None:
        """Redraw every chart from one refresh (read and shaped in the reader's thread)."""
        now = time.time() if now is None else now
        self.all_users = data.users
        views = data.views
        window = views.get("window")
        bucket = window.bucket if window is not None else MINUTE
        per = "" if bucket == MINUTE else f"— summed per {bucket_label(bucket)}"
        for box in (self.sales, self.product_sales):
            box.set_heading(per)
        self.range_bar.bucket.setText(f"one point per {bucket_label(bucket)}")
        self.sales.draw(views["sales_per_minute"], now, bucket)
        self._draw_users(views["avg_ticket_per_user"])
        cats = views["views_by_category"]
        self.categories.data = cats
        hbars(self.categories, cats["category"].astype(str).tolist(), cats["views"].tolist(), PALETTE[2])
        prods = views["top_products"]
        self.products.data = prods
        bars(self.products, prods["product_id"].astype(str).tolist(), prods["views"].tolist(), PALETTE[4])
        self._draw_product_sales(views["sales_by_product_per_minute"], now, bucket)
        self._draw_funnel(views["conversion_funnel"], views["cart_conversion_rate"])

    def _draw_funnel(self, funnel: pd.DataFrame, cart_rate: float | None) -> None:
        """Viewed -> Added to cart -> Bought, each bar labelled with its share of the step before;
        the cart conversion rate, a different figure, beside the title with its definition."""
        self.funnel.data = funnel
        bars(self.funnel, funnel["stage"].tolist(), funnel["count"].tolist(), PALETTE[3])
        item = self.funnel.plot.getPlotItem()
        item.getAxis("bottom").setTicks([[(i, stage) for i, stage in enumerate(funnel["stage"])]])
        for i, (count, step) in enumerate(zip(funnel["count"], funnel["step"], strict=True)):
            label = pg.TextItem(f"{count:,}" + (f"\n{step:.1%}" if i else ""), color="#333", anchor=(0.5, 1.0))
            label.setPos(i, count)
            item.addItem(label)
        top = max(funnel["count"].max(), 1) if len(funnel) else 1
        item.setYRange(0, top * 1.25, padding=0)  # room for the first bar's label
        self.funnel.set_heading("" if cart_rate is None else f"— cart conversion rate {cart_rate:.1%}")

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

    def _draw_product_sales(self, wide: pd.DataFrame, now: float, bucket: float = MINUTE) -> None:
        self.product_sales.data = wide.drop(columns="t", errors="ignore")
        item = self.product_sales.plot.getPlotItem()
        item.clear()
        item.legend.clear()
        products = [c for c in wide.columns if c not in ("t", "window_start")]
        self.product_lines = []
        for i, product in enumerate(products):
            line = MinuteLine(item.addItem, PALETTE[i % len(PALETTE)], product)
            line.set_data(wide["t"], wide[product], now, bucket)
            self.product_lines.append(line)
        self.product_sales.set_has_data(len(wide) > 0 and bool(products))
