"""The offsets the Spark job has committed, from its checkpoint on HDFS, read over WebHDFS.

The job's Kafka source commits nothing to a consumer group. Its checkpoint is the one record of what
it has durably processed, whoever runs it: `offsets/<n>` holds the end offsets of batch n and
`commits/<n>` appears once batch n is done, so the newest n with a commit is where the job resumes.
Read over HTTP (no libhdfs JVM in `stack status`); a standby NameNode is skipped for the next one.
"""

from __future__ import annotations

import getpass
import json
import os
import urllib.parse

from ecomdesk.data.contract import CHECKPOINT_DIR
from ecomdesk.data.health.http import ReadError, get_json, get_text, url_of


def _user() -> str:
    """Who reads: HADOOP_USER_NAME as Hadoop's clients take it, else the login name (the job's user)."""
    try:
        return os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return "ecomdesk"


def _webhdfs(address: str, path: str, op: str) -> str:
    query = urllib.parse.urlencode({"op": op, "user.name": _user()})
    return url_of(address, f"/webhdfs/v1{urllib.parse.quote(path)}?{query}")


def _newest_batch(address: str, path: str, timeout: float) -> int | None:
    try:
        listing = get_json(_webhdfs(address, path, "LISTSTATUS"), timeout)
    except ReadError as exc:
        if "FileNotFoundException" in str(exc):
            return None  # no batch committed yet (or another base path)
        raise
    names = [s.get("pathSuffix", "") for s in listing.get("FileStatuses", {}).get("FileStatus", [])]
    batches = [int(n) for n in names if n.isdigit()]
    return max(batches) if batches else None


def parse_offsets(text: str) -> dict[str, dict[int, int]]:
    """An offsets file: 'v1', the batch's metadata, then one line of {topic: {partition: offset}} per source."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("v"):
        raise ReadError(f"not a Spark offsets file: {text[:40]!r}")
    found: dict[str, dict[int, int]] = {}
    for line in lines[2:]:
        if not line.startswith("{"):
            continue  # "-": a source with nothing yet
        try:
            for topic, parts in json.loads(line).items():
                found.setdefault(topic, {}).update({int(p): int(o) for p, o in parts.items()})
        except (ValueError, AttributeError, TypeError):
            raise ReadError(f"unreadable source offsets in the checkpoint: {line[:80]!r}") from None
    return found


def committed_offsets(namenodes: list[str], base_path: str, timeout: float) -> tuple[int, dict] | None:
    """(batch, {topic: {partition: next offset}}) of the newest committed batch, None before the first;
    ReadError when no NameNode answers."""
    root = f"{base_path.rstrip('/')}/{CHECKPOINT_DIR}"
    errors = []
    for address in namenodes:
        try:
            batch = _newest_batch(address, f"{root}/commits", timeout)
            if batch is None:
                return None
            return batch, parse_offsets(get_text(_webhdfs(address, f"{root}/offsets/{batch}", "OPEN"), timeout))
        except ReadError as exc:
            errors.append(str(exc))
    raise ReadError("; ".join(errors) or "no NameNode configured")
