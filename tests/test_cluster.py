"""The managed loopback cluster on real daemons: 3 KRaft brokers, 3 DataNodes, a Spark master and 2
workers on free ports; the job runs on that master and its aggregates equal the producer's ledger,
also after one broker, one DataNode and one worker are SIGKILLed while events flow.

The checks of what the cluster reports (metadata, the NameNode's JMX, the master's /json) are small
functions below, plain client calls, so a health module can take their place.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from jobrun import check_caught_up_and_exact, produce
from pyarrow import fs as pafs
from stackutil import cli, supervisor_for

from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.data.contract import TOPICS
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.data.health import read_cluster
from ecomdesk.data.health.model import DEGRADED, OK
from ecomdesk.producer.ledger import summary_path
from ecomdesk.stack.hdfs import namenode_jmx
from ecomdesk.stack.spark_cluster import master_json
from ecomdesk.testing.sandbox import isolated_config

pytestmark = pytest.mark.stack

KILLED = ("kafka-2", "hdfs-datanode-2", "spark-worker-2")
DOWN_FOR = 25.0  # the killed ones' restart backoff: long enough for the NameNode to call a DataNode dead (15 s)


@dataclass
class Cluster:
    config: Config
    supervisor: Supervisor
    home: Path
    up_seconds: float
    ledgers: list[Path] = field(default_factory=list)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("cluster-home")
    config = isolated_config(home)
    config.kafka.brokers, config.hdfs.datanodes, config.spark.workers = 3, 3, 2
    config.memory.kafka_heap = config.memory.datanode_heap = "256m"
    config.memory.spark_driver, config.memory.spark_executor = "768m", "512m"
    config.restart.services = {n: {"backoff_seconds": DOWN_FOR, "backoff_max_seconds": DOWN_FOR} for n in KILLED}
    config.save()
    sup = supervisor_for(config)
    try:
        t0 = time.monotonic()
        sup.start([n for n in sup.specs if n != "producer"])
        yield Cluster(config, sup, home, time.monotonic() - t0)
    finally:
        sup.close()


# ----- what the cluster says about itself (plain client calls) ---------------------------------------
def brokers_listed(config: Config) -> set[int]:
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap, "log_level": 0})
    return set(admin.list_topics(timeout=5).brokers)


def partitions_short_of_isr(config: Config) -> int:
    """Partitions of the pipeline's topics whose in-sync replicas are fewer than their replicas."""
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap, "log_level": 0})
    topics = admin.list_topics(timeout=5).topics
    return sum(len(p.isrs) < len(p.replicas) for t in TOPICS for p in topics[t].partitions.values())


def datanode_counts(config: Config) -> dict[str, int]:
    fs = namenode_jmx(config, "Hadoop:service=NameNode,name=FSNamesystemState")
    under = namenode_jmx(config, "Hadoop:service=NameNode,name=FSNamesystem")["UnderReplicatedBlocks"]
    return {"live": fs["NumLiveDataNodes"], "dead": fs["NumDeadDataNodes"], "stale": fs["NumStaleDataNodes"],
            "under_replicated": under}


def alive_workers(config: Config) -> int:
    return sum(w["state"] == "ALIVE" for w in master_json(config)["workers"])


def file_replication(config: Config, path: str) -> int:
    url = f"http://127.0.0.1:{config.ports.namenode_http}/webhdfs/v1{path}?op=GETFILESTATUS"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (the test's own NameNode)
        return json.load(resp)["FileStatus"]["replication"]


SYSTEMS = ("kafka", "hdfs", "spark")


def health_states(config: Config) -> dict[str, str]:
    """The health view's verdict per system (ecomdesk.data.health, what the Cluster tab shows)."""
    return {h.system: h.state for h in read_cluster(config).all()}


def _true(check) -> bool:
    try:
        return bool(check())
    except Exception:  # a member is down: its report is not there yet
        return False


def wait_until(check, timeout: float, what: str) -> float:
    """Seconds until check() is true; fails naming `what` after `timeout`."""
    return first_seen({what: check}, timeout)[what]


def first_seen(checks: dict, timeout: float) -> dict[str, float]:
    """Seconds from now until each check was first true, polling all of them together."""
    t0, seen = time.monotonic(), {}
    while len(seen) < len(checks):
        for what, check in checks.items():
            if what not in seen and _true(check):
                seen[what] = time.monotonic() - t0
        missing = [w for w in checks if w not in seen]
        assert not missing or time.monotonic() - t0 < timeout, f"not within {timeout:.0f} s: {', '.join(missing)}"
        time.sleep(0.25)
    return seen


def produced_exactly(ledger: Path) -> None:
    """Every event the producer handed over was acknowledged: the ledger is the whole truth."""
    summary = json.loads(summary_path(ledger).read_text())
    assert summary["failed"] == {"valid": 0, "invalid": 0} and summary["unsent"] == 0, summary
    assert summary["unconfirmed"] == 0, summary


# ----- the tests ----------------------------------------------------------------------------------------
def test_every_member_is_listed_with_its_endpoints(cluster):
    config = cluster.config
    print(f"\n3/3/2 cluster up in {cluster.up_seconds:.1f} s")
    out = cli(cluster.home, "stack", "status", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)["services"]}
    members = ["hdfs-namenode", "hdfs-datanode-1", "hdfs-datanode-2", "hdfs-datanode-3", "kafka-1", "kafka-2",
               "kafka-3", "spark-master", "spark-worker-1", "spark-worker-2", "spark-job"]
    assert {n: rows[n]["state"] for n in members} == dict.fromkeys(members, "running")
    for node in (1, 2, 3):
        assert rows[f"kafka-{node}"]["endpoints"]["bootstrap"] == f"127.0.0.1:{config.ports.broker(node)[0]}"
        assert rows[f"hdfs-datanode-{node}"]["endpoints"]["data"] == f"127.0.0.1:{config.ports.datanode_node(node)[0]}"
    assert rows["spark-master"]["endpoints"] == {"master": config.spark_master.removeprefix("spark://"),
                                                 "http": f"127.0.0.1:{config.ports.spark_master()[1]}"}
    assert rows["spark-worker-2"]["endpoints"]["worker"] == f"127.0.0.1:{config.ports.spark_worker(2)[0]}"
    health = json.loads(out.stdout)["health"]  # the health view reads the managed cluster's members
    assert len(health["kafka"]["detail"]["brokers"]) == 3 and health["hdfs"]["detail"]["live"] == 3
    assert health["spark"]["detail"]["alive_workers"] == 2
    logs = cli(cluster.home, "stack", "logs", "spark-worker-2", "-n", "400")
    assert logs.returncode == 0 and "Successfully registered with master" in logs.stdout
    assert brokers_listed(config) == {1, 2, 3} and alive_workers(config) == 2
    assert datanode_counts(config)["live"] == 3


def test_topics_and_files_are_replicated_three_times(cluster):
    config = cluster.config
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap, "log_level": 0})
    topics = admin.list_topics(timeout=5).topics
    assert {t: {len(p.replicas) for p in topics[t].partitions.values()} for t in TOPICS} == dict.fromkeys(TOPICS, {3})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in TOPICS]
    for future in admin.describe_configs(resources).values():
        assert future.result(timeout=10)["min.insync.replicas"].value == "2"
    fs = hadoop_filesystem(config)
    with fs.open_output_stream("/replication-probe") as out:
        out.write(b"written by the app's HDFS client")
    assert file_replication(config, "/replication-probe") == 3


def test_the_job_runs_on_the_master_and_matches_the_ledger(cluster, tmp_path):
    config = cluster.config
    apps = master_json(config)["activeapps"]
    assert [a["name"] for a in apps] == ["ecomdesk-ecommerce-stream"] and apps[0]["cores"] == 2
    ledger = tmp_path / "events.parquet"
    p = produce(cluster.home, config.kafka_bootstrap, "", ledger, 8_000, 0, 21)
    assert p.wait(120) == 0, p.stderr.read()
    produced_exactly(ledger)
    cluster.ledgers.append(ledger)
    check_caught_up_and_exact(config, cluster.ledgers, cluster.supervisor.specs["spark-job"].telemetry)
    fs = hadoop_filesystem(config)
    base = config.hdfs.base_path
    written = [f.path for f in fs.get_file_info(pafs.FileSelector(base, recursive=True)) if f.is_file]
    assert written and {file_replication(config, p) for p in written[:20]} == {3}


def test_sigkill_a_broker_a_datanode_and_a_worker_while_events_flow(cluster, tmp_path):
    config, sup = cluster.config, cluster.supervisor
    job_pid = sup.status("spark-job").pid
    ledger = tmp_path / "during-faults.parquet"
    # 30 s of events at 200/s: the kills come 5 s in, and the killed members stay down for DOWN_FOR
    p = produce(cluster.home, config.kafka_bootstrap, "", ledger, 6_000, 200, 22)
    time.sleep(5)
    pids = {n: sup.status(n).pid for n in KILLED}
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    seen = first_seen({
        "broker 2 out of the metadata and an ISR": lambda: 2 not in brokers_listed(config)
        and partitions_short_of_isr(config) > 0,
        "worker lost at the master": lambda: alive_workers(config) == 1,
        "DataNode stale": lambda: datanode_counts(config)["stale"] >= 1,
        "DataNode dead": lambda: datanode_counts(config)["dead"] == 1,
        # the window's and `stack status`'s view of the same: each system degraded, in words
        "health view: all three degraded": lambda: health_states(config) == dict.fromkeys(SYSTEMS, DEGRADED),
    }, DOWN_FOR)
    print("\nseconds after the SIGKILLs until the loss shows: " + ", ".join(f"{k} {v:.1f}" for k, v in seen.items()))
    assert {n: sup.status(n).state for n in KILLED} == dict.fromkeys(KILLED, "restarting")
    recovered = wait_until(lambda: all(sup.status(n).state == "running" for n in KILLED), 180, "members restarted")
    recovered += max(seen.values())
    waits = {"isr": wait_until(lambda: brokers_listed(config) == {1, 2, 3} and partitions_short_of_isr(config) == 0,
                               60, "broker 2 back in every ISR")}
    waits["workers"] = wait_until(lambda: alive_workers(config) == 2, 30, "two workers alive again")
    waits["datanodes"] = wait_until(
        lambda: datanode_counts(config) == {"live": 3, "dead": 0, "stale": 0, "under_replicated": 0}, 120,
        "three live DataNodes and no under-replicated block")
    waits["health"] = wait_until(lambda: health_states(config) == dict.fromkeys(SYSTEMS, OK), 60,
                                 "the health view all ok again")
    print("then seconds, one after the other: " + ", ".join(f"{k} {v:.1f}" for k, v in waits.items()))
    print(f"members running again {recovered:.1f} s after the SIGKILLs (restart backoff {DOWN_FOR:.0f} s)")
    assert all(sup.status(n).pid != pids[n] for n in KILLED)
    t0 = time.monotonic()
    assert p.wait(180) == 0, p.stderr.read()
    produced_exactly(ledger)
    t1 = time.monotonic()
    cluster.ledgers.append(ledger)
    check_caught_up_and_exact(config, cluster.ledgers, sup.specs["spark-job"].telemetry)
    print(f"producer done {t1 - t0:.1f} s later, the job caught up and exact {time.monotonic() - t1:.1f} s after")
    print(f"the job {'rode out the faults' if sup.status('spark-job').pid == job_pid else 'was restarted'}")
