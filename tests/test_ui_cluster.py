"""The window over a managed cluster's services: a row and a log choice per member, from the specs."""

from __future__ import annotations

from ui_fakes import make_config

from ecomdesk.core.spec import State


def test_every_cluster_member_has_a_row_and_a_log(make_window, qtbot, tmp_path):
    config = make_config(tmp_path)
    config.kafka.brokers, config.hdfs.datanodes, config.spark.workers = 3, 3, 2
    window, sup, _ = make_window(config=config)
    sup.start()
    names = set(sup.specs)
    assert {"kafka-3", "hdfs-datanode-2", "spark-master", "spark-worker-2"} <= names == set(window.services.rows)
    choices = {window.logs.service.itemData(i) for i in range(window.logs.service.count())}
    assert names <= choices
    sup.state["kafka-2"] = State.RESTARTING
    sup.message["kafka-2"] = "crashed with exit code -9; restarting in 25 s, attempt 1/5"
    row = window.services.rows["kafka-2"]
    qtbot.waitUntil(lambda: row.state == State.RESTARTING, timeout=5000)
    assert "restarting in 25 s" in row.message.text()
    qtbot.waitUntil(lambda: window.services.rows["spark-master"].ports.text() != "–", timeout=5000)
    master = window.services.rows["spark-master"].ports
    assert master.text() == f"{config.ports.spark_master()[0]}, {config.ports.spark_master()[1]}"
    assert f"http: 127.0.0.1:{config.ports.spark_master()[1]}" in master.toolTip()
