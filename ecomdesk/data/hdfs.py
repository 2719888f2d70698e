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
from ecomdesk.paths import resource
from ecomdesk.stack.install import installation

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


def check_namenode(address: tuple[str, int], timeout: float = 3.0) -> None:
    """Raise ConnectionError naming the NameNode when nothing accepts connections there.

    Checked before using libhdfs, which retries a dead NameNode for minutes, and pyarrow reports
    some refused connections as missing files (an empty result instead of an error).
    """
    host, port = address
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"NameNode {host}:{port} unreachable: {exc.strerror or exc}") from exc


def hadoop_filesystem(config: Config) -> pafs.HadoopFileSystem:
    prepare_environment()
    host, port = config.namenode_address
    return pafs.HadoopFileSystem(host, port, replication=config.dfs_replication)


def hdfs_uri(config: Config, path: str = "") -> str:
    host, port = config.namenode_address
    return f"hdfs://{host}:{port}{path}"
