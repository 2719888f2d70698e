"""Where the health readers ask, from the config: the same code for managed and external clusters."""

from __future__ import annotations

from ecomdesk.config import Config
from ecomdesk.kafka_client import security_conf

NAMENODE_HTTP_PORT = 9870  # Hadoop 3's default dfs.namenode.http-address port
SPARK_MASTER_WEB_PORT = 8080  # Spark standalone's default spark.master.ui.port


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def kafka_client_config(config: Config) -> dict:
    """What every Kafka client of the health view needs to reach the cluster, security settings included
    (raises KafkaSecurityError when the password cannot be read)."""
    return {"bootstrap.servers": config.kafka_bootstrap, **security_conf(config)}


def namenode_http(config: Config) -> list[str]:
    """The NameNodes' HTTP addresses: `[hdfs] namenode_http` (a list for HA), else the managed one's,
    else the external NameNode's host on Hadoop's default HTTP port."""
    if config.hdfs.namenode_http:
        return split(config.hdfs.namenode_http)
    if not config.hdfs.namenode:
        return [f"127.0.0.1:{config.ports.namenode_http}"]
    return [f"{host}:{NAMENODE_HTTP_PORT}" for host, _ in config.namenode_addresses]


def spark_master_web(config: Config) -> list[str]:
    """The standalone masters' web addresses (their JSON endpoint): `[spark] master_web` (a list for HA),
    else the managed master's, else each host of a spark:// master on Spark's default UI port; [] when the
    master is no cluster."""
    if config.spark.master_web:
        return split(config.spark.master_web)
    if config.spark.workers:  # the managed master
        return [f"127.0.0.1:{config.ports.spark_master()[1]}"]
    master = config.spark_master
    if not master.startswith("spark://"):
        return []
    hosts = [h.rpartition(":")[0] or h for h in split(master.removeprefix("spark://"))]
    return [f"{h}:{SPARK_MASTER_WEB_PORT}" for h in hosts]
