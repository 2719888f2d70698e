"""pyarrow's HadoopFileSystem for the configured NameNode.

libhdfs starts a JVM inside this process, so JAVA_HOME, CLASSPATH (the hadoop-client jars of the
pyspark wheel; libhdfs does not expand wildcards) and ARROW_LIBHDFS_DIR must be set before the
first connection. That JVM shares the process's stdout and stderr: its log4j configuration
(resources/conf/hdfs-client-log4j2.properties) sends its logging to stderr, because stdout carries
the data of commands like `ecomdesk query`.
"""

from __future__ import annotations

import os
import socket

from pyarrow import fs as pafs

from ecomdesk.config import Config
from ecomdesk.install_layout import installation
from ecomdesk.paths import resource

LOG_CONFIG = "hdfs-client-log4j2.properties"


def prepare_environment() -> None:
    inst = installation()
    os.environ["JAVA_HOME"] = str(inst.java_home)
    os.environ["ARROW_LIBHDFS_DIR"] = str(inst.libhdfs_dir)
    if "CLASSPATH" not in os.environ:
        os.environ["CLASSPATH"] = os.pathsep.join(str(j) for j in inst.hadoop_client_classpath)
    # Keep the embedded client's JVM small and quiet, and leave SIGINT/SIGTERM to Python (-Xrs):
    # otherwise the JVM's own handlers swallow Ctrl-C in the CLI and the GUI. Without a log4j
    # configuration, log4j's default one would print to stdout. Options the user set are kept; the
    # log configuration is added unless they name one (as a URI: libhdfs splits the options at spaces).
    opts = os.environ.get("LIBHDFS_OPTS", "-Xmx256m -Xrs")
    if "log4j2.configurationFile" not in opts:
        opts = f"{opts} -Dlog4j2.configurationFile={resource('conf', LOG_CONFIG).as_uri()}".strip()
    os.environ["LIBHDFS_OPTS"] = opts


def check_namenode(address: tuple[str, int] | list[tuple[str, int]], timeout: float = 3.0) -> None:
    """Raise ConnectionError naming the NameNode(s) when nothing accepts connections there (for an HA
    nameservice: at none of its NameNodes).

    Checked before using libhdfs, which retries a dead NameNode for minutes, and pyarrow reports
    some refused connections as missing files (an empty result instead of an error).
    """
    reasons = []
    for host, port in address if isinstance(address, list) else [address]:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except OSError as exc:
            reasons.append(f"{host}:{port} unreachable: {exc.strerror or exc}")
    raise ConnectionError(f"NameNode {'; '.join(reasons)}")


def ha_conf(config: Config) -> dict[str, str]:
    """The Hadoop client settings of an HA nameservice (empty for a single NameNode): what an
    hdfs-site.xml of the cluster would give the client, so no Hadoop config dir is needed."""
    if not config.hdfs.namenodes:
        return {}
    ns = config.hdfs.namenode
    ids = [f"nn{i}" for i in range(1, len(config.namenode_addresses) + 1)]
    conf = {"dfs.nameservices": ns, f"dfs.ha.namenodes.{ns}": ",".join(ids),
            f"dfs.client.failover.proxy.provider.{ns}":
                "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider"}
    for nn, (host, port) in zip(ids, config.namenode_addresses, strict=True):
        conf[f"dfs.namenode.rpc-address.{ns}.{nn}"] = f"{host}:{port}"
    return conf


def hadoop_filesystem(config: Config) -> pafs.HadoopFileSystem:
    prepare_environment()
    if config.hdfs.namenodes:  # libhdfs takes the nameservice as the host, port 0, and resolves it with extra_conf
        return pafs.HadoopFileSystem(config.hdfs.namenode, 0, replication=1, extra_conf=ha_conf(config))
    host, port = config.namenode_address
    return pafs.HadoopFileSystem(host, port, replication=config.dfs_replication)


def hdfs_uri(config: Config, path: str = "") -> str:
    if config.hdfs.namenodes:
        return f"hdfs://{config.hdfs.namenode}{path}"
    host, port = config.namenode_address
    return f"hdfs://{host}:{port}{path}"
