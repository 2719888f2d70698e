"""A managed service described as data; the supervisor knows nothing service-specific."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str


ProbeFn = Callable[[], Probe]


class State(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    FAILED = "failed"
    STOPPING = "stopping"


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the supervisor needs to run one service.

    `command` and `env` are called at start time so they see the current config and files.
    `prepare` runs before every start and must be idempotent (it formats storage once).
    `telemetry` turns one stdout line into a dict (or None for an ordinary log line).
    """

    name: str
    title: str
    command: Callable[[], list[str]]
    ready: ProbeFn
    health: ProbeFn | None = None
    env: Callable[[], dict[str, str]] = dict
    ports: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    data_dir: Path | None = None
    depends_on: tuple[str, ...] = ()
    prepare: Callable[[], None] | None = None
    stop_timeout: float = 20.0
    ready_timeout: float = 180.0
    telemetry: Callable[[str], dict | None] | None = None
    accepts_control: bool = False

    @property
    def endpoints(self) -> dict[str, str]:
        return {name: f"{self.host}:{port}" for name, port in self.ports.items()}


def dependency_order(specs: dict[str, ServiceSpec], names: list[str] | None = None) -> list[str]:
    """Names plus everything they depend on, dependencies first."""
    wanted = list(specs) if not names else names
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name not in specs:
            raise KeyError(f"unknown service {name!r}; known: {', '.join(specs)}")
        if name in visiting:
            raise ValueError(f"dependency cycle through {name!r}")
        visiting.add(name)
        for dep in specs[name].depends_on:
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for n in wanted:
        visit(n)
    return order


def dependents_order(specs: dict[str, ServiceSpec], names: list[str]) -> list[str]:
    """Names plus everything that depends on them, dependents first (the order to stop in)."""
    full = dependency_order(specs)
    chosen = set(names)
    for name in full:
        if any(dep in chosen for dep in specs[name].depends_on):
            chosen.add(name)
    return [n for n in reversed(full) if n in chosen]
