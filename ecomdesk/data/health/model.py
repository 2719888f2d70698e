"""What the health readers report: one `SystemHealth` per system, plain data (JSON via `to_dict`).

Every reading ends in a state, never an exception: a cluster that does not answer is `unreachable`
with the reason, and each problem is a sentence in `problems`, so the CLI and the window show words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

OK = "ok"
DEGRADED = "degraded"  # it answers, and something in it needs attention (see problems)
UNREACHABLE = "unreachable"  # nothing answered; summary says why
UNREADABLE = "unreadable"  # it answered with something the reader could not interpret
STOPPED = "stopped"  # the managed services of this system are stopped: nothing was asked
NO_CLUSTER = "no cluster"  # e.g. Spark's local[N] master: there is no cluster to watch


@dataclass(frozen=True)
class Broker:
    id: int
    host: str
    port: int


@dataclass(frozen=True)
class Partition:
    topic: str
    partition: int
    leader: int | None  # None: offline, no leader
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    end_offset: int | None  # the newest offset; None when the partition did not answer
    job_offset: int | None  # the next offset the job reads; None when unknown or not read by the job
    lag: int | None
    status: str  # "ok", "under-replicated", "offline (no leader)" or "leader not answering"


@dataclass(frozen=True)
class KafkaDetail:
    cluster_id: str | None
    controller: int | None  # as the cluster's metadata names it (see docs/CLUSTERS.md on KRaft)
    brokers: tuple[Broker, ...]
    partitions: tuple[Partition, ...]
    under_replicated: int
    offline: int
    job: str  # where the job's offsets come from, or why they are unknown
    job_lag: int | None  # total over the partitions the job reads


@dataclass(frozen=True)
class NameNode:
    address: str  # its HTTP address
    state: str  # "active", "standby", ... or "unreachable"
    error: str = ""


@dataclass(frozen=True)
class DataNode:
    name: str  # its transfer address, host:port
    state: str  # "live", "stale", "dead", "decommissioning", "decommissioned", "in maintenance"
    last_contact: float | None  # seconds since its last heartbeat reached the NameNode
    capacity: int | None
    used: int | None
    remaining: int | None


@dataclass(frozen=True)
class HdfsDetail:
    namenodes: tuple[NameNode, ...]
    live: int
    stale: int  # counted among the live ones by the NameNode, not heard from for STALE_SECONDS
    dead: int
    decommissioning: int
    capacity_total: int
    capacity_used: int
    capacity_remaining: int
    under_replicated_blocks: int
    missing_blocks: int
    corrupt_blocks: int
    safe_mode: str  # the NameNode's own words; "" when off
    datanodes: tuple[DataNode, ...]


@dataclass(frozen=True)
class Worker:
    id: str
    address: str  # host:port of its RPC endpoint
    web: str
    state: str  # Spark's words: ALIVE, DEAD, DECOMMISSIONED, UNKNOWN
    cores: int
    cores_used: int
    memory_mb: int
    memory_used_mb: int


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    state: str
    cores: int
    memory_per_executor_mb: int
    duration_s: float


@dataclass(frozen=True)
class SparkDetail:
    url: str
    status: str  # of the master that answered: ALIVE, STANDBY, RECOVERING, ...
    masters: tuple[tuple[str, str], ...]  # (web address, status or the error) of every master asked
    alive_workers: int
    cores: int
    cores_used: int
    memory_mb: int
    memory_used_mb: int
    workers: tuple[Worker, ...]
    applications: tuple[Application, ...]


@dataclass(frozen=True)
class SystemHealth:
    system: str  # kafka, hdfs or spark
    state: str
    summary: str  # one line in words: the figures, or why there are none
    source: str = ""  # the endpoints asked
    problems: tuple[str, ...] = ()
    detail: KafkaDetail | HdfsDetail | SparkDetail | None = None
    read_at: float = 0.0
    elapsed: float = 0.0  # seconds the reading took

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ClusterHealth:
    kafka: SystemHealth
    hdfs: SystemHealth
    spark: SystemHealth

    def all(self) -> list[SystemHealth]:
        return [self.kafka, self.hdfs, self.spark]

    def to_dict(self) -> dict:
        return {h.system: h.to_dict() for h in self.all()}
