"""Port checks done before anything starts, so a taken port never half-starts the stack."""

from __future__ import annotations

import socket

import psutil


def port_holder(port: int) -> str | None:
    """Describe the process listening on `port`, when the OS lets us see it."""
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, PermissionError):
        return None
    for c in conns:
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid:
            try:
                p = psutil.Process(c.pid)
                return f"pid {c.pid} ({' '.join(p.cmdline()[:3]) or p.name()})"
            except psutil.Error:
                return f"pid {c.pid}"
    return None


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    # Also refuse when something listens on the wildcard address or accepts on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) != 0


def busy_ports(host: str, ports: dict[str, int]) -> list[str]:
    """Messages for every port in `ports` that is already taken."""
    problems = []
    for name, port in ports.items():
        if not port_free(host, port):
            holder = port_holder(port)
            held = f", held by {holder}" if holder else ""
            problems.append(f"port {port} ({name}) on {host} is already in use{held}")
    return problems
