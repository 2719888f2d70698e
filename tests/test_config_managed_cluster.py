"""The managed cluster's config keys, ports and specs (no daemons: see tests/test_cluster.py for those)."""

from __future__ import annotations

import itertools

import pytest

from ecomdesk.config import CLUSTER_BLOCK, ConfigError, from_dict
from ecomdesk.paths import Paths
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.hdfs import site_properties
from ecomdesk.stack.kafka import server_properties
from ecomdesk.stack.spark_job import spark_confs, submit_prefix


def _config(tmp_path, **sections):
    paths = Paths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "r").ensure()
    return from_dict(sections, paths)


def test_defaults_keep_the_single_node_stack(tmp_path):
    c = _config(tmp_path)
    specs = {s.name: s for s in build_specs(c)}
    assert list(specs) == ["hdfs-namenode", "hdfs-datanode", "kafka", "spark-job", "producer"]
    assert specs["spark-job"].depends_on == ("kafka", "hdfs-datanode")
    assert not specs["spark-job"].rides_out_dependency_restarts
    assert specs["kafka"].endpoints == {"bootstrap": "127.0.0.1:9092", "controller": "127.0.0.1:9093"}
    assert (c.kafka_bootstrap, c.topic_replication, c.topic_configs, c.dfs_replication, c.spark_master) == (
        "127.0.0.1:9092", 1, {}, 1, "local[2]")
    props = server_properties(c)
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093" and "min.insync.replicas" not in props
    assert props["log.dirs"].endswith("/kafka/logs")
    # a SIGKILLed broker registers again once its old session expires: sooner than Kafka's 9 s, with
    # at least three heartbeats per session
    session, heartbeat = int(props["broker.session.timeout.ms"]), int(props["broker.heartbeat.interval.ms"])
    assert 3 * heartbeat <= session < 9000


def test_a_3_3_2_cluster(tmp_path):
    c = _config(tmp_path, kafka={"brokers": 3}, hdfs={"datanodes": 3}, spark={"workers": 2},
                ports={"cluster": 30000})
    specs = {s.name: s for s in build_specs(c)}
    assert list(specs) == ["hdfs-namenode", "hdfs-datanode-1", "hdfs-datanode-2", "hdfs-datanode-3", "kafka-1",
                           "kafka-2", "kafka-3", "spark-master", "spark-worker-1", "spark-worker-2", "spark-job",
                           "producer"]
    assert specs["kafka-2"].endpoints == {"bootstrap": "127.0.0.1:30000", "controller": "127.0.0.1:30001"}
    assert specs["hdfs-datanode-3"].endpoints == {"data": "127.0.0.1:30019", "http": "127.0.0.1:30020",
                                                  "ipc": "127.0.0.1:30021"}
    assert specs["spark-master"].endpoints == {"master": "127.0.0.1:30040", "http": "127.0.0.1:30041"}
    assert specs["spark-worker-2"].depends_on == ("spark-master",)
    job = specs["spark-job"]
    assert set(job.depends_on) == set(specs) - {"hdfs-namenode", "spark-job", "producer"}
    assert job.rides_out_dependency_restarts
    assert specs["producer"].depends_on == ("kafka-1", "kafka-2", "kafka-3")
    assert c.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:30000,127.0.0.1:30002"
    assert (c.topic_replication, c.topic_configs, c.dfs_replication) == (3, {"min.insync.replicas": "2"}, 3)
    voters = "1@127.0.0.1:9093,2@127.0.0.1:30001,3@127.0.0.1:30003"
    for node in (1, 2, 3):
        props = server_properties(c, node)
        assert props["controller.quorum.voters"] == voters and props["process.roles"] == "broker,controller"
        assert props["offsets.topic.replication.factor"] == "3" and props["min.insync.replicas"] == "2"
        assert props["log.dirs"].endswith(f"/kafka/node-{node}/logs")
    assert site_properties(c, 2)[1]["dfs.datanode.data.dir"].endswith("/hdfs/data-2")
    assert site_properties(c, 1)[1]["dfs.replication"] == "3"
    assert submit_prefix(c, "x")[2] == "spark://127.0.0.1:30040"
    confs = spark_confs(c)
    assert confs["spark.driver.host"] == "127.0.0.1" and confs["spark.hadoop.dfs.replication"] == "3"


def test_every_member_port_is_distinct_and_in_the_block(tmp_path):
    c = _config(tmp_path, kafka={"brokers": 9}, hdfs={"datanodes": 9}, spark={"workers": 9})
    ports = list(itertools.chain.from_iterable(s.ports.values() for s in build_specs(c)))
    assert len(ports) == len(set(ports))
    first = c.ports.cluster
    extra = [p for p in ports if p not in (9092, 9093, 9000, 9870, 9866, 9864, 9867)]
    assert all(first <= p < first + CLUSTER_BLOCK for p in extra)


def test_larger_and_smaller_kafka_clusters(tmp_path):
    five = _config(tmp_path, kafka={"brokers": 5})
    assert server_properties(five, 5)["process.roles"] == "broker"  # voters are nodes 1-3
    assert "controller" not in {s.name: s for s in build_specs(five)}["kafka-5"].ports
    two = _config(tmp_path, kafka={"brokers": 2})
    assert server_properties(two, 2)["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert (two.topic_replication, two.topic_configs) == (2, {})
    assert _config(tmp_path, kafka={"brokers": 3, "replication": 2}).topic_replication == 2


@pytest.mark.parametrize(("sections", "needle"), [
    ({"kafka": {"brokers": 0}}, "[kafka] brokers must be between 1 and 9, got 0"),
    ({"hdfs": {"datanodes": 10}}, "[hdfs] datanodes must be between 1 and 9, got 10"),
    ({"spark": {"workers": -1}}, "[spark] workers must be between 0 and 9, got -1"),
    ({"kafka": {"brokers": "3"}}, "[kafka] brokers must be int"),
    ({"kafka": {"brokers": 3, "bootstrap": "k1:9092"}}, "cannot be combined with bootstrap"),
    ({"hdfs": {"datanodes": 2, "namenode": "nn:8020"}}, "cannot be combined with namenode"),
    ({"spark": {"workers": 2, "master": "spark://m:7077"}}, "cannot be combined with master = 'spark://m:7077'"),
    ({"spark": {"workers": 1, "worker_cores": 0}}, "[spark] worker_cores must be at least 1"),
    ({"kafka": {"brokers": 2, "replication": 3}}, "[kafka] replication must be between 1 and brokers (2)"),
    ({"kafka": {"brokers": 2}, "ports": {"cluster": 9050}}, "(kafka, kafka_controller in it)"),
    ({"spark": {"workers": 1}, "ports": {"cluster": 65500}}, "below 65536"),
])
def test_bad_managed_cluster_settings_are_named(tmp_path, sections, needle):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, **sections)
    assert needle in str(err.value)


def test_nodes_formatting_side_by_side_share_one_cluster_id(tmp_path, monkeypatch):
    """The supervisor formats kafka-1..N at the same time: every node must get the same id."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from ecomdesk.stack import kafka

    drawn = itertools.count()

    def slow_uuid() -> str:  # every node draws before any has written
        time.sleep(0.05)
        return f"id{next(drawn)}"

    monkeypatch.setattr(kafka, "kafka_uuid", slow_uuid)
    c = _config(tmp_path, kafka={"brokers": 3})
    start = threading.Barrier(6)

    def node(_: int) -> str:
        start.wait()
        return kafka.cluster_id(c)

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(node, range(6)))
    assert len(ids) == 1 and next(iter(ids)).startswith("id")
    assert [p.name for p in kafka.kafka_root(c).iterdir()] == ["cluster.id"]  # no temp file left
