"""The managed services' names, spelled once: the catalog names its specs with them, and every layer that
refers to a service (the alerts, the health readers, the window, the benchmarks) takes them from here. A
managed cluster numbers its members (kafka-1, hdfs-datanode-2, spark-worker-1); a single broker or
DataNode keeps the plain name."""

from __future__ import annotations

NAMENODE = "hdfs-namenode"
DATANODE = "hdfs-datanode"
KAFKA = "kafka"
SPARK_MASTER = "spark-master"
SPARK_WORKER = "spark-worker"
SPARK_JOB = "spark-job"
PRODUCER = "producer"
STORAGE = (NAMENODE, DATANODE, KAFKA)  # what a local stack's job and producer run on


def member(base: str, number: int) -> str:
    return f"{base}-{number}"


def numbered(base: str, count: int) -> list[str]:
    """The members of a group of `count`: the plain name alone when there is one."""
    return [base] if count == 1 else [member(base, i) for i in range(1, count + 1)]


def is_member(name: str, base: str) -> bool:
    """`name` is `base` or one of its numbered members."""
    return name == base or (name.startswith(base + "-") and name[len(base) + 1:].isdigit())
