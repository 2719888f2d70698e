"""Kafka's health from the cluster's metadata (AdminClient): brokers, controller, partitions with
leader, replicas and ISR, and the job's lag per partition against its checkpoint (see checkpoint.py)."""

from __future__ import annotations

import socket
import time
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from ecomdesk.config import Config
from ecomdesk.data.health import model as m
from ecomdesk.data.health.checkpoint import committed_offsets
from ecomdesk.data.health.endpoints import kafka_client_config, namenode_http, split
from ecomdesk.data.health.http import ReadError
from ecomdesk.kafka_client import ErrorTrap, KafkaSecurityError, list_topics

SHOWN = 5  # partitions named in one problem line before "and N more"
LEADER_SILENT = "leader not answering"


def _reachable(bootstrap: str, timeout: float) -> str | None:
    """None when a bootstrap server accepts connections, else why none does (librdkafka would only
    retry and log; a refused port is known at once)."""
    errors = []
    for server in split(bootstrap):
        host, _, port = server.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            return None
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {getattr(exc, 'strerror', None) or exc}")
    return "; ".join(errors) or "no bootstrap server configured"


def _end_offsets(admin: AdminClient, partitions: list[TopicPartition], timeout: float) -> dict[tuple, int | None]:
    """The newest offset of each partition, asked of its leader; None when the leader did not answer (a
    broker that died is listed, and leads, until the controller fences it: this shows it before)."""
    if not partitions:
        return {}
    futures = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions}, request_timeout=timeout)
    ends: dict[tuple, int | None] = {}
    for tp, future in futures.items():
        try:
            offset = future.result().offset  # a leader that does not answer gives -1001 (no offset)
        except KafkaException:
            offset = -1
        ends[(tp.topic, tp.partition)] = offset if offset >= 0 else None
    return ends


def _job_offsets(config: Config, timeout: float) -> tuple[dict, str]:
    try:
        found = committed_offsets(namenode_http(config), config.hdfs.base_path, timeout)
    except ReadError as exc:
        return {}, f"job offsets unknown: {exc}"
    if found is None:
        return {}, "the job has committed no batch yet"
    batch, offsets = found
    return offsets, f"job offsets from its checkpoint, batch {batch}"


def _partition(topic: str, meta, end: int | None, job: dict) -> m.Partition:
    leader = meta.leader if meta.leader >= 0 else None
    done = job.get(topic, {}).get(meta.id)
    lag = max(0, end - done) if end is not None and done is not None else None
    status = ("offline (no leader)" if leader is None else LEADER_SILENT if end is None
              else "under-replicated" if len(meta.isrs) < len(meta.replicas) else "ok")
    return m.Partition(topic, meta.id, leader, tuple(meta.replicas), tuple(meta.isrs), end, done, lag, status)


def _named(parts: list[m.Partition]) -> str:
    names = ", ".join(f"{p.topic}-{p.partition}" for p in parts[:SHOWN])
    return names + (f" and {len(parts) - SHOWN} more" if len(parts) > SHOWN else "")


def problems(detail: m.KafkaDetail) -> list[str]:
    """The detail's problems in words: offline and under-replicated partitions, lost brokers, no controller."""
    out = []
    offline = [p for p in detail.partitions if p.leader is None]
    under = [p for p in detail.partitions if p.status == "under-replicated"]
    if offline:
        out.append(f"{len(offline)} offline partition(s), no leader: {_named(offline)}")
    if under:
        out.append(f"{len(under)} under-replicated partition(s), ISR smaller than the replicas: {_named(under)}")
    silent = [p for p in detail.partitions if p.status == LEADER_SILENT]
    if silent:
        leaders = ", ".join(str(b) for b in sorted({p.leader for p in silent if p.leader is not None}))
        out.append(f"broker(s) {leaders} did not answer for the {len(silent)} partition(s) they lead: {_named(silent)}")
    up = {b.id for b in detail.brokers}
    missing = sorted({r for p in detail.partitions for r in p.replicas} - up)
    if missing:
        out.append(f"broker(s) {', '.join(map(str, missing))} hold replicas but are not in the cluster")
    if detail.controller is None:
        out.append("no controller")
    return out


def read_kafka(config: Config, timeout: float = 3.0) -> m.SystemHealth:
    t0 = time.monotonic()
    try:
        client = kafka_client_config(config)
    except KafkaSecurityError as exc:
        return m.SystemHealth("kafka", m.UNREACHABLE, str(exc), config.kafka_bootstrap,
                              read_at=time.time(), elapsed=time.monotonic() - t0)
    bootstrap = client["bootstrap.servers"]
    why = _reachable(bootstrap, timeout)
    if why is not None:
        return m.SystemHealth("kafka", m.UNREACHABLE, f"no broker accepts connections: {why}", bootstrap,
                              read_at=time.time(), elapsed=time.monotonic() - t0)
    trap = ErrorTrap()  # a refused password or certificate, in the broker's words, within a second
    conf: dict[str, Any] = {**client, "error_cb": trap, "socket.timeout.ms": int(timeout * 1000), "log_level": 0}
    admin = AdminClient(conf)
    try:
        meta = list_topics(admin, trap, timeout)
        topics = {n: t for n, t in meta.topics.items() if not n.startswith("__")}
        ends = _end_offsets(admin, [TopicPartition(n, p) for n, t in topics.items() for p in t.partitions
                                    if t.partitions[p].leader >= 0], timeout)
    except (KafkaException, KafkaSecurityError) as exc:
        error = trap.explain(exc)
        return m.SystemHealth("kafka", m.UNREACHABLE, f"the cluster did not answer: {error}", bootstrap,
                              read_at=time.time(), elapsed=time.monotonic() - t0)
    job, job_note = _job_offsets(config, timeout)
    partitions = tuple(_partition(n, t.partitions[p], ends.get((n, p)), job)
                       for n, t in sorted(topics.items()) for p in sorted(t.partitions))
    lags = [p.lag for p in partitions if p.lag is not None]
    detail = m.KafkaDetail(
        cluster_id=meta.cluster_id, controller=meta.controller_id if meta.controller_id >= 0 else None,
        brokers=tuple(m.Broker(b.id, str(b.host), b.port) for b in sorted(meta.brokers.values(), key=lambda b: b.id)),
        partitions=partitions, under_replicated=sum(p.status == "under-replicated" for p in partitions),
        offline=sum(p.leader is None for p in partitions), job=job_note, job_lag=sum(lags) if lags else None)
    found = problems(detail)
    summary = (f"{len(detail.brokers)} broker(s) up, controller {detail.controller}, {len(partitions)} partition(s): "
               f"{detail.under_replicated} under-replicated, {detail.offline} offline; job lag "
               f"{'unknown' if detail.job_lag is None else detail.job_lag} ({job_note})")
    return m.SystemHealth("kafka", m.DEGRADED if found else m.OK, summary, bootstrap, tuple(found), detail,
                          time.time(), time.monotonic() - t0)
