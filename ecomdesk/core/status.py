"""What the owner publishes about its services: one record per service, in run/state.json,
which `ecomdesk stack status` reads from other terminals."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "state.json"


@dataclass
class ServiceStatus:
    name: str
    title: str
    state: str
    pid: int | None = None
    uptime: float | None = None
    cpu_percent: float | None = None
    rss: int | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    message: str = ""
    exit_code: int | None = None
    last_lines: list[str] = field(default_factory=list)
    telemetry: dict = field(default_factory=dict)
    restarts: int = 0  # by the restart policy since the user last started it
    # active alerts about this service, {"key", "message", "started"} each (see Supervisor's `annotate`)
    alerts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def publish(run_dir: Path, statuses: list[ServiceStatus]) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    data = {"owner": os.getpid(), "updated": time.time(), "services": [s.to_dict() for s in statuses]}
    tmp = run_dir / f".state.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps(data))
    tmp.replace(run_dir / STATE_FILE)


def read_state(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
