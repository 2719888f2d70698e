"""Helpers for tests that run real services: isolated homes on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from ecomdesk.config import Config
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.stack.catalog import build_specs


def supervisor_for(config: Config) -> Supervisor:
    return Supervisor(build_specs(config), config.paths.log_dir, config.paths.run_dir)


def cli(home: Path, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ECOMDESK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "ecomdesk", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def listening(port: int) -> bool:
    with closing(socket.socket()) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0
