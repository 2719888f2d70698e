"""Where a job's Python driver logs under spark-submit.

spark-submit starts a Python driver with its stderr merged into its stdout (Spark's PythonRunner), and a
job's stdout is its data (the streaming job's telemetry, the rebuild's result line), so what the driver
writes to its stderr would be read as data and dropped. Its logs go to the stderr of the JVM that
started it instead, where Spark's own log goes.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO


def stderr() -> TextIO:
    """The launching JVM's stderr, appended to (this process's own where there is none to open)."""
    try:
        return open(f"/proc/{os.getppid()}/fd/2", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    except OSError:
        return sys.stderr


def configure(level: int = logging.INFO) -> TextIO:
    """Log to `stderr()`; returns that stream for the driver's own messages."""
    stream = stderr()
    logging.basicConfig(level=level, stream=stream, format="%(asctime)s %(levelname)s %(message)s")
    return stream
