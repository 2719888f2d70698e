"""Cluster health of Kafka, HDFS and Spark, read the same way for managed and external clusters.

`read_cluster` asks the three systems at once, each with a short timeout, and always returns a state
per system (see model.py). A managed system whose services are all stopped is not asked at all: its
state is `stopped`. Qt-free: `stack status` and the window's Cluster tab both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import STARTABLE
from ecomdesk.data.health import model as m
from ecomdesk.data.health.hdfs import read_hdfs
from ecomdesk.data.health.kafka import read_kafka
from ecomdesk.data.health.spark import read_spark

READERS = {"kafka": read_kafka, "hdfs": read_hdfs, "spark": read_spark}
# the managed services a system's endpoints belong to: a name, or a name plus "-N" (kafka-1, kafka-2, ...)
MANAGED = {"kafka": names.KAFKA, "hdfs": names.NAMENODE, "spark": names.SPARK_MASTER}


def stopped_systems(states: Mapping[str, str]) -> dict[str, str]:
    """{system: why} for the managed systems whose services (by name, in `states`) are all at rest
    (an external system has no managed services in the catalog, so it is always asked)."""
    stopped = {}
    for system, service in MANAGED.items():
        mine = {n: s for n, s in states.items() if names.is_member(n, service)}
        if mine and all(s in STARTABLE for s in mine.values()):
            members, at_rest = ", ".join(sorted(mine)), "/".join(sorted(set(mine.values())))
            stopped[system] = f"managed {members} {at_rest}: health shows once it runs"
    return stopped


def _read(system: str, config: Config, timeout: float) -> m.SystemHealth:
    try:
        return READERS[system](config, timeout)
    except Exception as exc:  # an answer we cannot interpret is a state too, never a crash of the caller
        return m.SystemHealth(system, m.UNREADABLE, f"unexpected answer: {type(exc).__name__}: {exc}")


def read_cluster(config: Config, states: Mapping[str, str] | None = None, timeout: float = 3.0) -> m.ClusterHealth:
    """The health of the three systems; `states` (service -> state) lets stopped managed ones be skipped."""
    skip = stopped_systems(states or {})
    with ThreadPoolExecutor(len(READERS), thread_name_prefix="ecomdesk-health") as pool:
        futures = {s: pool.submit(_read, s, config, timeout) for s in READERS if s not in skip}
        found = {s: f.result() for s, f in futures.items()}
    found |= {s: m.SystemHealth(s, m.STOPPED, why) for s, why in skip.items()}
    return m.ClusterHealth(found["kafka"], found["hdfs"], found["spark"])


def format_text(health: m.ClusterHealth) -> str:
    """The compact section of `stack status`: a line per system, then its problems."""
    lines = ["CLUSTER HEALTH"]
    for h in health.all():
        lines.append(f"{h.system:<6} {h.state.upper():<11} {h.summary}")
        lines += [f"{'':<6} ! {p}" for p in h.problems]
    return "\n".join(lines)
