"""`ecomdesk stack destroy`: names what goes, refuses while the stack runs, and leaves a home that starts fresh."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from confluent_kafka import Consumer, TopicPartition
from stackutil import cli, wait_running

from ecomdesk.config import Hdfs, Kafka
from ecomdesk.data.contract import TOPICS
from ecomdesk.stack.destroy import plan
from ecomdesk.stack.hdfs import hdfs_root
from ecomdesk.stack.kafka import kafka_root
from ecomdesk.testing.sandbox import isolated_config

STORAGE = ["kafka", "hdfs-namenode", "hdfs-datanode"]


def test_plan_lists_the_homes_data_only(tmp_path):
    config = isolated_config(tmp_path / "home")
    for d in (kafka_root(config), hdfs_root(config) / "name", config.service_data_dir / "ledgers"):
        d.mkdir(parents=True)
        (d / "f").write_bytes(b"x" * 1024)
    ledgers = config.service_data_dir / "ledgers"
    assert [d.path for d in plan(config)] == [kafka_root(config), hdfs_root(config), ledgers]
    assert [d.bytes for d in plan(config)] == [1024, 1024, 1024]
    # pointed at external clusters, the home's own leftovers still go, and nothing else
    external = dataclasses.replace(config, kafka=Kafka(bootstrap="broker:9092"), hdfs=Hdfs(namenode="nn:8020"))
    assert [d.path for d in plan(external)] == [kafka_root(config), hdfs_root(config), ledgers]
    assert all(d.path.is_relative_to(config.service_data_dir) for d in plan(external))


def _wait_running(home, names, owner) -> None:
    wait_running(home, names, owner, timeout=240)
    states = {s["name"]: s["state"] for s in json.loads(cli(home, "stack", "status", "--json").stdout)["services"]}
    assert all(states[n] == "running" for n in names), states


def _messages(bootstrap: str) -> int:
    """Messages stored in the three topics (every event goes to one of them: orders alone held none of
    500 random events once)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "destroy-test"})
    try:
        return sum(c.get_watermark_offsets(TopicPartition(t, p), timeout=30)[1] for t in TOPICS for p in range(3))
    finally:
        c.close()


def _up(home, names):
    return subprocess.Popen([sys.executable, "-m", "ecomdesk", "stack", "up", *names],
                            env={**os.environ, "ECOMDESK_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.mark.stack
def test_destroy_refuses_while_running_then_stops_and_starts_fresh(tmp_path):
    home = tmp_path / "home"
    config = isolated_config(home)
    owner = _up(home, STORAGE)
    try:
        _wait_running(home, STORAGE, owner)
        sent = cli(home, "produce", "--count", "500", "--rate", "0")
        assert sent.returncode == 0, sent.stderr
        assert _messages(config.kafka_bootstrap) == 500

        refused = cli(home, "stack", "destroy", "--yes")
        assert refused.returncode == 1 and "running" in refused.stderr
        assert kafka_root(config).exists() and owner.poll() is None

        gone = cli(home, "stack", "destroy", "--stop", "--yes", timeout=240)
        assert gone.returncode == 0, gone.stderr
        assert gone.stdout.split() == [str(kafka_root(config)), str(hdfs_root(config))]
        assert "Kafka log dirs" in gone.stderr and "HDFS data" in gone.stderr
        assert owner.wait(60) is not None
        assert not kafka_root(config).exists() and not hdfs_root(config).exists()
        assert config.paths.config_file.exists() and config.paths.log_dir.exists()  # config and logs stay
    finally:
        if owner.poll() is None:
            cli(home, "stack", "down")
            owner.wait(60)

    owner = _up(home, STORAGE)
    try:
        _wait_running(home, STORAGE, owner)
        assert _messages(config.kafka_bootstrap) == 0
    finally:
        cli(home, "stack", "down")
        owner.wait(60)
