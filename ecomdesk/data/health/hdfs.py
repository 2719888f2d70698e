"""HDFS's health from the NameNodes' JMX over HTTP (`/jmx`): DataNodes, capacity, blocks, safe mode, HA.

The figures come from the active NameNode. A DataNode that stopped sending heartbeats stays "live"
for the NameNode until it declares it dead (2 x dfs.namenode.heartbeat.recheck-interval + 10
heartbeats: over 10 minutes by default), so a live one not heard from for STALE_SECONDS is "stale".
"""

from __future__ import annotations

import json
import time

from ecomdesk.config import Config
from ecomdesk.data.health import model as m
from ecomdesk.data.health.endpoints import namenode_http
from ecomdesk.data.health.http import ReadError, get_json, url_of

STALE_SECONDS = 10.0  # more than 3 heartbeats at HDFS's default 3 s interval (the managed one sends every 1 s)
BEANS = "/jmx?qry=Hadoop:service=NameNode,name=*"
_ADMIN_STATES = {"Decommission In Progress": "decommissioning", "Decommissioned": "decommissioned",
                 "In Maintenance": "in maintenance", "Entering Maintenance": "entering maintenance"}


def _beans(address: str, timeout: float) -> dict[str, dict]:
    found = get_json(url_of(address, BEANS), timeout).get("beans", [])
    return {b.get("name", "").rpartition("name=")[2]: b for b in found}


def _nodes(info: dict, key: str) -> dict[str, dict]:
    try:
        nodes = json.loads(info.get(key) or "{}")
    except ValueError:
        return {}
    return nodes if isinstance(nodes, dict) else {}


def _int(value) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def datanodes(info: dict, stale_seconds: float = STALE_SECONDS) -> list[m.DataNode]:
    """NameNodeInfo's LiveNodes and DeadNodes (JSON strings), one row per DataNode.

    The NameNode builds the two lists one after the other, so a node it declares dead (or back) in
    between is in both: it is the dead row unless the live one has heard from it lately (it came back).
    """
    rows: dict[str, m.DataNode] = {}
    for name, n in _nodes(info, "DeadNodes").items():
        state = "decommissioned" if n.get("decommissioned") else "dead"
        address = n.get("xferaddr") or name
        rows[address] = m.DataNode(address, state, n.get("lastContact"), None, None, None)
    for name, n in _nodes(info, "LiveNodes").items():
        contact = n.get("lastContact")
        state = _ADMIN_STATES.get(n.get("adminState", ""), "live")
        fresh = not (isinstance(contact, int | float) and contact >= stale_seconds)
        if state == "live" and not fresh:
            state = "stale"
        address = n.get("xferaddr") or name
        if address in rows and not fresh:
            continue
        rows[address] = m.DataNode(address, state, contact, _int(n.get("capacity")), _int(n.get("used")),
                                   _int(n.get("remaining")))
    return sorted(rows.values(), key=lambda d: d.name)


def _detail(namenodes: list[m.NameNode], beans: dict[str, dict]) -> m.HdfsDetail:
    fs, state, info = (beans.get(k, {}) for k in ("FSNamesystem", "FSNamesystemState", "NameNodeInfo"))
    nodes = datanodes(info)
    safe_mode = info.get("Safemode") or ("on" if state.get("FSState") == "safeMode" else "")
    return m.HdfsDetail(
        namenodes=tuple(namenodes),
        live=sum(d.state in ("live", "stale", "decommissioning", "entering maintenance") for d in nodes),
        stale=sum(d.state == "stale" for d in nodes), dead=sum(d.state == "dead" for d in nodes),
        decommissioning=sum(d.state == "decommissioning" for d in nodes),
        capacity_total=int(state.get("CapacityTotal", 0)), capacity_used=int(state.get("CapacityUsed", 0)),
        capacity_remaining=int(state.get("CapacityRemaining", 0)),
        under_replicated_blocks=int(fs.get("UnderReplicatedBlocks", fs.get("LowRedundancyBlocks", 0))),
        missing_blocks=int(fs.get("MissingBlocks", 0)), corrupt_blocks=int(fs.get("CorruptBlocks", 0)),
        safe_mode=str(safe_mode), datanodes=tuple(nodes))


def problems(d: m.HdfsDetail) -> list[str]:
    """The detail's problems in words, the worst first."""
    out = []
    if not any(n.state == "active" for n in d.namenodes):
        out.append("no active NameNode: " + ", ".join(f"{n.address} {n.state}" for n in d.namenodes))
    out += [f"NameNode {n.address} unreachable: {n.error}" for n in d.namenodes if n.state == "unreachable"]
    if d.live == 0:
        out.append("no live DataNode: nothing can be read or written")
    dead = [n.name for n in d.datanodes if n.state == "dead"]
    if dead:
        out.append(f"{len(dead)} dead DataNode(s): {', '.join(dead)}")
    out += [f"DataNode {n.name} stale: no heartbeat for {n.last_contact:.0f} s" for n in d.datanodes
                 if n.state == "stale" and n.last_contact is not None]
    if d.safe_mode:
        out.append(f"safe mode on: {d.safe_mode[:200]}")
    if d.missing_blocks:
        out.append(f"{d.missing_blocks} missing block(s): files cannot be read whole")
    if d.corrupt_blocks:
        out.append(f"{d.corrupt_blocks} corrupt block(s)")
    if d.under_replicated_blocks:
        out.append(f"{d.under_replicated_blocks} under-replicated block(s)")
    return out


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def read_hdfs(config: Config, timeout: float = 3.0) -> m.SystemHealth:
    addresses = namenode_http(config)
    t0 = time.monotonic()
    namenodes: list[m.NameNode] = []
    active_beans: dict[str, dict] | None = None
    any_beans: dict[str, dict] | None = None
    for address in addresses:
        try:
            beans = _beans(address, timeout)
        except ReadError as exc:
            namenodes.append(m.NameNode(address, "unreachable", str(exc)))
            continue
        ha = beans.get("NameNodeStatus", {}).get("State") or beans.get("FSNamesystem", {}).get("tag.HAState", "?")
        namenodes.append(m.NameNode(address, str(ha)))
        any_beans = any_beans or beans
        if ha == "active" and active_beans is None:
            active_beans = beans
    source = ", ".join(addresses)
    chosen = active_beans or any_beans
    if chosen is None:
        why = "; ".join(n.error for n in namenodes) or "no NameNode HTTP address configured"
        return m.SystemHealth("hdfs", m.UNREACHABLE, f"no NameNode answered: {why}", source,
                              read_at=time.time(), elapsed=time.monotonic() - t0)
    d = _detail(namenodes, chosen)
    found = problems(d)
    summary = (f"DataNodes: {d.live} live ({d.stale} stale), {d.dead} dead, {d.decommissioning} decommissioning; "
               f"{_gib(d.capacity_used)} used of {_gib(d.capacity_total)}, {_gib(d.capacity_remaining)} free; "
               f"blocks: {d.under_replicated_blocks} under-replicated, {d.missing_blocks} missing; "
               f"safe mode {'ON' if d.safe_mode else 'off'}; NameNode "
               + ", ".join(f"{n.address} {n.state}" for n in namenodes))
    return m.SystemHealth("hdfs", m.DEGRADED if found else m.OK, summary, source, tuple(found), d,
                          time.time(), time.monotonic() - t0)
