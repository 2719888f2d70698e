"""The whole product through its window, on the real stack: Start all, live charts from HDFS that
match the producer's ledger, a live rate change, Stop all, and no process left behind."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import psutil
import pytest
from PySide6.QtWidgets import QMessageBox

from ecomdesk.core.spec import State
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.door import LocalStack, build_supervisor
from ecomdesk.stack.producer import producer_spec
from ecomdesk.testing.sandbox import isolated_config
from ecomdesk.ui.app import build_reader
from ecomdesk.ui.main_window import MainWindow

pytestmark = pytest.mark.stack
SERVICES = {"hdfs-namenode", "hdfs-datanode", "kafka", "spark-job", "producer"}


def _pids_of(supervisor) -> set[int]:
    pids = set()
    for st in supervisor.snapshot():
        if st.pid:
            pids.add(st.pid)
            try:
                pids |= {c.pid for c in psutil.Process(st.pid).children(recursive=True)}
            except psutil.NoSuchProcess:
                pass
    return pids


def _per_minute(ledger: pd.DataFrame) -> pd.DataFrame:
    orders = ledger[ledger["event_type"] == "purchase"]
    minute = orders["timestamp"].dt.floor("min")
    return orders.groupby(minute).agg(total_orders=("price", "size"), total_sales=("price", "sum"))


def test_start_all_chart_rate_change_stop_all(qtbot, tmp_path, monkeypatch):
    config = isolated_config(tmp_path / "home")
    # flat: the target rate is what the panel sets at any hour (the realistic profile shapes it by the hour)
    config.producer = dataclasses.replace(config.producer, rate=200.0, invalid_fraction=0.0, seed=11, flat=True)
    config.ui.refresh_seconds = 1.0
    config.save()
    ledger = tmp_path / "ledger.parquet"
    specs = [producer_spec(config, ledger) if s.name == "producer" else s for s in build_specs(config)]
    assert {s.name for s in specs} == SERVICES
    supervisor = build_supervisor(config, specs)
    reader = build_reader(config)
    window = MainWindow(LocalStack(config, supervisor), reader, config)
    window.show()
    seen: set[int] = set()
    try:
        window.start_all.trigger()
        qtbot.waitUntil(lambda: all(r.state == State.RUNNING for r in window.services.rows.values()), timeout=600_000)
        seen |= _pids_of(supervisor)
        sales = window.business.sales
        qtbot.waitUntil(lambda: not sales.data.empty and sales.data["total_orders"].sum() > 0, timeout=180_000)

        window.producer.rate.setValue(400)
        window.producer.apply_rate.click()
        events = window.pipeline.events
        qtbot.waitUntil(
            lambda: "target_rate" in events.curves and 400.0 in events.curves["target_rate"].getData()[1],
            timeout=30_000,
        )
        seen |= _pids_of(supervisor)

        # Stopping the producer closes its ledger; then the charts must converge on it exactly.
        window.services.rows["producer"].stop.click()
        qtbot.waitUntil(lambda: ledger.exists(), timeout=60_000)
        expected = _per_minute(pd.read_parquet(ledger))
        assert expected["total_orders"].sum() > 0

        def matches() -> bool:
            got = sales.data.set_index("window_start")[["total_orders", "total_sales"]]
            got.index = pd.to_datetime(got.index, utc=True)
            exp = expected.copy()
            exp.index = pd.to_datetime(exp.index, utc=True)
            joined = exp.merge(got, left_index=True, right_index=True, how="outer",
                               suffixes=("", "_chart")).fillna(0)
            return bool(
                (joined["total_orders"] == joined["total_orders_chart"]).all()
                and ((joined["total_sales"] - joined["total_sales_chart"]).abs() < 1e-6).all()
            )

        qtbot.waitUntil(matches, timeout=180_000)
        assert "Charts updated" in window.updated_label.text()
        # the Cluster tab reads the same stack: the job has read all the producer sent, HDFS is whole
        cluster = window.cluster
        qtbot.waitUntil(lambda: cluster.kafka.state.text() == "OK" and "job lag 0 (" in cluster.kafka.summary.text(),
                        timeout=60_000)
        assert cluster.hdfs.state.text() == "OK" and cluster.spark.state.text() == "NO CLUSTER"

        window.stop_all.trigger()
        qtbot.waitUntil(lambda: all(r.state == State.STOPPED for r in window.services.rows.values()), timeout=180_000)
        qtbot.waitUntil(lambda: cluster.kafka.state.text() == cluster.hdfs.state.text() == "STOPPED", timeout=30_000)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in seen):
            time.sleep(0.2)
        alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"processes left after Stop all: {alive}"
    finally:
        # Quit as the user does: the window stops every service (after a failure some may still run:
        # the user answers Yes) and closes the supervisor, then itself.
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        try:
            window.close()
            qtbot.waitUntil(lambda: not window.isVisible(), timeout=180_000)
        finally:
            supervisor.close()  # already closed by the window, unless quitting failed
            reader.close()
