"""Cluster health on real services: HDFS (NameNode + DataNode), Kafka, a Spark standalone master and
worker, and the real streaming job; then one SIGKILL each of a worker, the DataNode and the broker,
and the time until the health view shows it."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from stackutil import StandaloneCluster, cli, supervisor_for

from ecomdesk.data import contract as C
from ecomdesk.data.health import model as m
from ecomdesk.data.health import read_cluster
from ecomdesk.data.health.hdfs import read_hdfs
from ecomdesk.data.health.kafka import read_kafka
from ecomdesk.data.health.spark import read_spark
from ecomdesk.paths import job_entry
from ecomdesk.stack.spark_job import JobTelemetry, job_env, spark_submit_command
from ecomdesk.testing.sandbox import isolated_config

pytestmark = pytest.mark.stack
PREFIX = "hl-"
PARTITIONS = 2
BEFORE = 5  # messages per partition before the job starts


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


class Job:
    """The real streaming job on the standalone master, its stdout fed to the service's telemetry parser."""

    def __init__(self, config, log):
        # this checkout's entry file (the editable install may point `ecomdesk.jobs` at another checkout)
        own = str(Path(__file__).resolve().parents[1] / "jobs" / "ecommerce_stream.py")
        cmd = [own if arg == str(job_entry()) else arg for arg in spark_submit_command(config)]
        cmd += ["--topic-prefix", PREFIX]
        self.telemetry = JobTelemetry()
        self.proc = subprocess.Popen(cmd, env={**os.environ, **job_env()}, stdout=subprocess.PIPE, stderr=log,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.telemetry(line.strip())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def _produce(bootstrap: str, topic: str, partition: int, n: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(n):
        p.produce(topic, value=f"not an event {i}".encode(), partition=partition)
    assert p.flush(30) == 0


def _job_partitions(health: m.SystemHealth) -> dict[tuple[str, int], m.Partition]:
    assert isinstance(health.detail, m.KafkaDetail), health
    return {(p.topic, p.partition): p for p in health.detail.partitions if p.topic.startswith(PREFIX)}


def test_the_jobs_lag_per_partition_from_its_checkpoint(rig, tmp_path):
    bootstrap = rig.config.kafka_bootstrap
    topics = [PREFIX + t for t in C.TOPICS]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics]).values():
        f.result(30)
    for t in topics:
        for p in range(PARTITIONS):
            _produce(bootstrap, t, p, BEFORE)
    config = dataclasses.replace(rig.config, memory=dataclasses.replace(rig.config.memory, spark_driver="512m"))
    with open(tmp_path / "job.log", "w") as log:
        job = Job(config, log)
        try:
            # the job runs on the standalone master: an application there, and it catches up
            spark, _ = _wait_for(lambda: read_spark(rig.config), lambda h: job.proc.poll() is not None or (
                isinstance(h.detail, m.SparkDetail) and bool(h.detail.applications)), 180)
            assert job.proc.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            assert isinstance(spark.detail, m.SparkDetail), spark
            [app] = spark.detail.applications
            assert (app.name, app.state, app.cores) == ("ecomdesk-ecommerce-stream", "RUNNING", 1)
            assert spark.detail.cores_used == 1 and "1 running application(s)" in spark.summary
            kafka, took = _wait_for(lambda: read_kafka(rig.config), lambda h: job.proc.poll() is not None or
                                    {p.lag for p in _job_partitions(h).values()} == {0}, 360)
            assert job.proc.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            parts = _job_partitions(kafka)
            assert {p.job_offset for p in parts.values()} == {BEFORE}, parts
            assert kafka.detail.job.startswith("job offsets from its checkpoint, batch ")
            print(f"the job caught up, seen by the health view, {took:.1f} s after its application ran")
        finally:
            job.kill()
    _produce(bootstrap, topics[0], 0, 7)  # the job is gone: these wait
    parts = _job_partitions(read_kafka(rig.config))
    assert (parts[(topics[0], 0)].end_offset, parts[(topics[0], 0)].job_offset, parts[(topics[0], 0)].lag) == (
        BEFORE + 7, BEFORE, 7)
    assert {k: p.lag for k, p in parts.items() if k != (topics[0], 0)} == dict.fromkeys(
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
