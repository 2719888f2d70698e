"""pyarrow's HadoopFileSystem for the configured NameNode.

libhdfs starts a JVM inside this process, so JAVA_HOME, CLASSPATH (the hadoop-client jars of the
pyspark wheel; libhdfs does not expand wildcards) and ARROW_LIBHDFS_DIR must be set before the
first connection.
"""

from __future__ import annotations

import os

from pyarrow import fs as pafs

from ecomdesk.config import Config
from ecomdesk.install import installation


def prepare_environment() -> None:
    inst = installation()
    os.environ["JAVA_HOME"] = str(inst.java_home)
    os.environ["ARROW_LIBHDFS_DIR"] = str(inst.libhdfs_dir)
    if "CLASSPATH" not in os.environ:
        os.environ["CLASSPATH"] = os.pathsep.join(str(j) for j in inst.hadoop_client_classpath)
    # Keep the embedded client's JVM small and quiet, and leave SIGINT/SIGTERM to Python (-Xrs):
    # otherwise the JVM's own handlers swallow Ctrl-C in the CLI and the GUI.
    os.environ.setdefault("LIBHDFS_OPTS", "-Xmx256m -Xrs -Dlog4j2.level=WARN")


def hadoop_filesystem(config: Config) -> pafs.HadoopFileSystem:
    prepare_environment()
    host, port = config.namenode_address
    return pafs.HadoopFileSystem(host, port, replication=1)


def hdfs_uri(config: Config, path: str = "") -> str:
    host, port = config.namenode_address
    return f"hdfs://{host}:{port}{path}"
