"""Spark's health from the standalone master's JSON endpoint (`/json/`): master status, workers,
cores and memory, running applications. A local[N] master is no cluster, and says so."""

from __future__ import annotations

import time

from ecomdesk.config import Config
from ecomdesk.data.health import model as m
from ecomdesk.data.health.endpoints import spark_master_web
from ecomdesk.data.health.http import ReadError, get_json, url_of


def _int(value) -> int:
    return int(value) if isinstance(value, int | float) else 0


def parse_master(data: dict, masters: list[tuple[str, str]]) -> m.SparkDetail:
    workers = tuple(
        m.Worker(str(w.get("id", "?")), f"{w.get('host', '?')}:{w.get('port', '?')}", str(w.get("webuiaddress", "")),
                 str(w.get("state", "UNKNOWN")), _int(w.get("cores")), _int(w.get("coresused")),
                 _int(w.get("memory")), _int(w.get("memoryused")))
        for w in data.get("workers", []))
    apps = tuple(
        m.Application(str(a.get("id", "?")), str(a.get("name", "")), str(a.get("state", "")), _int(a.get("cores")),
                      _int(a.get("memoryperexecutor", a.get("memoryperslave"))), _int(a.get("duration")) / 1000)
        for a in data.get("activeapps", []))
    return m.SparkDetail(
        url=str(data.get("url", "")), status=str(data.get("status", "?")), masters=tuple(masters),
        alive_workers=_int(data.get("aliveworkers")), cores=_int(data.get("cores")),
        cores_used=_int(data.get("coresused")), memory_mb=_int(data.get("memory")),
        memory_used_mb=_int(data.get("memoryused")), workers=workers, applications=apps)


def problems(d: m.SparkDetail) -> list[str]:
    """The detail's problems in words: no alive master, lost workers, no worker at all."""
    out = []
    if d.status != "ALIVE":
        out.append("no alive master: " + ", ".join(f"{web} {status}" for web, status in d.masters))
    # a restarted worker registers again under a new id; its old entry stays DEAD for a while
    alive_webs = {w.web for w in d.workers if w.state == "ALIVE"}
    lost = [w for w in d.workers if w.state != "ALIVE" and w.web not in alive_webs]
    out += [f"worker {w.address} {w.state}: its executors are gone" for w in lost]
    if d.alive_workers == 0:
        out.append("no alive worker: the job gets no executors")
    return out


def read_spark(config: Config, timeout: float = 3.0) -> m.SystemHealth:
    master = config.spark_master
    webs = spark_master_web(config)
    t0 = time.monotonic()
    if not webs:
        why = ("the job runs inside its driver" if master.startswith("local")
               else "only a standalone master's JSON endpoint is read")
        return m.SystemHealth("spark", m.NO_CLUSTER, f"master {master}: no Spark cluster to watch ({why})",
                              read_at=time.time())
    masters: list[tuple[str, str]] = []
    answers = []
    for web in webs:
        try:
            answers.append(get_json(url_of(web, "/json/"), timeout))
            masters.append((web, str(answers[-1].get("status", "?"))))
        except ReadError as exc:
            masters.append((web, f"unreachable: {exc}"))
    source = ", ".join(webs)
    # with standby masters (HA), the alive one has the workers and applications
    answered = next((a for a in answers if a.get("status") == "ALIVE"), answers[0] if answers else None)
    if answered is None:
        return m.SystemHealth("spark", m.UNREACHABLE, "no master answered: " + "; ".join(s for _, s in masters),
                              source, read_at=time.time(), elapsed=time.monotonic() - t0)
    d = parse_master(answered, masters)
    found = problems(d)
    summary = (f"master {d.url} {d.status}; workers: {d.alive_workers} alive of {len(d.workers)}; cores "
               f"{d.cores_used}/{d.cores} used, memory {d.memory_used_mb}/{d.memory_mb} MiB used; "
               f"{len(d.applications)} running application(s)"
               + "".join(f"; {a.name} ({a.cores} cores)" for a in d.applications))
    return m.SystemHealth("spark", m.DEGRADED if found else m.OK, summary, source, tuple(found), d,
                          time.time(), time.monotonic() - t0)
