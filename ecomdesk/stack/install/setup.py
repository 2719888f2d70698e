"""`ecomdesk setup`: resolve Kafka, Hadoop HDFS and Spark's Kafka connector with Maven, build libhdfs.

Everything lands in a versioned cache directory outside the repo; each finished part leaves a
marker, so a second run only checks markers and returns in well under a second or two.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ecomdesk.core.process import killpg
from ecomdesk.install_layout import (
    COMPONENTS,
    DONE,
    Installation,
    NotInstalled,
    installation,
    installed_at,
    is_complete,
    pom_digest,
    pyspark_jars,
)
from ecomdesk.paths import resource
from ecomdesk.stack.install import cds, libhdfs, prereqs, spark_home
from ecomdesk.versions import stack_versions

Say = Callable[[str], None]


class SetupError(RuntimeError):
    pass


class SetupCancelled(SetupError):
    """The user cancelled; what was finished stays, the part in progress is removed."""

    def __init__(self) -> None:
        super().__init__("setup cancelled; run it again to continue (finished parts are kept)")


def _check_pyspark(hadoop_version: str, spark_version: str) -> None:
    import pyspark

    if pyspark.__version__ != spark_version:
        raise SetupError(f"pyspark {pyspark.__version__} is installed but the pom pins Spark {spark_version}; "
                         f"install pyspark=={spark_version}")
    if not any(j.name == f"hadoop-client-api-{hadoop_version}.jar" for j in pyspark_jars()):
        raise SetupError(f"the pyspark wheel does not carry hadoop-client {hadoop_version}; "
                         "set hadoop.version in resources/jvm/pom.xml to the wheel's")


def _run_with_progress(cmd: list[str], label: str, say: Say, log: Path, cancel: threading.Event) -> None:
    """Run a long command, logging its output and printing a progress line every few seconds;
    `cancel` ends its whole process group (Maven is a script that starts a JVM)."""
    start = time.monotonic()
    downloaded = 0
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        stop = threading.Event()

        def ticker() -> None:
            last = time.monotonic()
            while not stop.wait(0.2):
                if cancel.is_set():
                    killpg(proc.pid, signal.SIGKILL)
                    return
                if time.monotonic() - last >= 3.0:
                    last = time.monotonic()
                    say(f"  {label}: {downloaded} files downloaded, {last - start:.0f} s")

        t = threading.Thread(target=ticker, daemon=True)
        t.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if "Downloaded from" in line:
                downloaded += 1
        proc.wait()
        stop.set()
    if cancel.is_set():
        raise SetupCancelled()
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise SetupError(f"{label} failed (exit {proc.returncode}); see {log}:\n{tail}")
    say(f"  {label}: done in {time.monotonic() - start:.1f} s ({downloaded} files downloaded)")


def _resolve(component: str, inst: Installation, say: Say, cancel: threading.Event) -> None:
    target = inst.root / component
    if is_complete(target):
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{component}-", dir=inst.root))
    cmd = ["mvn", "-B", "-f", str(resource("jvm", "pom.xml")), "-P", component,
           "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
    try:
        _run_with_progress(cmd, f"resolving {component}", say, inst.root / f"mvn-{component}.log", cancel)
    except SetupError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / DONE).write_text(pom_digest() + "\n")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def _archives(inst: Installation) -> list[tuple[str, Callable[[Installation, Say], Path], Callable[[], bool]]]:
    """The class-data archives setup makes: what for, how, and whether it is there already (asked once
    the jars are)."""
    return [("Kafka (its brokers start on ~0.62x the CPU)", cds.train_kafka,
             lambda: bool(cds.share_flags(inst, inst.kafka_classpath))),
            ("HDFS (its NameNode and DataNodes start on ~0.6x the CPU)", cds.train_hdfs,
             lambda: bool(cds.share_flags(inst, inst.hadoop_classpath))),
            ("the Spark driver (it starts on ~0.63x the CPU)", cds.train_spark,
             lambda: bool(cds.spark_driver_flags(inst)))]


def run(say: Say = print, cancel: threading.Event | None = None, with_archives: bool = True) -> Installation:
    """Install what is missing; `cancel` (set from another thread) stops it between and within steps.
    Without archives, the JVMs start as they would without class-data sharing (more CPU, less disk)."""
    cancel = cancel or threading.Event()
    t0 = time.monotonic()
    versions = stack_versions()
    try:
        inst = installation()
    except NotInstalled as exc:  # no Java: said with the command that installs it
        raise SetupError(f"setup cannot continue:\n  {exc}") from exc
    inst.root.mkdir(parents=True, exist_ok=True)
    missing_parts = [c for c in COMPONENTS if not is_complete(inst.root / c)]
    need_libhdfs = libhdfs.existing(inst) is None
    problems = prereqs.check(need_maven=bool(missing_parts), need_gcc=need_libhdfs)
    if problems:
        raise SetupError("setup cannot continue:\n  " + "\n  ".join(problems))
    _check_pyspark(versions["hadoop"], versions["spark"])
    if (linked := spark_home.link()) is not None:  # before the archives: the driver's is keyed by its path
        say(f"Spark's home linked into {linked}")
    for gone in cds.prune():
        say(f"removed the class-data archive {gone.name}: its class path is gone")
    archives = [(title, train) for title, train, made in _archives(inst)
                if with_archives and (missing_parts or not made())]
    if not missing_parts and not need_libhdfs and not archives:
        say(f"stack already installed in {inst.root} (Kafka {versions['kafka']}, Hadoop {versions['hadoop']}, "
            f"Spark {versions['spark']}); nothing to do ({time.monotonic() - t0:.1f} s)")
        return inst
    say(f"installing into {inst.root}")
    steps = len(missing_parts) + need_libhdfs + len(archives)
    for i, component in enumerate(missing_parts, 1):
        say(f"[{i}/{steps}] {component} (Maven)")
        _resolve(component, inst, say, cancel)
    if need_libhdfs:
        if cancel.is_set():
            raise SetupCancelled()
        say(f"[{len(missing_parts) + 1}/{steps}] libhdfs.so")
        libhdfs.install(inst, say)
    for i, (title, train) in enumerate(archives, steps - len(archives) + 1):
        if cancel.is_set():
            raise SetupCancelled()
        say(f"[{i}/{steps}] class-data archive for {title}")
        t = time.monotonic()
        try:
            path = train(inst, say)
            say(f"  {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.monotonic() - t:.1f} s")
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # an optimisation: the stack runs without
            say(f"  skipped, it starts without one: {exc}")
    say(f"setup finished in {time.monotonic() - t0:.1f} s")
    return inst


class Installer:
    """What the window drives: whether the stack is installed, and installing it (with progress and cancel)."""

    def installed(self) -> bool:
        try:
            return installed_at() is not None and libhdfs.existing(installation()) is not None
        except NotInstalled:
            return False

    def run(self, say: Say, cancel: threading.Event) -> None:
        run(say, cancel)


def main(with_archives: bool = True) -> int:
    """Progress on stderr: a command's stdout is its data."""
    try:
        run(say=lambda line: print(line, file=sys.stderr, flush=True), with_archives=with_archives)
    except SetupError as exc:
        print(f"ecomdesk setup: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
