"""`ecomdesk stack destroy`: what a home's managed stack stores, and removing it to start over.

Everything the managed services write lives under the config's service data dir: Kafka's log dirs
(every topic's messages), HDFS's NameNode and DataNode dirs (raw events, aggregates, the job's
checkpoint), and anything else kept there (producer ledgers). Config and logs stay. Data on
external clusters is not the home's and is never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.stack.hdfs import hdfs_root
from ecomdesk.stack.kafka import kafka_root


@dataclass(frozen=True)
class Doomed:
    what: str
    path: Path
    bytes: int


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def plan(config: Config) -> list[Doomed]:
    """What `destroy` removes, in the order it removes it (nothing that does not exist)."""
    known = {
        kafka_root(config): "Kafka log dirs: every topic and its messages",
        hdfs_root(config): f"HDFS data: raw events, aggregates and the job's checkpoint under {config.hdfs.base_path}",
    }
    root = config.service_data_dir
    others = sorted(p for p in root.iterdir() if p not in known) if root.is_dir() else []
    doomed = [Doomed(what, path, _size(path)) for path, what in known.items() if path.exists()]
    doomed += [Doomed("other data of this home (e.g. producer ledgers)", p, _size(p)) for p in others]
    return doomed


def destroy(config: Config) -> list[Doomed]:
    """Remove everything `plan` lists; the caller has made sure nothing runs."""
    doomed = plan(config)
    for d in doomed:
        if d.path.is_dir() and not d.path.is_symlink():
            shutil.rmtree(d.path)
        else:
            d.path.unlink()
    return doomed


def stop_and_destroy(supervisor, config: Config) -> list[Doomed]:
    """The GUI's Destroy: its supervisor owns the stack, so it stops everything itself first."""
    supervisor.stop(None)
    return destroy(config)


def describe(doomed: list[Doomed]) -> str:
    if not doomed:
        return "nothing to remove: this home holds no stack data"
    return "\n".join(f"  {d.path}  ({d.bytes / 2**20:.1f} MiB) — {d.what}" for d in doomed)
