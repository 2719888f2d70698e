"""A single-node Kafka broker in KRaft mode (broker + controller in one process) on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.paths import resource
from ecomdesk.producer.topics import ensure_topics
from ecomdesk.stack.install import installation
from ecomdesk.stack.jvm import java_command, run_tool


def kafka_root(config: Config) -> Path:
    return config.service_data_dir / "kafka"


def server_properties(config: Config) -> dict[str, str]:
    p = config.ports
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{p.kafka_controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{p.kafka},CONTROLLER://127.0.0.1:{p.kafka_controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{p.kafka}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(kafka_root(config) / "logs"),
        "num.partitions": str(config.kafka.partitions),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "168",
    }


def write_properties(config: Config) -> Path:
    root = kafka_root(config)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in server_properties(config).items()))
    return path


def _java(config: Config, main: str, *args: str) -> list[str]:
    inst = installation()
    return java_command(
        inst, config.memory.kafka_heap, inst.kafka_classpath, main, *args,
        props={"log4j2.configurationFile": str(resource("conf", "kafka-log4j2.properties")),
               "kafka.logs.dir": str(kafka_root(config) / "app-logs")},
    )


def kafka_uuid() -> str:
    """A random id the way Kafka's `Uuid.randomUuid()` makes one: URL-safe base64 of 16 random bytes,
    drawn again when it starts with '-' (a command line would read it as an option) or is all zero."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-") and any(raw):
            return text


def format_storage(config: Config) -> None:
    """Format the KRaft log dir once, with a fresh cluster id; later starts keep topics and data."""
    props = write_properties(config)
    if (kafka_root(config) / "logs" / "meta.properties").exists():
        return
    cmd = _java(config, "kafka.tools.StorageTool", "format", f"--cluster-id={kafka_uuid()}", "-c", str(props))
    run_tool(cmd, "Kafka storage format", config.paths.log_dir / "kafka-format.log")


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
    created = ensure_topics(bootstrap, config.kafka.partitions, config.kafka.replication, timeout=10)
    return Probe(True, probe.message + (f"; created {', '.join(created)}" if created else ""))


def kafka_spec(config: Config) -> ServiceSpec:
    bootstrap = f"127.0.0.1:{config.ports.kafka}"
    return ServiceSpec(
        name="kafka",
        title="Kafka broker",
        command=lambda: _java(config, "kafka.Kafka", str(write_properties(config))),
        ready=lambda: ready_with_topics(config, bootstrap),
        health=lambda: metadata_probe(bootstrap),
        ports={"bootstrap": config.ports.kafka, "controller": config.ports.kafka_controller},
        data_dir=kafka_root(config),
        prepare=lambda: format_storage(config),
        stop_timeout=30,
    )
