"""Class-data sharing archives for the managed JVMs: a broker starts on about 0.62x the CPU with one,
a Spark driver on about 0.66x.

An archive holds the classes one JVM loaded, parsed and verified, mapped read-only by the next JVM of
the same JDK and class path instead of being loaded again (docs/BENCHMARKS.md, "Second session").
`ecomdesk setup` makes two:
- Kafka's: a training start of a throwaway broker writes the classes it loads
  (`-XX:DumpLoadedClassList`), then `java -Xshare:dump` writes the archive;
- the Spark driver's: a few batches of the streaming job's own work on generated records
  (jobs/train_classes.py), whose driver writes the classes it loaded at its exit
  (`-XX:ArchiveClassesAtExit`: the class path is the one spark-submit builds).
They live in the cache, keyed by the JDK and the class path, so a bundle never carries one made for
another JDK; a JVM whose archive is missing (or does not fit) runs as before.
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

from ecomdesk.paths import cache_root, job_entry
from ecomdesk.stack.install.layout import Installation, pyspark_home, pyspark_jars, spark_env


def archive_path(inst: Installation, classpath: list[Path]) -> Path:
    """Where the archive for this JDK and class path is (or would be)."""
    release = inst.java_home / "release"
    jdk = release.read_text() if release.exists() else str(Path(inst.java).resolve())
    key = hashlib.sha256("\n".join([jdk, os.pathsep.join(str(p) for p in classpath)]).encode()).hexdigest()[:16]
    return cache_root() / "cds" / f"{key}.jsa"


def share_flags(inst: Installation, classpath: list[Path]) -> list[str]:
    """The JVM option that maps the archive, when setup made one for this JDK and class path."""
    path = archive_path(inst, classpath)
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
    tmp.replace(target)
    return target


def train_kafka(inst: Installation, say: Callable[[str], None]) -> Path:
    """One throwaway broker, started, readied (its topics created) and stopped by the supervisor like
    any other, writing the classes it loads; then the archive of them. A failed start raises StartError."""
    from ecomdesk.config import Config, Ports
    from ecomdesk.core.supervisor import Supervisor
    from ecomdesk.paths import Paths
    from ecomdesk.stack import kafka

    with tempfile.TemporaryDirectory(prefix="ecomdesk-cds-") as tmp:
        home = Path(tmp)
        port, controller = _free_ports(2)
        config = Config(paths=Paths(home / "config", home / "data", home / "logs", home / "run").ensure(),
                        ports=Ports(kafka=port, kafka_controller=controller))
        classlist = home / "kafka.classlist"

        def listing() -> list[str]:
            java, *rest = kafka.broker_command(config)
            return [java, f"-XX:DumpLoadedClassList={classlist}", *rest]

        say("  training: one broker start, loading its classes")
        sup = Supervisor([dataclasses.replace(kafka.kafka_spec(config), command=listing)], config.paths.log_dir,
                         config.paths.run_dir)
        try:
            sup.start(["kafka"])
        finally:
            sup.close()
        say("  writing the archive (java -Xshare:dump)")
        return _dump(inst, inst.kafka_classpath, classlist)


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
        cmd = [str(pyspark_home() / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory", "768m",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.session.timeZone=UTC",
               "--conf", f"spark.driver.extraJavaOptions=-XX:ArchiveClassesAtExit={tmp}",
               str(job_entry("train_classes.py")), "--base", Path(out).as_uri()]
        say("  training: a few batches of the job's work on generated records")
        proc = subprocess.run(cmd, env={**os.environ, **spark_env(inst)}, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"the Spark training run failed (exit {proc.returncode}):\n{proc.stderr[-1500:]}")
    tmp.replace(target)
    return target
