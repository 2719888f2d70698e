"""The health readers' parsing and rules on recorded-shape answers (a complement: tests/test_health.py
reads real services), their endpoints from the config, and their states when nothing answers."""

from __future__ import annotations

import json
import socket
import time

import pytest

from ecomdesk.config import Config
from ecomdesk.data.health import format_text, read_cluster, stopped_systems
from ecomdesk.data.health import model as m
from ecomdesk.data.health.checkpoint import parse_offsets
from ecomdesk.data.health.endpoints import namenode_http, spark_master_web
from ecomdesk.data.health.hdfs import datanodes
from ecomdesk.data.health.hdfs import problems as hdfs_problems
from ecomdesk.data.health.http import ReadError
from ecomdesk.data.health.kafka import problems as kafka_problems
from ecomdesk.data.health.spark import parse_master
from ecomdesk.data.health.spark import problems as spark_problems

# Spark 4.0's checkpoint offsets file of a Kafka source over three topics
OFFSETS = ('v1\n{"batchWatermarkMs":0,"batchTimestampMs":1795929999000,"conf":{"spark.sql.shuffle.partitions":"4"}}\n'
           '{"orders":{"1":12,"0":10},"page_views":{"0":3}}\n')


def test_checkpoint_offsets():
    assert parse_offsets(OFFSETS) == {"orders": {0: 10, 1: 12}, "page_views": {0: 3}}
    assert parse_offsets('v1\n{}\n-\n') == {}
    with pytest.raises(ReadError, match="not a Spark offsets file"):
        parse_offsets("<html>")
    with pytest.raises(ReadError, match="unreadable source offsets"):
        parse_offsets('v1\n{}\n{"orders": 3}\n')


def test_datanodes_from_namenode_info():
    info = {
        "LiveNodes": json.dumps({
            "a:1": {"xferaddr": "127.0.0.1:9866", "lastContact": 0, "adminState": "In Service", "capacity": 100,
                    "used": 10, "remaining": 80},
            "b:1": {"xferaddr": "127.0.0.1:9876", "lastContact": 14, "adminState": "In Service"},
            "c:1": {"xferaddr": "127.0.0.1:9886", "lastContact": 1, "adminState": "Decommission In Progress"}}),
        "DeadNodes": json.dumps({"d:1": {"xferaddr": "127.0.0.1:9896", "lastContact": 700, "decommissioned": False}}),
    }
    rows = datanodes(info)
    assert [(d.name, d.state, d.last_contact) for d in rows] == [
        ("127.0.0.1:9866", "live", 0), ("127.0.0.1:9876", "stale", 14), ("127.0.0.1:9886", "decommissioning", 1),
        ("127.0.0.1:9896", "dead", 700)]
    assert (rows[0].capacity, rows[0].used, rows[0].remaining) == (100, 10, 80)
    assert datanodes({"LiveNodes": "not json"}) == []
    detail = m.HdfsDetail((m.NameNode("nn1:9870", "standby"), m.NameNode("nn2:9870", "unreachable", "refused")),
                          2, 1, 1, 1, 300, 30, 200, 4, 2, 0, "Safe mode is ON.", tuple(rows))
    assert hdfs_problems(detail) == [
        "no active NameNode: nn1:9870 standby, nn2:9870 unreachable", "NameNode nn2:9870 unreachable: refused",
        "1 dead DataNode(s): 127.0.0.1:9896", "DataNode 127.0.0.1:9876 stale: no heartbeat for 14 s",
        "safe mode on: Safe mode is ON.", "2 missing block(s): files cannot be read whole",
        "4 under-replicated block(s)"]


def test_a_datanode_in_both_lists_is_one_row_dead_while_stale_and_live_once_heard_from():
    """The NameNode reads LiveNodes and DeadNodes one after the other; a node it moves in between is in both."""
    dead = json.dumps({"d:1": {"xferaddr": "127.0.0.1:9866", "lastContact": 30, "decommissioned": False}})
    dying = {"LiveNodes": json.dumps({"d:1": {"xferaddr": "127.0.0.1:9866", "lastContact": 30}}), "DeadNodes": dead}
    assert [(d.name, d.state) for d in datanodes(dying)] == [("127.0.0.1:9866", "dead")]
    back = {"LiveNodes": json.dumps({"d:1": {"xferaddr": "127.0.0.1:9866", "lastContact": 0, "capacity": 5}}),
            "DeadNodes": dead}
    assert [(d.name, d.state, d.capacity) for d in datanodes(back)] == [("127.0.0.1:9866", "live", 5)]


def _partition(p: int, leader: int | None, replicas, isr) -> m.Partition:
    status = "offline (no leader)" if leader is None else "under-replicated" if len(isr) < len(replicas) else "ok"
    return m.Partition("orders", p, leader, replicas, isr, None, None, None, status)


def test_kafka_problems():
    parts = tuple(_partition(p, None if p == 0 else 1, (1, 2, 3), (1, 3) if p < 8 else (1, 2, 3)) for p in range(9))
    # a broker killed a moment ago: still listed and leading, until the controller fences it
    silent = m.Partition("page_views", 0, 3, (3, 1), (3, 1), None, None, None, "leader not answering")
    detail = m.KafkaDetail("c", None, (m.Broker(1, "h", 1), m.Broker(3, "h", 3)), (*parts, silent), 7, 1, "", None)
    assert kafka_problems(detail) == [
        "1 offline partition(s), no leader: orders-0",
        "7 under-replicated partition(s), ISR smaller than the replicas: orders-1, orders-2, orders-3, orders-4, "
        "orders-5 and 2 more",
        "broker(s) 3 did not answer for the 1 partition(s) they lead: page_views-0",
        "broker(s) 2 hold replicas but are not in the cluster", "no controller"]


MASTER = {  # Spark 4.0's /json/ of a standalone master, trimmed
    "url": "spark://127.0.0.1:7077", "status": "ALIVE", "aliveworkers": 1, "cores": 2, "coresused": 1,
    "memory": 2048, "memoryused": 1024,
    "workers": [
        {"id": "worker-1", "host": "127.0.0.1", "port": 40001, "webuiaddress": "http://127.0.0.1:8081",
         "cores": 1, "coresused": 1, "memory": 1024, "memoryused": 1024, "state": "ALIVE"},
        {"id": "worker-0", "host": "127.0.0.1", "port": 40000, "webuiaddress": "http://127.0.0.1:8081",
         "cores": 1, "coresused": 0, "memory": 1024, "memoryused": 0, "state": "DEAD"},
        {"id": "worker-2", "host": "127.0.0.1", "port": 40002, "webuiaddress": "http://127.0.0.1:8082",
         "cores": 1, "coresused": 0, "memory": 1024, "memoryused": 0, "state": "DEAD"}],
    "activeapps": [{"id": "app-1", "name": "ecomdesk-ecommerce-stream", "state": "RUNNING", "cores": 1,
                    "memoryperexecutor": 1024, "duration": 61000}],
}


def test_spark_master_json():
    d = parse_master(MASTER, [("127.0.0.1:8080", "ALIVE")])
    assert (d.alive_workers, d.cores, d.cores_used, d.memory_mb, d.memory_used_mb) == (1, 2, 1, 2048, 1024)
    assert d.applications == (m.Application("app-1", "ecomdesk-ecommerce-stream", "RUNNING", 1, 1024, 61.0),)
    # worker-0 came back as worker-1 (same web UI): only worker-2 is lost
    assert spark_problems(d) == ["worker 127.0.0.1:40002 DEAD: its executors are gone"]
    standby = parse_master({"status": "STANDBY", "workers": []}, [("a:8080", "STANDBY"), ("b:8080", "unreachable")])
    assert spark_problems(standby) == ["no alive master: a:8080 STANDBY, b:8080 unreachable",
                                       "no alive worker: the job gets no executors"]


def test_endpoints_from_the_config():
    config = Config()
    config.ports.namenode_http = 19870
    assert namenode_http(config) == ["127.0.0.1:19870"]
    config.hdfs.namenode = "nn.example.test:8020"
    assert namenode_http(config) == ["nn.example.test:9870"]
    config.hdfs.namenode_http = "nn1:9870, https://nn2:9871"
    assert namenode_http(config) == ["nn1:9870", "https://nn2:9871"]
    assert spark_master_web(config) == []  # local[2]
    config.spark.workers = 2  # the managed master, on its port of the cluster block
    assert spark_master_web(config) == [f"127.0.0.1:{config.ports.spark_master()[1]}"]
    config.spark.workers = 0
    config.spark.master = "spark://m1:7077,m2:7077"
    assert spark_master_web(config) == ["m1:8080", "m2:8080"]
    config.spark.master_web = "m1:18080"
    assert spark_master_web(config) == ["m1:18080"]


def test_stopped_managed_systems_are_not_asked():
    states = {"hdfs-namenode": "stopped", "hdfs-datanode": "running", "kafka-1": "failed", "kafka-2": "stopped",
              "spark-job": "stopped"}
    assert stopped_systems(states) == {"kafka": "managed kafka-1, kafka-2 failed/stopped: health shows once it runs",
                                       "hdfs": "managed hdfs-namenode stopped: health shows once it runs"}
    assert stopped_systems({"kafka-1": "running", "kafka-2": "stopped"}) == {}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_nothing_answering_is_a_state_with_the_reason_within_the_timeout():
    config = Config()
    config.kafka.bootstrap = f"127.0.0.1:{_closed_port()}"
    config.hdfs.namenode_http = f"127.0.0.1:{_closed_port()}"
    config.spark.master, config.spark.master_web = "spark://127.0.0.1:7077", f"127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    health = read_cluster(config)
    assert time.monotonic() - t0 < 5
    assert [h.state for h in health.all()] == [m.UNREACHABLE] * 3
    assert health.kafka.summary == f"no broker accepts connections: {config.kafka.bootstrap}: Connection refused"
    assert health.hdfs.summary.startswith(f"no NameNode answered: http://{config.hdfs.namenode_http}/jmx?")
    assert health.spark.summary.endswith("Connection refused")
    text = format_text(health)
    assert text.splitlines()[1].startswith("kafka  UNREACHABLE no broker accepts connections")
    assert json.loads(json.dumps(health.to_dict()))["hdfs"]["state"] == "unreachable"


def test_a_local_master_is_no_cluster():
    health = read_cluster(Config(), {"kafka": "stopped", "hdfs-namenode": "stopped"})
    assert (health.kafka.state, health.hdfs.state) == (m.STOPPED, m.STOPPED)
    assert health.spark.state == m.NO_CLUSTER
    assert health.spark.summary == "master local[2]: no Spark cluster to watch (the job runs inside its driver)"
