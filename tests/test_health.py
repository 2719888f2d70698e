"""Cluster health on real services: HDFS (NameNode + DataNode), Kafka, a Spark standalone master and
worker that ecomdesk does not manage, and the real streaming job on them (exact against the ledger);
then one SIGKILL each of a worker, the DataNode and the broker, and the time until the health view
shows it."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from jobrun import Job, check_caught_up_and_exact, produce
from stackutil import StandaloneCluster, cli, supervisor_for

from ecomdesk.data import contract as C
from ecomdesk.data.health import model as m
from ecomdesk.data.health import read_cluster
from ecomdesk.data.health.hdfs import read_hdfs
from ecomdesk.data.health.kafka import read_kafka
from ecomdesk.data.health.spark import read_spark
from ecomdesk.testing.sandbox import isolated_config

pytestmark = pytest.mark.stack
PREFIX = "hl-"
PARTITIONS = 2


@dataclasses.dataclass
class Rig:
    config: object
    supervisor: object
    spark: StandaloneCluster
    home: object


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """Its own stack (the tests kill its DataNode and broker), with no restart policy for them."""
    home = tmp_path_factory.mktemp("health-home")
    config = isolated_config(home)
    config.restart.services = {"hdfs-datanode": {"policy": "no"}, "kafka": {"policy": "no"}}
    config.hdfs.base_path = f"/{PREFIX}ecommerce"
    sup = supervisor_for(config)
    spark = None
    try:
        sup.start(["hdfs-namenode", "hdfs-datanode", "kafka"])
        spark = StandaloneCluster(home, cores=1, memory="1g")
        config.spark.master, config.spark.master_web = spark.url, spark.web
        config.save()
        yield Rig(config, sup, spark, home)
    finally:
        if spark is not None:
            spark.close()
        sup.close()


def _wait_for(read: Callable[[], m.SystemHealth], done: Callable[[m.SystemHealth], bool], timeout: float):
    """Poll a health reader until `done`; (health, seconds taken)."""
    t0 = time.monotonic()
    while True:
        health = read()
        if done(health) or time.monotonic() - t0 > timeout:
            return health, time.monotonic() - t0
        time.sleep(0.5)


def test_a_healthy_cluster(rig):
    h = read_cluster(rig.config)
    assert (h.kafka.state, h.hdfs.state, h.spark.state) == (m.OK, m.OK, m.OK), h
    k = h.kafka.detail
    assert isinstance(k, m.KafkaDetail)
    assert [(b.host, b.port) for b in k.brokers] == [("127.0.0.1", rig.config.ports.kafka)]
    assert k.controller == k.brokers[0].id
    assert (k.under_replicated, k.offline) == (0, 0)
    assert {(p.topic, p.partition) for p in k.partitions} >= {(t, i) for t in C.TOPICS for i in range(3)}
    assert all(p.isr == p.replicas == (k.brokers[0].id,) for p in k.partitions)
    assert k.job == "the job has committed no batch yet" and k.job_lag is None
    d = h.hdfs.detail
    assert isinstance(d, m.HdfsDetail)
    assert (d.live, d.stale, d.dead, d.decommissioning, d.safe_mode) == (1, 0, 0, 0, "")
    assert d.capacity_total > 0 and 0 < d.capacity_remaining <= d.capacity_total
    assert [n.state for n in d.namenodes] == ["active"]
    assert [(n.name, n.state) for n in d.datanodes] == [(f"127.0.0.1:{rig.config.ports.datanode}", "live")]
    s = h.spark.detail
    assert isinstance(s, m.SparkDetail)
    assert (s.url, s.status, s.alive_workers, s.cores, s.memory_mb) == (rig.spark.url, "ALIVE", 1, 1, 1024)
    assert s.applications == ()


def test_stack_status_prints_the_health(rig):
    t0 = time.monotonic()
    out = cli(rig.home, "stack", "status", "--json")
    elapsed = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {r["name"] for r in data["services"]} >= {"kafka", "hdfs-namenode", "hdfs-datanode"}
    assert {s: data["health"][s]["state"] for s in ("kafka", "hdfs", "spark")} == dict.fromkeys(
        ("kafka", "hdfs", "spark"), "ok")
    assert data["health"]["hdfs"]["detail"]["live"] == 1
    assert data["health"]["kafka"]["detail"]["brokers"][0]["port"] == rig.config.ports.kafka
    text = cli(rig.home, "stack", "status").stdout
    assert "CLUSTER HEALTH" in text and text.index("CLUSTER HEALTH") > text.index("hdfs-namenode")
    for line in ("kafka  OK", "hdfs   OK", "spark  OK"):
        assert line in text, text
    print(f"stack status --json with the health of the three systems: {elapsed:.2f} s")


def _produce(bootstrap: str, topic: str, partition: int, n: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(n):
        p.produce(topic, value=f"not an event {i}".encode(), partition=partition)
    assert p.flush(30) == 0


def _job_partitions(health: m.SystemHealth) -> dict[tuple[str, int], m.Partition]:
    assert isinstance(health.detail, m.KafkaDetail), health
    return {(p.topic, p.partition): p for p in health.detail.partitions if p.topic.startswith(PREFIX)}


def test_the_job_on_a_master_it_does_not_manage_is_exact_and_shows_its_lag(rig, tmp_path):
    """`--master spark://...` of a cluster ecomdesk does not manage: the executors in the worker's JVM get
    the package through --py-files, every aggregate equals the ledger, and the health view shows the
    job's lag per partition from its checkpoint."""
    bootstrap = rig.config.kafka_bootstrap
    topics = [PREFIX + t for t in C.TOPICS]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics]).values():
        f.result(30)
    ledger = tmp_path / "events.parquet"
    p = produce(rig.home, bootstrap, PREFIX, ledger, 4_000, 0, 3)
    assert p.wait(120) == 0, p.stderr.read()
    config = dataclasses.replace(rig.config, memory=dataclasses.replace(rig.config.memory, spark_driver="768m"))
    with open(tmp_path / "job.log", "a") as log:
        job = Job(config, PREFIX, log)
        try:
            # the job runs on the standalone master: an application there, and it catches up
            spark, _ = _wait_for(lambda: read_spark(rig.config), lambda h: job.proc.poll() is not None or (
                isinstance(h.detail, m.SparkDetail) and bool(h.detail.applications)), 180)
            assert job.proc.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            assert isinstance(spark.detail, m.SparkDetail), spark
            [app] = spark.detail.applications
            assert (app.name, app.state, app.cores) == ("ecomdesk-ecommerce-stream", "RUNNING", 1)
            assert spark.detail.cores_used == 1 and "1 running application(s)" in spark.summary
            check_caught_up_and_exact(config, [ledger], job.telemetry)
            kafka, took = _wait_for(lambda: read_kafka(rig.config), lambda h: job.proc.poll() is not None or
                                    {p.lag for p in _job_partitions(h).values()} == {0}, 60)
            assert job.proc.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            parts = _job_partitions(kafka)
            assert len(parts) == len(topics) * PARTITIONS
            assert all(p.job_offset == p.end_offset > 0 and p.lag == 0 for p in parts.values()), parts
            assert kafka.detail.job.startswith("job offsets from its checkpoint, batch ")
            print(f"the health view showed no lag {took:.1f} s after the job had counted every event")
        finally:
            job.kill()
    assert list((rig.home / "worker").glob("app-*/*/stderr")), "no executor ran on the standalone worker"
    _produce(bootstrap, topics[0], 0, 7)  # the job is gone: these wait
    after = _job_partitions(read_kafka(rig.config))
    first = parts[(topics[0], 0)].end_offset
    assert (after[(topics[0], 0)].end_offset, after[(topics[0], 0)].job_offset, after[(topics[0], 0)].lag) == (
        first + 7, first, 7)
    assert {k: p.lag for k, p in after.items() if k != (topics[0], 0)} == dict.fromkeys(
        [(t, i) for t in topics for i in range(PARTITIONS) if (t, i) != (topics[0], 0)], 0)


def test_a_killed_spark_worker_shows(rig):
    rig.spark.worker.send_signal(signal.SIGKILL)
    rig.spark.worker.wait(10)
    h, took = _wait_for(lambda: read_spark(rig.config), lambda h: h.state == m.DEGRADED, 60)
    assert h.state == m.DEGRADED, h
    assert isinstance(h.detail, m.SparkDetail) and h.detail.alive_workers == 0
    assert any("DEAD" in p for p in h.problems) and "no alive worker: the job gets no executors" in h.problems
    print(f"health view shows the lost Spark worker after {took:.1f} s")


def test_a_killed_datanode_goes_stale_then_dead_and_comes_back(rig):
    before = read_hdfs(rig.config)  # the job's files too are written with the managed replication
    assert before.state == m.OK, before.problems
    pid = next(s.pid for s in rig.supervisor.snapshot() if s.name == "hdfs-datanode")
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    stale, _ = _wait_for(lambda: read_hdfs(rig.config), lambda h: h.state == m.DEGRADED, 60)
    to_stale = time.monotonic() - t0
    assert isinstance(stale.detail, m.HdfsDetail) and stale.detail.stale == 1, stale.problems
    assert any(p.startswith(f"DataNode 127.0.0.1:{rig.config.ports.datanode} stale: no heartbeat for")
               for p in stale.problems), stale.problems
    dead, _ = _wait_for(lambda: read_hdfs(rig.config), lambda h: "dead" in {d.state for d in h.detail.datanodes}
                        if isinstance(h.detail, m.HdfsDetail) else False, 120)
    to_dead = time.monotonic() - t0
    assert isinstance(dead.detail, m.HdfsDetail), dead
    assert (dead.detail.live, dead.detail.dead) == (0, 1), dead
    assert "no live DataNode: nothing can be read or written" in dead.problems
    assert f"1 dead DataNode(s): 127.0.0.1:{rig.config.ports.datanode}" in dead.problems
    print(f"health view shows the SIGKILLed DataNode stale after {to_stale:.1f} s, dead after {to_dead:.1f} s")
    rig.supervisor.start(["hdfs-datanode"])
    back, took = _wait_for(lambda: read_hdfs(rig.config), lambda h: h.state == m.OK, 120)
    assert back.state == m.OK and isinstance(back.detail, m.HdfsDetail) and back.detail.live == 1, back
    print(f"and live again {took:.1f} s after the DataNode was ready")


def test_a_killed_broker_is_unreachable_with_the_reason(rig):
    pid = next(s.pid for s in rig.supervisor.snapshot() if s.name == "kafka")
    os.kill(pid, signal.SIGKILL)
    h, took = _wait_for(lambda: read_kafka(rig.config), lambda h: h.state == m.UNREACHABLE, 30)
    # a read that began while the broker died ends "the cluster did not answer: ..." within its timeout
    assert h.state == m.UNREACHABLE and h.detail is None and h.elapsed < 5, h
    print(f"health view shows the lost (single) broker after {took:.1f} s: {h.summary}")
    h = read_kafka(rig.config)
    assert h.summary.startswith(f"no broker accepts connections: 127.0.0.1:{rig.config.ports.kafka}: "), h.summary
