"""Pieces shared by the JVM services: the java command line and one-off tool runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ecomdesk.install_layout import Installation
from ecomdesk.stack.install.cds import share_flags


def java_command(inst: Installation, heap: str, classpath: list[Path], main: str, *args: str,
                 props: dict[str, str] | None = None) -> list[str]:
    """The collector is the JVM's own choice (G1 on a machine of 2+ cores and 2 GB, Serial below), so
    that JAVA_TOOL_OPTIONS may choose another without a conflict. The class-data archive that setup
    made for this class path, if any, is mapped (ecomdesk.stack.install.cds)."""
    return [
        inst.java, f"-Xmx{heap}", *share_flags(inst, classpath),
        "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
        *[f"-D{k}={v}" for k, v in (props or {}).items()],
        "-cp", os.pathsep.join(str(p) for p in classpath), main, *args,
    ]


def run_tool(cmd: list[str], what: str, log: Path, timeout: float = 180) -> None:
    """Run a one-off JVM tool (storage format), keeping its output in the service log dir."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed with exit code {proc.returncode}; see {log}:\n"
                           f"{(proc.stdout + proc.stderr)[-1500:]}")
