"""The main loop when no broker answers: it neither hangs nor claims deliveries it did not get."""

from __future__ import annotations

import json
import threading
import time

import pyarrow.parquet as pq

from ecomdesk.producer.ledger import summary_path
from ecomdesk.producer.runner import ProducerRunner, Settings
from ecomdesk.telemetry import ProducerReport
from ecomdesk.testing.sandbox import free_ports


def test_stop_with_no_broker_ends_in_time_and_counts_everything_as_failed(tmp_path):
    port = free_ports(1)[0]  # nothing listens here
    lines: list[ProducerReport] = []
    logged: list[str] = []
    settings = Settings(bootstrap=f"127.0.0.1:{port}", rate=0, ledger=tmp_path / "l.parquet", flush_timeout=1.0,
                        invalid_fraction=0.1, telemetry_interval=0.2,
                        kafka={"queue.buffering.max.messages": 5000})
    runner = ProducerRunner(settings, lines.append, logged.append)
    threading.Timer(1.5, runner.request_stop, args=("test",)).start()
    t0 = time.monotonic()
    code = runner.run()
    assert time.monotonic() - t0 < 6
    assert code == 1
    final = lines[-1]
    assert final.final and final.sent == 5000  # the full local queue blocked further sends
    assert final.delivered == 0 and final.failed == final.sent
    assert final.in_flight <= 2  # only client error events about the refused connection remain queued
    assert any(0 < line.in_flight for line in lines[:-1])
    assert any("not all events acknowledged" in line for line in logged)
    assert pq.read_table(tmp_path / "l.parquet").num_rows == 0
    summary = json.loads(summary_path(tmp_path / "l.parquet").read_text())
    assert summary["valid"] == 0 and summary["failed_removed"] + sum(summary["invalid"].values()) == 5000
