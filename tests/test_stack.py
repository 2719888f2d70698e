"""The managed stack for real: HDFS + Kafka processes, data round trips, restarts, cleanup."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from stackutil import cli, listening, supervisor_for, wait_running

from ecomdesk.core.supervisor import StartError
from ecomdesk.data.contract import TOPICS
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.testing.sandbox import isolated_config

pytestmark = pytest.mark.stack
STORAGE = ["hdfs-namenode", "hdfs-datanode", "kafka"]


def _produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    p.produce(topic, value=value, key=b"k")
    assert p.flush(30) == 0


def _consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    return got


def _service_pids(sup) -> dict[str, int]:
    return {s.name: s.pid for s in sup.snapshot() if s.pid}


def test_data_survives_restart(tmp_path):
    config = isolated_config(tmp_path / "home")
    sup = supervisor_for(config)
    try:
        t0 = time.monotonic()
        sup.start(STORAGE)
        print(f"stack ready in {time.monotonic() - t0:.1f} s")
        assert {s.name: s.state for s in sup.snapshot() if s.name in STORAGE} == {
            "hdfs-namenode": "running", "hdfs-datanode": "running", "kafka": "running"}
        bootstrap = config.kafka_bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics = admin.list_topics(timeout=10).topics
        assert {t: len(topics[t].partitions) for t in TOPICS} == dict.fromkeys(TOPICS, 3)
        admin.create_topics([NewTopic("roundtrip", 1, 1)])["roundtrip"].result(30)
        _produce_one(bootstrap, "roundtrip", b"hello ecomdesk")
        assert _consume_all(bootstrap, "roundtrip", 1) == [b"hello ecomdesk"]

        fs = hadoop_filesystem(config)
        table = pa.table({"order_id": [1, 2, 3], "price": [10.5, 20.25, 30.0]})
        fs.create_dir("/roundtrip")
        with fs.open_output_stream("/roundtrip/t.parquet") as out:
            pq.write_table(table, out)
        assert pq.read_table("/roundtrip/t.parquet", filesystem=fs).equals(table)

        del admin
        sup.stop()
        assert all(s.state == "stopped" for s in sup.snapshot())
        assert not listening(config.ports.kafka) and not listening(config.ports.namenode_rpc)
        sup.start(STORAGE)

        assert "roundtrip" in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
        assert _consume_all(bootstrap, "roundtrip", 1) == [b"hello ecomdesk"]
        assert pq.read_table("/roundtrip/t.parquet", filesystem=hadoop_filesystem(config)).equals(table)
    finally:
        sup.close()
    assert all(s.pid is None for s in sup.snapshot())


def test_services_listen_on_loopback_only(stack):
    pids = set()
    for pid in _service_pids(stack.supervisor).values():
        pids |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    mine = [line for line in out.splitlines() if any(f"pid={p}," in line for p in pids)]
    assert len(mine) >= 7, out  # rpc, http, data, http, ipc, bootstrap, controller at least
    local = [line.split()[3] for line in mine]
    assert all(addr.startswith("127.0.0.1:") for addr in local), local
    for port in (stack.config.ports.kafka, stack.config.ports.namenode_rpc, stack.config.ports.datanode):
        assert f"127.0.0.1:{port}" in local


def test_port_in_use_starts_nothing(tmp_path):
    config = isolated_config(tmp_path / "home")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", config.ports.kafka))
    blocker.listen()
    sup = supervisor_for(config)
    try:
        with pytest.raises(StartError) as err:
            sup.start(STORAGE)
        msg = str(err.value)
        assert f"port {config.ports.kafka}" in msg and "kafka" in msg
        assert f"pid {os.getpid()}" in msg  # the holder is named
        assert all(s.state == "stopped" and s.pid is None for s in sup.snapshot())
        assert not listening(config.ports.namenode_rpc)
    finally:
        blocker.close()
        sup.close()


def test_cli_status_and_sigkilled_owner_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    config = isolated_config(home)
    env = {**os.environ, "ECOMDESK_HOME": str(home)}
    owner = subprocess.Popen([sys.executable, "-m", "ecomdesk", "stack", "up", "kafka", "hdfs-namenode"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_running(home, ["kafka", "hdfs-namenode"], owner, timeout=180)
        rows = json.loads(cli(home, "stack", "status", "--json").stdout)["services"]
        by_name = {r["name"]: r for r in rows}
        assert by_name["kafka"]["state"] == "running"
        assert by_name["kafka"]["endpoints"]["bootstrap"] == f"127.0.0.1:{config.ports.kafka}"
        assert by_name["hdfs-namenode"]["endpoints"] == {
            "rpc": f"127.0.0.1:{config.ports.namenode_rpc}", "http": f"127.0.0.1:{config.ports.namenode_http}"}
        assert by_name["hdfs-datanode"]["state"] == "stopped"
        pids = [by_name["kafka"]["pid"], by_name["hdfs-namenode"]["pid"]]
        assert all(psutil.pid_exists(p) for p in pids)
        table = cli(home, "stack", "status").stdout
        assert re.search(r"^kafka\s+running\s+\d+", table, re.M), table

        restarted = cli(home, "stack", "restart", "kafka", timeout=200)
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout == "" and "kafka restarted in" in restarted.stderr
        by_name = {r["name"]: r for r in json.loads(cli(home, "stack", "status", "--json").stdout)["services"]}
        assert by_name["kafka"]["state"] == "running" and by_name["kafka"]["pid"] != pids[0]
        assert by_name["hdfs-namenode"]["pid"] == pids[1]  # not a dependent of kafka: left alone
        assert not _alive(pids[0])
        pids = [by_name["kafka"]["pid"], by_name["hdfs-namenode"]["pid"]]
        unknown = cli(home, "stack", "restart", "nope")
        assert unknown.returncode == 1 and "unknown service 'nope'" in unknown.stderr

        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        assert not any(_alive(p) for p in pids), "services outlived their SIGKILLed owner by 10 s"
        rows = json.loads(cli(home, "stack", "status", "--json").stdout)["services"]
        assert all(r["state"] == "stopped" for r in rows)
    finally:
        if owner.poll() is None:
            owner.kill()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_cli_logs_and_down(tmp_path):
    home = tmp_path / "home"
    isolated_config(home)
    env = {**os.environ, "ECOMDESK_HOME": str(home)}
    owner = subprocess.Popen([sys.executable, "-m", "ecomdesk", "stack", "up", "hdfs-namenode"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if "ready in" in (line := owner.stdout.readline()):
                break
            assert line, "stack up exited early"
        logs = cli(home, "stack", "logs", "hdfs-namenode", "-n", "500").stdout
        assert "NameNode" in logs and "[ecomdesk] starting:" in logs
        down = cli(home, "stack", "down", timeout=120)
        assert down.returncode == 0 and "stack stopped" in down.stdout
        assert owner.wait(30) == 0
        assert "stopped" in owner.stdout.read()
    finally:
        if owner.poll() is None:
            owner.kill()


def test_kafka_formats_storage_with_a_cluster_id_that_looks_like_an_option(tmp_path, monkeypatch):
    from ecomdesk.stack import kafka

    drawn = [kafka.kafka_uuid() for _ in range(20000)]
    assert not any(d.startswith("-") for d in drawn) and all(len(d) == 22 for d in drawn)
    config = isolated_config(tmp_path / "home")
    monkeypatch.setattr(kafka, "kafka_uuid", lambda: "-" + drawn[0][1:])  # what used to fail 1 time in 64
    kafka.format_storage(config)
    meta = (kafka.kafka_root(config) / "logs" / "meta.properties").read_text()
    assert f"cluster.id=-{drawn[0][1:]}" in meta
