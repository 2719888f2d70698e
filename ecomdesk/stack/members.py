"""The names of the managed cluster's members: a single broker or DataNode keeps its old name."""

from __future__ import annotations

from ecomdesk import service_names as names
from ecomdesk.config import Config


def brokers(config: Config) -> list[str]:
    return names.numbered(names.KAFKA, config.kafka.brokers)


def datanodes(config: Config) -> list[str]:
    return names.numbered(names.DATANODE, config.hdfs.datanodes)


def spark_daemons(config: Config) -> list[str]:
    """The managed master and its workers, or nothing when the job runs in local mode."""
    workers = config.spark.workers
    if not workers:
        return []
    return [names.SPARK_MASTER, *(names.member(names.SPARK_WORKER, i) for i in range(1, workers + 1))]


def is_cluster(config: Config) -> bool:
    """More than one member of something: the job then rides out a member's restart."""
    return config.kafka.brokers > 1 or config.hdfs.datanodes > 1 or config.spark.workers > 0
