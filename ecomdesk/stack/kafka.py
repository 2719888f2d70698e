"""Kafka in KRaft mode on 127.0.0.1: one node (broker + controller in one process), or a cluster.

With `[kafka] brokers = N` > 1, nodes kafka-1..N share one cluster id (kafka/cluster.id) and each has
its own dir (kafka/node-i), properties and ports (Ports.broker). Nodes 1..min(3, N) are combined
broker + controller nodes and the static controller quorum; the others are brokers only. Two nodes get
one voter, node 1: a quorum of two halts on the loss of either, so it would be no safer.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.install_layout import installation
from ecomdesk.paths import resource
from ecomdesk.producer.topics import ensure_topics
from ecomdesk.stack.jvm import java_command, run_tool


def kafka_root(config: Config) -> Path:
    return config.service_data_dir / "kafka"


def node_dir(config: Config, node: int = 1) -> Path:
    return kafka_root(config) / f"node-{node}" if config.kafka.brokers > 1 else kafka_root(config)


def voters(config: Config) -> list[int]:
    n = config.kafka.brokers
    return [1, 2, 3] if n >= 3 else [1]


def server_properties(config: Config, node: int = 1) -> dict[str, str]:
    p = config.ports
    port, controller = p.broker(node)
    voter = node in voters(config)
    replicas = str(min(3, config.kafka.brokers))
    min_isr = "2" if config.kafka.brokers >= 3 else "1"
    listeners = f"PLAINTEXT://127.0.0.1:{port}" + (f",CONTROLLER://127.0.0.1:{controller}" if voter else "")
    props = {
        "process.roles": "broker,controller" if voter else "broker",
        "node.id": str(node),
        "controller.quorum.voters": ",".join(f"{v}@127.0.0.1:{p.broker(v)[1]}" for v in voters(config)),
        "listeners": listeners,
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node_dir(config, node) / "logs"),
        "num.partitions": str(config.kafka.partitions),
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "168",
        # A broker that was SIGKILLed is refused (DUPLICATE_BROKER_REGISTRATION) until its old session
        # expires: 9 s by default, most of its restart. On loopback a heartbeat each second and a session
        # of 4.5 s fence a dead broker sooner, and bring a restarted one back sooner.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "4500",
    }
    if config.kafka.brokers > 1:
        props |= {"default.replication.factor": replicas, "min.insync.replicas": min_isr,
                  "unclean.leader.election.enable": "false"}
    return props


def write_properties(config: Config, node: int = 1) -> Path:
    root = node_dir(config, node)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in server_properties(config, node).items()))
    return path


def _java(config: Config, main: str, *args: str, node: int = 1) -> list[str]:
    inst = installation()
    return java_command(
        inst, config.memory.kafka_heap, inst.kafka_classpath, main, *args,
        props={"log4j2.configurationFile": str(resource("conf", "kafka-log4j2.properties")),
               "kafka.logs.dir": str(node_dir(config, node) / "app-logs")},
    )


def kafka_uuid() -> str:
    """A random id the way Kafka's `Uuid.randomUuid()` makes one: URL-safe base64 of 16 random bytes,
    drawn again when it starts with '-' (a command line would read it as an option) or is all zero."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-") and any(raw):
            return text


def cluster_id(config: Config) -> str:
    """A fresh id for a single node; the cluster's one (kafka/cluster.id, made once) for a cluster.

    The nodes format side by side, so the first to link its whole file in place wins and every other
    reads that one (a check-then-write gave two nodes two ids, and a cluster that never formed)."""
    if config.kafka.brokers == 1:
        return kafka_uuid()
    path = kafka_root(config) / "cluster.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        mine = path.with_name(f".cluster.id.{os.getpid()}.{uuid.uuid4().hex}")
        mine.write_text(kafka_uuid())
        try:
            with contextlib.suppress(FileExistsError):
                os.link(mine, path)
        finally:
            mine.unlink()
    return path.read_text().strip()


def format_storage(config: Config, node: int = 1) -> None:
    """Format the node's KRaft log dir once; later starts keep topics and data."""
    props = write_properties(config, node)
    if (node_dir(config, node) / "logs" / "meta.properties").exists():
        return
    name = names.KAFKA if config.kafka.brokers == 1 else names.member(names.KAFKA, node)
    cmd = _java(config, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id(config)}", "-c", str(props),
                node=node)
    run_tool(cmd, "Kafka storage format", config.paths.log_dir / f"{name}-format.log")


def broker_command(config: Config, node: int = 1) -> list[str]:
    return _java(config, "kafka.Kafka", str(write_properties(config, node)), node=node)


def metadata_probe(bootstrap: str) -> Probe:
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError as exc:  # not listening yet: skip librdkafka and its retry log spam
        return Probe(False, f"{bootstrap} not accepting connections ({exc.strerror or exc})")
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000, "log_level": 0})
    md = admin.list_topics(timeout=3)
    return Probe(True, f"{len(md.brokers)} broker(s), {len(md.topics)} topic(s)")


def ready_with_topics(config: Config, bootstrap: str) -> Probe:
    """Ready once the broker answers metadata requests and the pipeline's topics exist."""
    probe = metadata_probe(bootstrap)
    if not probe.ok:
        return probe
    created = ensure_topics(bootstrap, config.kafka.partitions, config.topic_replication, timeout=10,
                            configs=config.topic_configs)
    return Probe(True, probe.message + (f"; created {', '.join(created)}" if created else ""))


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _waiting_for_quorum(config: Config, node: int) -> Probe | None:
    """While fewer than a majority of voters listen (the nodes of a cold start come up one after
    another) no node can see a quorum: a voter then counts as up when its controller listens."""
    voting = voters(config)
    up = [v for v in voting if _listening(config.ports.broker(v)[1])]
    if node not in voting or len(up) > len(voting) // 2:
        return None
    if node not in up:
        return Probe(False, "controller not listening yet")
    return Probe(True, f"controller listening; the quorum needs {len(voting) // 2 + 1} of {len(voting)} voters "
                       f"({len(up)} up)")


def node_probe(config: Config, node: int) -> Probe:
    """A cluster node serves: it answers a metadata request that lists it, so it sees the quorum."""
    waiting = _waiting_for_quorum(config, node)
    if waiting is not None:
        return waiting
    bootstrap = f"127.0.0.1:{config.ports.broker(node)[0]}"
    probe = metadata_probe(bootstrap)
    if not probe.ok:
        return probe
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000, "log_level": 0})
    md = admin.list_topics(timeout=3)
    if node not in md.brokers:
        return Probe(False, f"answers, but the cluster does not list broker {node} yet")
    return Probe(True, f"{len(md.brokers)} broker(s) up, {len(md.topics)} topic(s)")


def node_ready(config: Config, node: int) -> Probe:
    """Ready when the node serves (see node_probe); the pipeline's topics are created once the
    cluster lists as many brokers as their replication."""
    probe = node_probe(config, node)
    if not probe.ok or _waiting_for_quorum(config, node) is not None:
        return probe
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap, "socket.timeout.ms": 3000, "log_level": 0})
    if len(admin.list_topics(timeout=3).brokers) < config.topic_replication:
        return probe
    created = ensure_topics(config.kafka_bootstrap, config.kafka.partitions, config.topic_replication, timeout=10,
                            configs=config.topic_configs)
    return Probe(True, probe.message + (f"; created {', '.join(created)}" if created else ""))


def kafka_spec(config: Config) -> ServiceSpec:
    bootstrap = f"127.0.0.1:{config.ports.kafka}"
    return ServiceSpec(
        name=names.KAFKA,
        title="Kafka broker",
        command=lambda: broker_command(config),
        ready=lambda: ready_with_topics(config, bootstrap),
        health=lambda: metadata_probe(bootstrap),
        ports={"bootstrap": config.ports.kafka, "controller": config.ports.kafka_controller},
        data_dir=kafka_root(config),
        prepare=lambda: format_storage(config),
        stop_timeout=30,
    )


def node_spec(config: Config, node: int) -> ServiceSpec:
    port, controller = config.ports.broker(node)
    ports = {"bootstrap": port} | ({"controller": controller} if node in voters(config) else {})
    return ServiceSpec(
        name=names.member(names.KAFKA, node),
        title=f"Kafka broker {node}",
        command=lambda: broker_command(config, node),
        ready=lambda: node_ready(config, node),
        health=lambda: node_probe(config, node),
        ports=ports,
        data_dir=node_dir(config, node),
        prepare=lambda: format_storage(config, node),
        stop_timeout=30,
    )


def kafka_specs(config: Config) -> list[ServiceSpec]:
    """One node as today's `kafka`, or the cluster's nodes kafka-1..N."""
    if config.kafka.brokers == 1:
        return [kafka_spec(config)]
    return [node_spec(config, node) for node in range(1, config.kafka.brokers + 1)]
