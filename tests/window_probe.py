"""Opens the real MainWindow over fakes holding realistic data, at a given size, on whatever Qt
platform the environment names (the Xvfb test runs it with QT_QPA_PLATFORM=xcb), then reports what
does not fit as JSON on stdout and optionally saves a screenshot.

    python tests/window_probe.py WIDTH HEIGHT [--tab business|pipeline] [--screenshot PATH] [--stopped]

It is a script (one window per process) so that each size gets a fresh X connection and screen.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QScrollArea, QWidget  # noqa: E402
from ui_fakes import FakeReader, FakeStack, make_config  # noqa: E402

from ecomdesk.telemetry import BatchReport, ProducerReport, job_state, to_dict  # noqa: E402


def live_frames(reader: FakeReader, minutes: int = 45) -> None:
    """The sample aggregates moved so that their last minute is the one in progress now."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    rng = np.random.default_rng(3)
    for name in ("sales_per_minute", "sales_by_product_per_minute", "conversion_funnel"):
        df = reader.frames[name]
        starts = sorted(df["window_start"].unique())[-minutes:]
        df = df[df["window_start"].isin(starts)].copy()
        shift = now - pd.Timestamp(starts[-1])
        df["window_start"] = df["window_start"] + shift
        df["window_end"] = df["window_end"] + shift
        if name == "sales_per_minute":
            df["total_orders"] = rng.poisson(900, len(df))
            df["total_sales"] = (df["total_orders"] * rng.uniform(2300, 2500, len(df))).round(2)
            last = df["window_start"] == df["window_start"].max()
            df.loc[last, ["total_orders", "total_sales"]] = df.loc[last, ["total_orders", "total_sales"]] * 0.35
        reader.frames[name] = df.reset_index(drop=True)


def fill_history(window, supervisor, seconds: int = 240) -> None:
    """Pipeline telemetry for the last few minutes, fed through the window's own history."""
    now = time.time()
    rng = np.random.default_rng(5)
    for i in range(seconds):
        t = now - seconds + i
        report = ProducerReport(sent=1000 * i, delivered=1000 * i - 5, failed=0, in_flight=5,
                                rate=float(1000 + rng.normal(0, 15)), target_rate=1000.0, paused=False,
                                invalid_fraction=0.0, invalid=0,
                                per_topic={"orders": 100 * i, "cart_events": 250 * i, "page_views": 650 * i})
        supervisor.telemetry["producer"] = to_dict(report)
        if i % 2 == 0:
            batches = {}
            for q in ("sales", "funnel"):
                batches[q] = BatchReport(query=q, batch_id=i // 2, input_rows=2000,
                                         input_rows_per_second=float(1000 + rng.normal(0, 40)),
                                         processed_rows_per_second=float(1050 + rng.normal(0, 60)),
                                         batch_duration_ms=int(600 + rng.normal(0, 80)),
                                         offsets_behind={"orders": 0, "cart_events": 0, "page_views": 0},
                                         state_rows=30, watermark=None, quarantined=0)
            supervisor.telemetry["spark-job"] = job_state(batches, batches["sales"])
        window.history.ingest(supervisor.snapshot(), now=t)
    window.pipeline.draw_history(window.history)


def clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons narrower than their text needs (elided labels excepted)."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() <= 0:
            continue
        if getattr(w, "elides", False):
            continue
        if isinstance(w, QLabel) and not w.wordWrap() and w.text() and w.pixmap().isNull():
            if w.sizeHint().width() > w.width() + 1 or w.sizeHint().height() > w.height() + 1:
                out.append(f"label {w.objectName() or w.text()[:40]!r}: {w.width()}x{w.height()} < "
                           f"{w.sizeHint().width()}x{w.sizeHint().height()}")
        elif isinstance(w, QAbstractButton) and w.text():
            if w.sizeHint().width() > w.width() + 1:
                out.append(f"button {w.text()!r}: {w.width()} < {w.sizeHint().width()}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("width", type=int)
    parser.add_argument("height", type=int)
    parser.add_argument("--tab", default="business")
    parser.add_argument("--screenshot")
    parser.add_argument("--stopped", action="store_true", help="the stack as on first open: nothing started")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from ecomdesk.ui.main_window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="ecomdesk-probe-"))
    config = make_config(tmp)
    supervisor, reader = FakeStack(tmp, config), FakeReader(products=8)
    config.ui.refresh_seconds = 1.0
    if args.stopped:
        reader.down |= {"hdfs", "kafka"}
    else:
        live_frames(reader)
    window = MainWindow(supervisor, reader, config, settings=QSettings(str(tmp / "w.ini"), QSettings.Format.IniFormat))
    window.resize(args.width, args.height)
    window.show()
    if not args.stopped:
        supervisor.start()
        fill_history(window, supervisor)
    window.tabs.setCurrentWidget(window.pipeline if args.tab == "pipeline" else window.business)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (window.data.last_updated is None) != args.stopped:
        app.processEvents()
        time.sleep(0.02)
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    scroll = window.findChild(QScrollArea, "services-scroll")
    viewport = scroll.viewport()
    outside = [b.objectName() for b in window.services.findChildren(QAbstractButton)
               if not viewport.rect().contains(b.mapTo(viewport, b.rect().bottomRight()))]
    report = {
        "size": [window.width(), window.height()],
        "clipped": clipped(window),
        "services_hscroll": scroll.horizontalScrollBar().isVisible(),
        "services_wider_than_view": window.services.width() > viewport.width(),
        "buttons_outside_view": outside,
        "banner": window.banner.isVisible(),
    }
    if args.screenshot:
        window.grab().save(args.screenshot)
    print(json.dumps(report))
    supervisor.stop()
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
