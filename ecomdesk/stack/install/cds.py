"""Class-data sharing archives for the managed JVMs: a broker starts on about 0.62x the CPU with one,
a NameNode and a DataNode on about 0.55x, a Spark driver on about 0.63x.

An archive holds the classes one JVM loaded, parsed and verified, mapped read-only by the next JVM of
the same JDK and class path instead of being loaded again (docs/BENCHMARKS.md, "Second session" and
"Third session"). `ecomdesk setup` makes three:
- Kafka's and HDFS's: training starts of a throwaway broker, NameNode and DataNode write the classes
  they load (`-XX:DumpLoadedClassList`), then `java -Xshare:dump` writes the archive;
- the Spark driver's: a few batches of the streaming job's own work on generated records
  (jobs/train_classes.py), whose driver writes the classes it loaded at its exit
  (`-XX:ArchiveClassesAtExit`: the class path is the one spark-submit builds). Spark's master, workers
  and executors run on that class path too, and map it.
They live in the cache, keyed by the JDK and the class path's jars (each names them beside it, so that
setup can prune those whose jars are gone); a bundle never carries one made for another JDK, and a JVM
whose archive is missing (or does not fit) runs as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ecomdesk.core.spec import ServiceSpec
from ecomdesk.install_layout import Installation, pyspark_jars, spark_env, spark_home
from ecomdesk.paths import cache_root, job_entry

if TYPE_CHECKING:
    from ecomdesk.config import Config


def archive_path(inst: Installation, classpath: list[Path]) -> Path:
    """Where the archive for this JDK and class path is (or would be)."""
    release = inst.java_home / "release"
    jdk = release.read_text() if release.exists() else str(Path(inst.java).resolve())
    key = hashlib.sha256("\n".join([jdk, os.pathsep.join(str(p) for p in classpath)]).encode()).hexdigest()[:16]
    return cache_root() / "cds" / f"{key}.jsa"


def _install(tmp: Path, target: Path, classpath: list[Path]) -> None:
    """Put a whole archive in place, with the class path it was made for beside it (see `prune`)."""
    target.with_suffix(".classpath").write_text("\n".join(map(str, classpath)) + "\n")
    tmp.replace(target)


def prune() -> list[Path]:
    """Remove the archives whose class path is gone (a venv or a stack version removed): each is as
    large as 180 MB, and a new venv makes its own Spark archive. Returns what was removed."""
    removed = []
    for archive in sorted((cache_root() / "cds").glob("*.jsa")):
        listed = archive.with_suffix(".classpath")
        jars = listed.read_text().split() if listed.is_file() else []
        if not jars or not all(Path(j).exists() for j in jars):
            archive.unlink(missing_ok=True)
            listed.unlink(missing_ok=True)
            removed.append(archive)
    return removed


def share_flags(inst: Installation, classpath: list[Path]) -> list[str]:
    """The JVM option that maps the archive, when setup made one for this JDK and the class path's jars
    (an archive holds no directory: a conf dir comes after the jars, whose archive then fits)."""
    path = archive_path(inst, [p for p in classpath if p.suffix == ".jar"])
    return [f"-XX:SharedArchiveFile={path}"] if path.is_file() else []


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _dump(inst: Installation, classpath: list[Path], classlist: Path) -> Path:
    """Write the archive from a class list; in place only when whole."""
    target = archive_path(inst, classpath)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    cmd = [inst.java, "-Xshare:dump", f"-XX:SharedClassListFile={classlist}", f"-XX:SharedArchiveFile={tmp}",
           "-cp", os.pathsep.join(str(p) for p in classpath)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"java -Xshare:dump failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-1500:]}")
    _install(tmp, target, classpath)
    return target


def _listing(spec: ServiceSpec, classlist: Path) -> ServiceSpec:
    """The service as it is, but its JVM writes the classes it loads to `classlist`."""
    def command() -> list[str]:
        java, *rest = spec.command()
        return [java, f"-XX:DumpLoadedClassList={classlist}", *rest]
    return dataclasses.replace(spec, command=command)


def _train(make_specs: Callable[[Config], list[ServiceSpec]], classpath: list[Path], inst: Installation,
           say: Callable[[str], None]) -> Path:
    """Throwaway services, started, readied and stopped by the supervisor like any other, each writing
    the classes it loads; then one archive of all of them. A failed start raises StartError."""
    from ecomdesk.config import Config, Ports
    from ecomdesk.core.supervisor import Supervisor
    from ecomdesk.paths import Paths

    with tempfile.TemporaryDirectory(prefix="ecomdesk-cds-") as tmp:
        home = Path(tmp)
        singles = ("kafka", "kafka_controller", "namenode_rpc", "namenode_http", "datanode", "datanode_http",
                   "datanode_ipc")  # one node of each: the cluster's block is not used
        config = Config(paths=Paths(home / "config", home / "data", home / "logs", home / "run").ensure(),
                        ports=Ports(**dict(zip(singles, _free_ports(len(singles)), strict=True))))
        specs = make_specs(config)
        lists = {s.name: home / f"{s.name}.classlist" for s in specs}
        say(f"  training: one start of {', '.join(lists)}, loading their classes")
        sup = Supervisor([_listing(s, lists[s.name]) for s in specs], config.paths.log_dir, config.paths.run_dir)
        try:
            sup.start(list(lists))
        finally:
            sup.close()
        union = home / "all.classlist"
        lines = (line for f in lists.values() for line in f.read_text().splitlines(True))
        union.write_text("".join(dict.fromkeys(lines)))  # each class once, in the order first loaded
        say("  writing the archive (java -Xshare:dump)")
        return _dump(inst, classpath, union)


def train_kafka(inst: Installation, say: Callable[[str], None]) -> Path:
    """One broker start (its topics created)."""
    from ecomdesk.stack import kafka

    return _train(lambda config: [kafka.kafka_spec(config)], inst.kafka_classpath, inst, say)


def train_hdfs(inst: Installation, say: Callable[[str], None]) -> Path:
    """One NameNode start (its format included) and one DataNode's, until it has registered."""
    from ecomdesk.stack import hdfs

    return _train(lambda config: [hdfs.namenode_spec(config), hdfs.datanode_spec(config)], inst.hadoop_classpath,
                  inst, say)


def spark_driver_flags(inst: Installation) -> list[str]:
    """The driver JVM's option that maps its archive, when setup made one (client mode only: a driver
    elsewhere has another class path)."""
    return share_flags(inst, pyspark_jars())  # the jars spark-submit puts on its class path


def train_spark(inst: Installation, say: Callable[[str], None]) -> Path:
    """One spark-submit of the training run (a local master, a local directory), whose driver writes
    the archive at its exit; in place only when whole."""
    target = archive_path(inst, pyspark_jars())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tempfile.TemporaryDirectory(prefix="ecomdesk-cds-") as out:
        cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory", "768m",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.session.timeZone=UTC",
               "--conf", f"spark.driver.extraJavaOptions=-XX:ArchiveClassesAtExit={tmp}",
               str(job_entry("train_classes.py")), "--base", Path(out).as_uri()]
        say("  training: a few batches of the job's work on generated records")
        proc = subprocess.run(cmd, env={**os.environ, **spark_env(inst)}, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"the Spark training run failed (exit {proc.returncode}):\n{proc.stderr[-1500:]}")
    _install(tmp, target, pyspark_jars())
    return target
