"""A managed Spark standalone cluster on 127.0.0.1 (`[spark] workers = N` >= 1): spark-master and
spark-worker-1..N, run from the installed pyspark's spark-class; the job is submitted to that master.

SPARK_LOCAL_IP keeps every daemon, web UI and executor on loopback. Readiness comes from the master's
JSON endpoint (its web UI port + /json): the master is ALIVE; a worker is listed ALIVE on its own port.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.install_layout import installation, spark_home
from ecomdesk.stack.install import cds

MASTER_MAIN = "org.apache.spark.deploy.master.Master"
WORKER_MAIN = "org.apache.spark.deploy.worker.Worker"


def spark_root(config: Config) -> Path:
    return config.service_data_dir / "spark"


def master_json(config: Config) -> dict:
    """The master's state: status, workers (id, host, port, state, cores, coresused, memory, ...), apps."""
    url = f"http://127.0.0.1:{config.ports.spark_master()[1]}/json/"
    with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 (fixed local address)
        return json.load(resp)


def daemon_env(config: Config) -> dict[str, str]:
    """spark-class's settings; the daemons run on the driver's class path, so they map its class-data
    archive (the classes they share with it, Scala's, Netty's and Spark's core, load from there)."""
    inst = installation()
    return {"JAVA_HOME": str(inst.java_home), "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": config.memory.spark_daemon, "SPARK_NO_DAEMONIZE": "1",
            "SPARK_LOG_DIR": str(spark_root(config) / "logs"),
            "SPARK_DAEMON_JAVA_OPTS": " ".join(cds.spark_driver_flags(inst))}


def master_probe(config: Config) -> Probe:
    state = master_json(config)
    alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
    return Probe(state.get("status") == "ALIVE",
                 f"master {state.get('status', '?')}, {len(alive)} worker(s) alive, "
                 f"{len(state.get('activeapps', []))} application(s)")


def worker_probe(config: Config, worker: int) -> Probe:
    port = config.ports.spark_worker(worker)[0]
    listed = [w for w in master_json(config).get("workers", []) if w.get("port") == port]
    alive = [w for w in listed if w.get("state") == "ALIVE"]
    if not alive:
        return Probe(False, f"not ALIVE at the master ({', '.join(w.get('state', '?') for w in listed) or 'unknown'})")
    w = alive[0]
    return Probe(True, f"ALIVE: {w.get('coresused', 0)}/{w.get('cores')} core(s), "
                       f"{w.get('memoryused', 0)}/{w.get('memory')} MiB in use")


def _spark_class(*args: str) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), *args]


def master_spec(config: Config) -> ServiceSpec:
    rpc, web = config.ports.spark_master()
    return ServiceSpec(
        name=names.SPARK_MASTER,
        title="Spark master",
        command=lambda: _spark_class(MASTER_MAIN, "--host", "127.0.0.1", "--port", str(rpc),
                                     "--webui-port", str(web)),
        ready=lambda: master_probe(config),
        env=lambda: daemon_env(config),
        ports={"master": rpc, "http": web},
        data_dir=spark_root(config),
        stop_timeout=20,
    )


def worker_spec(config: Config, worker: int) -> ServiceSpec:
    rpc, web = config.ports.spark_worker(worker)
    work = spark_root(config) / f"worker-{worker}"
    master = f"spark://127.0.0.1:{config.ports.spark_master()[0]}"
    return ServiceSpec(
        name=names.member(names.SPARK_WORKER, worker),
        title=f"Spark worker {worker}",
        command=lambda: _spark_class(WORKER_MAIN, "--host", "127.0.0.1", "--port", str(rpc), "--webui-port",
                                     str(web), "--cores", str(config.spark.worker_cores), "--memory",
                                     config.memory.spark_executor, "--work-dir", str(work), master),
        ready=lambda: worker_probe(config, worker),
        env=lambda: daemon_env(config),
        ports={"worker": rpc, "http": web},
        data_dir=work,
        depends_on=(names.SPARK_MASTER,),
        stop_timeout=20,
    )


def spark_cluster_specs(config: Config) -> list[ServiceSpec]:
    if not config.spark.workers:
        return []
    return [master_spec(config), *(worker_spec(config, w) for w in range(1, config.spark.workers + 1))]
