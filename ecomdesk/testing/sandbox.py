"""Throwaway homes on free ports, for tests and benchmarks that run a real stack beside others."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

from ecomdesk.config import CLUSTER_BLOCK, Config, Ports
from ecomdesk.paths import Paths

LOWEST_PORT = 10000
# "i/n": this process draws from the i-th of n equal slices of the range only. Processes that set up
# stacks at the same moment (test workers) each see the other's chosen ports free until its services
# bind them, and a broker that then loses its port exits; disjoint slices make that impossible.
SLICE_ENV = "ECOMDESK_PORT_SLICE"


def _ephemeral_start() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_range() -> range:
    """Where this process draws ports: below the ephemeral range, within its slice when it has one."""
    low, top = LOWEST_PORT, _ephemeral_start()
    slice_ = os.environ.get(SLICE_ENV)
    if not slice_:
        return range(low, top)
    i, n = (int(x) for x in slice_.split("/"))
    if not 0 <= i < n:
        raise ValueError(f"{SLICE_ENV}={slice_!r}: want i/n with 0 <= i < n")
    width = (top - low) // n
    return range(low + i * width, low + (i + 1) * width)


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago (held together so they differ).

    They are drawn below the kernel's ephemeral range: a port the kernel hands out (port 0) can be
    taken again by any outgoing connection (a Kafka client's, say) before the service binds it.
    """
    socks: list[socket.socket] = []
    ports = port_range()
    try:
        while len(socks) < n:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", random.choice(ports)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_block(n: int) -> int:
    """The first of n consecutive loopback ports that were all free a moment ago (in `port_range`)."""
    ports = port_range()
    while True:
        first = random.randrange(ports.start, ports.stop - n)
        socks: list[socket.socket] = []
        try:
            for port in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()


def isolated_config(home: Path) -> Config:
    """A config for a fresh home on free ports (and a free block for cluster members), saved so CLI
    subprocesses see the same one."""
    paths = Paths(home / "config", home / "data", home / "logs", home / "run").ensure()
    while True:
        cluster = free_block(CLUSTER_BLOCK)
        ports = free_ports(7)
        if not any(cluster <= p < cluster + CLUSTER_BLOCK for p in ports):
            break
    config = Config(paths=paths, ports=Ports(*ports))
    config.ports.cluster = cluster
    config.save()
    return config
