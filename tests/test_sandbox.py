"""Throwaway homes: the ports of two test workers never meet."""

from __future__ import annotations

import pytest

from ecomdesk.config import CLUSTER_BLOCK
from ecomdesk.testing.sandbox import SLICE_ENV, free_block, free_ports, isolated_config, port_range


def _ports_of_a_home(tmp_path) -> set[int]:
    config = isolated_config(tmp_path)
    p = config.ports
    ports = {p.kafka, p.kafka_controller, p.namenode_rpc, p.namenode_http, p.datanode, p.datanode_http,
             p.datanode_ipc}
    return ports | set(range(config.ports.cluster, config.ports.cluster + CLUSTER_BLOCK))


def test_workers_draw_from_disjoint_slices(tmp_path, monkeypatch):
    seen = {}
    for i in range(2):
        monkeypatch.setenv(SLICE_ENV, f"{i}/2")
        seen[i] = port_range()
        for _ in range(20):
            assert all(p in seen[i] for p in free_ports(7))
            first = free_block(CLUSTER_BLOCK)
            assert first in seen[i] and first + CLUSTER_BLOCK - 1 in seen[i]
        assert _ports_of_a_home(tmp_path / str(i)) <= set(seen[i])
    assert not set(seen[0]) & set(seen[1])
    assert len(seen[0]) > 5000 and len(seen[1]) > 5000


def test_a_bad_slice_is_refused(monkeypatch):
    monkeypatch.setenv(SLICE_ENV, "2/2")
    with pytest.raises(ValueError, match="0 <= i < n"):
        free_ports(1)
