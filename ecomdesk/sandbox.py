"""Throwaway homes on free ports, for tests and benchmarks that run a real stack beside others."""

from __future__ import annotations

import socket
from pathlib import Path

from ecomdesk.config import Config, Ports
from ecomdesk.paths import Paths


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago (held together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def isolated_config(home: Path) -> Config:
    """A config for a fresh home on free ports, saved so CLI subprocesses see the same one."""
    paths = Paths(home / "config", home / "data", home / "logs", home / "run").ensure()
    config = Config(paths=paths, ports=Ports(*free_ports(7)))
    config.save()
    return config
