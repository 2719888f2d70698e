"""Helpers for tests that run real services: isolated homes on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.core.status import read_state
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.install_layout import spark_home
from ecomdesk.stack.door import build_supervisor
from ecomdesk.stack.spark_job import job_env
from ecomdesk.testing.sandbox import free_ports


def supervisor_for(config: Config) -> Supervisor:
    return build_supervisor(config)


def cli(home: Path, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ECOMDESK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "ecomdesk", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def wait_running(home: Path, names, owner: subprocess.Popen, timeout: float = 300) -> None:
    """Until the state the stack's owner publishes in the home (run/state.json, what `stack status` reads)
    shows every one of `names` running. Cheap to poll: a `stack status` process per poll cost a Python
    start and a health read each time, which a loaded machine pays for every second of the wait."""
    deadline = time.monotonic() + timeout
    while True:
        assert owner.poll() is None, f"the stack's owner exited with {owner.returncode}"
        states = {s["name"]: s["state"] for s in read_state(home / "run").get("services", [])}
        if all(states.get(n) == "running" for n in names):
            return
        assert time.monotonic() < deadline, f"not running after {timeout:.0f} s: {states}"
        time.sleep(0.5)


def listening(port: int) -> bool:
    with closing(socket.socket()) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


class StandaloneCluster:
    """A Spark standalone master and one worker (the installed pyspark's), on loopback free ports."""

    def __init__(self, work: Path, cores: int = 2, memory: str = "1536m"):
        master_port, master_ui, worker_ui = free_ports(3)
        self.url = f"spark://127.0.0.1:{master_port}"
        self.web = f"127.0.0.1:{master_ui}"
        # no REST submission server: it would take the fixed port 6066, shared by every master on the machine
        env = {**os.environ, **job_env(), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}
        spark_class = str(spark_home() / "bin" / "spark-class")
        self.procs = [subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
             str(master_port), "--webui-port", str(master_ui)],
            env=env, stdout=open(work / "master.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)]
        self.procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(cores),
             "--memory", memory, "--webui-port", str(worker_ui), "--work-dir", str(work / "worker"), self.url],
            env=env, stdout=open(work / "worker.log", "w"), stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.time() + 90
        while "Successfully registered with master" not in (work / "worker.log").read_text():
            assert time.time() < deadline, "the Spark worker did not register with its master"
            assert all(p.poll() is None for p in self.procs), "a Spark standalone daemon exited"
            time.sleep(0.5)

    @property
    def worker(self) -> subprocess.Popen:
        return self.procs[1]

    def close(self) -> None:
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(30)
