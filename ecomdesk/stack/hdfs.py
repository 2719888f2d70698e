"""HDFS NameNode and DataNode run straight from the Hadoop jars, bound to 127.0.0.1.

Config files are rendered into <data>/hdfs/conf on every start (so port changes apply); the
NameNode is formatted once, when its name dir has no VERSION file yet. With `[hdfs] datanodes = N` > 1,
DataNode i >= 2 gets its own conf dir (conf-datanode-i), data dir (data-i) and ports (Ports.datanode_node),
files are written with dfs.replication = min(3, N), and the NameNode calls a silent DataNode stale
after 5 s (and avoids it) and dead after 15 s (instead of 30 s and 10.5 min), so a lost one shows while
it is lost.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.install_layout import installation
from ecomdesk.paths import resource
from ecomdesk.stack.jvm import java_command, run_tool

NAMENODE_MAIN = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE_MAIN = "org.apache.hadoop.hdfs.server.datanode.DataNode"


def hdfs_root(config: Config) -> Path:
    return config.service_data_dir / "hdfs"


def _suffix(node: int) -> str:
    return "" if node == 1 else f"-{node}"


def site_properties(config: Config, node: int = 1) -> tuple[dict[str, str], dict[str, str]]:
    """core-site and hdfs-site of the NameNode and DataNode 1 (node 1), or of DataNode `node`."""
    p, root = config.ports, hdfs_root(config)
    data, http, ipc = p.datanode_node(node)
    core = {
        "fs.defaultFS": f"hdfs://127.0.0.1:{p.namenode_rpc}",
        "hadoop.tmp.dir": str(root / f"tmp{_suffix(node)}"),
    }
    hdfs = {
        "dfs.namenode.name.dir": str(root / "name"),
        "dfs.datanode.data.dir": str(root / f"data{_suffix(node)}"),
        "dfs.replication": str(config.dfs_replication),
        "dfs.permissions.enabled": "false",
        "dfs.namenode.rpc-address": f"127.0.0.1:{p.namenode_rpc}",
        "dfs.namenode.rpc-bind-host": "127.0.0.1",
        "dfs.namenode.http-address": f"127.0.0.1:{p.namenode_http}",
        "dfs.namenode.http-bind-host": "127.0.0.1",
        "dfs.namenode.servicerpc-bind-host": "127.0.0.1",
        "dfs.namenode.lifeline.rpc-bind-host": "127.0.0.1",
        "dfs.namenode.secondary.http-address": "127.0.0.1:0",
        "dfs.namenode.backup.address": "127.0.0.1:0",
        "dfs.namenode.backup.http-address": "127.0.0.1:0",
        "dfs.datanode.address": f"127.0.0.1:{data}",
        "dfs.datanode.http.address": f"127.0.0.1:{http}",
        "dfs.datanode.ipc.address": f"127.0.0.1:{ipc}",
        "dfs.datanode.hostname": "127.0.0.1",
        "dfs.datanode.use.datanode.hostname": "false",
        "dfs.client.use.datanode.hostname": "false",
        "dfs.http.policy": "HTTP_ONLY",
        "dfs.namenode.safemode.extension": "0",
        "dfs.namenode.safemode.min.datanodes": "1",
        "dfs.heartbeat.interval": "1",
        # a DataNode silent for 2 x this + 10 heartbeats is dead (30 s; Hadoop's default is 10.5 min), so the
        # health view shows a lost one and re-replication starts within a minute
        "dfs.namenode.heartbeat.recheck-interval": "10000",
        "dfs.datanode.du.reserved": "0",
        "dfs.namenode.fs-limits.min-block-size": "0",
    }
    if config.hdfs.datanodes > 1:
        hdfs |= {"dfs.namenode.stale.datanode.interval": "5000", "dfs.namenode.heartbeat.recheck-interval": "2500",
                 "dfs.namenode.avoid.read.stale.datanode": "true", "dfs.namenode.avoid.write.stale.datanode": "true",
                 # the job's files are small and many: Hadoop's pace (2 blocks per node every 3 s, 2 streams per
                 # node) left a restarted DataNode short of blocks for over a minute after it came back
                 "dfs.namenode.redundancy.interval.seconds": "1",
                 "dfs.namenode.replication.work.multiplier.per.iteration": "20",
                 "dfs.namenode.replication.max-streams": "20",
                 "dfs.namenode.replication.max-streams-hard-limit": "40"}
    return core, hdfs


def _site_xml(props: dict[str, str]) -> str:
    body = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n" for k, v in props.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def _replace(path: Path, text: str) -> None:
    """Write a whole file in place: the NameNode reads the conf dir that the first DataNode's start
    writes again, and Hadoop reads its site files anew for every Configuration it makes."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_conf(config: Config, node: int = 1) -> Path:
    """Render the Hadoop conf dir; it also carries empty webapps/ dirs the daemons' HTTP servers need."""
    conf = hdfs_root(config) / ("conf" if node == 1 else f"conf-datanode-{node}")
    conf.mkdir(parents=True, exist_ok=True)
    core, hdfs = site_properties(config, node)
    _replace(conf / "core-site.xml", _site_xml(core))
    _replace(conf / "hdfs-site.xml", _site_xml(hdfs))
    _replace(conf / "log4j.properties", resource("conf", "hadoop-log4j.properties").read_text())
    # The Maven jars of Hadoop ship no web UI pages; the HTTP server (and its /jmx) only needs the dirs.
    for app in ("hdfs", "datanode", "static"):
        (conf / "webapps" / app / "WEB-INF").mkdir(parents=True, exist_ok=True)
    return conf


def _command(config: Config, main: str, heap: str, *args: str, node: int = 1) -> list[str]:
    inst = installation()
    conf = write_conf(config, node)
    root = hdfs_root(config)
    return java_command(
        # the conf dir last: a class-data archive is made for the jars alone (no jar carries a site file)
        inst, heap, [*inst.hadoop_classpath, conf], main, *args,
        props={"hadoop.home.dir": str(root), "hadoop.log.dir": str(root / "logs"),
               "hadoop.id.str": "ecomdesk", "hadoop.security.logger": "INFO,console"},
    )


def format_namenode(config: Config) -> None:
    """Format the NameNode's name dir once; later starts keep the file system."""
    if (hdfs_root(config) / "name" / "current" / "VERSION").exists():
        return
    cmd = _command(config, NAMENODE_MAIN, config.memory.namenode_heap, "-format", "-nonInteractive",
                   "-clusterid", "ecomdesk")
    run_tool(cmd, "NameNode format", config.paths.log_dir / "hdfs-namenode-format.log")


def namenode_jmx(config: Config, bean: str) -> dict:
    return _jmx(config.ports.namenode_http, bean)


def _jmx(port: int, bean: str) -> dict:
    url = f"http://127.0.0.1:{port}/jmx?qry={bean}"
    with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 (fixed local address)
        beans = json.load(resp).get("beans", [])
    if not beans:
        raise RuntimeError(f"no JMX bean {bean}")
    return beans[0]


def namenode_probe(config: Config) -> Probe:
    info = namenode_jmx(config, "Hadoop:service=NameNode,name=NameNodeStatus")
    return Probe(info.get("State") == "active", f"NameNode {info.get('State', '?')}")


def cluster_probe(config: Config) -> Probe:
    """Ready for clients: out of safe mode with at least one live DataNode."""
    fs = namenode_jmx(config, "Hadoop:service=NameNode,name=FSNamesystemState")
    live = int(fs.get("NumLiveDataNodes", 0))
    info = namenode_jmx(config, "Hadoop:service=NameNode,name=NameNodeInfo")
    safemode = info.get("Safemode", "")
    if live < 1:
        return Probe(False, "no live DataNode yet")
    if safemode:
        return Probe(False, f"safe mode: {safemode[:120]}")
    free = int(info.get("Free", 0))
    return Probe(True, f"{live} live DataNode(s), {free / 2**30:.1f} GiB free, out of safe mode")


def datanode_probe(config: Config, node: int = 1) -> Probe:
    """The DataNode itself answers and is registered with its NameNode (the cluster probe asks the
    NameNode, which still counts a hung DataNode as live for minutes)."""
    info = _jmx(config.ports.datanode_node(node)[1], "Hadoop:service=DataNode,name=DataNodeInfo")
    namenodes = json.loads(info.get("NamenodeAddresses") or "{}")
    if not namenodes:
        return Probe(False, "DataNode not registered with a NameNode")
    return Probe(True, f"DataNode serving, registered with {', '.join(namenodes)}")


def datanode_ready_probe(config: Config, node: int = 1) -> Probe:
    """Ready: this DataNode answers and is registered, and the cluster serves clients. The cluster
    probe alone passes at once after a restart, while the NameNode still counts the old process."""
    own = datanode_probe(config, node)
    return cluster_probe(config) if own.ok else own


def namenode_spec(config: Config) -> ServiceSpec:
    return ServiceSpec(
        name=names.NAMENODE,
        title="HDFS NameNode",
        command=lambda: _command(config, NAMENODE_MAIN, config.memory.namenode_heap),
        ready=lambda: namenode_probe(config),
        ports={"rpc": config.ports.namenode_rpc, "http": config.ports.namenode_http},
        data_dir=hdfs_root(config),
        prepare=lambda: format_namenode(config),
        stop_timeout=20,
    )


def datanode_spec(config: Config, node: int = 1) -> ServiceSpec:
    """DataNode `node`: `hdfs-datanode` when it is the only one, else `hdfs-datanode-<node>`."""
    data, http, ipc = config.ports.datanode_node(node)
    single = config.hdfs.datanodes == 1
    return ServiceSpec(
        name=names.DATANODE if single else names.member(names.DATANODE, node),
        title="HDFS DataNode" if single else f"HDFS DataNode {node}",
        command=lambda: _command(config, DATANODE_MAIN, config.memory.datanode_heap, node=node),
        ready=lambda: datanode_ready_probe(config, node),
        health=lambda: datanode_probe(config, node),
        ports={"data": data, "http": http, "ipc": ipc},
        data_dir=hdfs_root(config),
        depends_on=(names.NAMENODE,),
        stop_timeout=20,
    )


def datanode_specs(config: Config) -> list[ServiceSpec]:
    return [datanode_spec(config, node) for node in range(1, config.hdfs.datanodes + 1)]
