"""Shared fixtures. `stack` runs real HDFS + Kafka once per test session in a temp home."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stackutil import isolated_config, supervisor_for  # noqa: E402

from ecomdesk.config import Config  # noqa: E402
from ecomdesk.core.supervisor import Supervisor  # noqa: E402


@dataclass
class Stack:
    config: Config
    supervisor: Supervisor
    home: Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """HDFS (NameNode + DataNode) and Kafka, started once and shared by the session's tests."""
    home = tmp_path_factory.mktemp("stack-home")
    config = isolated_config(home)
    sup = supervisor_for(config)
    try:
        sup.start(["hdfs-namenode", "hdfs-datanode", "kafka"])
        yield Stack(config, sup, home)
    finally:
        sup.close()
