"""The names of the managed cluster's members: a single broker or DataNode keeps its old name."""

from __future__ import annotations

from ecomdesk.config import Config

MASTER = "spark-master"


def numbered(base: str, count: int) -> list[str]:
    return [base] if count == 1 else [f"{base}-{i}" for i in range(1, count + 1)]


def brokers(config: Config) -> list[str]:
    return numbered("kafka", config.kafka.brokers)


def datanodes(config: Config) -> list[str]:
    return numbered("hdfs-datanode", config.hdfs.datanodes)


def spark_daemons(config: Config) -> list[str]:
    """The managed master and its workers, or nothing when the job runs in local mode."""
    workers = config.spark.workers
    return [MASTER, *(f"spark-worker-{i}" for i in range(1, workers + 1))] if workers else []


def is_cluster(config: Config) -> bool:
    """More than one member of something: the job then rides out a member's restart."""
    return config.kafka.brokers > 1 or config.hdfs.datanodes > 1 or config.spark.workers > 0
