"""A managed service described as data; the supervisor knows nothing service-specific."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class StartError(RuntimeError):
    """A service could not be started; the message says which and why (with its last log lines,
    where it exited), `reason` the why in one line."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message.splitlines()[0]


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str


ProbeFn = Callable[[], Probe]


class State(StrEnum):
    STOPPED = "stopped"  # by the user, or never started: a state, not an error
    STARTING = "starting"
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"  # went down unexpectedly; the restart policy brings it back
    FAILED = "failed"  # went wrong and nothing will bring it back by itself
    STOPPING = "stopping"


# The groups of states, defined once for the supervisor, the CLI and the GUI.
UP = frozenset({State.RUNNING, State.UNHEALTHY})  # its process serves (or should)
LIVE = frozenset({State.STARTING, State.RUNNING, State.UNHEALTHY, State.STOPPING})  # a process exists
SHOULD_RUN = frozenset({State.STARTING, State.RUNNING, State.UNHEALTHY, State.RESTARTING})  # up, or on its way
STARTABLE = frozenset({State.STOPPED, State.FAILED})  # at rest: nothing runs, nothing will by itself
ACTIVE = frozenset(State) - STARTABLE  # runs, or is on its way up or down
STOPPABLE = SHOULD_RUN
RESTARTABLE = frozenset({State.RUNNING, State.UNHEALTHY, State.RESTARTING, State.FAILED})

# The transitions a service may make (`Supervisor._transition` checks every change against it). Staying in
# a state while its message changes is always allowed. STOPPED or STARTING after RUNNING: a stop or a start
# that finds the process gone before the monitor noticed; RESTARTING after FAILED: a dependency's recovery
# brings back a dependent that gave up.
_UP_TO = frozenset({State.RUNNING, State.UNHEALTHY, State.RESTARTING, State.FAILED, State.STOPPING, State.STOPPED,
                    State.STARTING})
TRANSITIONS: dict[State, frozenset[State]] = {
    State.STOPPED: frozenset({State.STARTING}),
    State.STARTING: frozenset({State.RUNNING, State.FAILED, State.RESTARTING, State.STOPPED}),
    State.RUNNING: _UP_TO,
    State.UNHEALTHY: _UP_TO,
    State.RESTARTING: frozenset({State.STARTING, State.FAILED, State.STOPPING, State.STOPPED}),
    State.FAILED: frozenset({State.STARTING, State.RESTARTING, State.STOPPING}),
    State.STOPPING: frozenset({State.STOPPED}),
}


class TransitionError(AssertionError):
    """A change of state the supervisor's state machine does not allow: a bug in the supervisor."""


@dataclass(frozen=True)
class RestartPolicy:
    """When a service that went down unexpectedly is started again (supervisord's autorestart).

    `on-failure` restarts after an unexpected exit or `health_failures` failed health probes in a
    row, at most `attempts` times per `window` seconds, waiting `backoff` s doubled per attempt up
    to `backoff_max`; `no` leaves the service failed.
    """

    policy: str = "on-failure"
    attempts: int = 5
    window: float = 300.0
    backoff: float = 1.0
    backoff_max: float = 30.0
    health_failures: int = 3

    POLICIES = ("on-failure", "no")

    def __post_init__(self) -> None:
        if self.policy not in self.POLICIES:
            raise ValueError(f"restart policy {self.policy!r}: expected one of {', '.join(self.POLICIES)}")
        if self.attempts < 0 or self.window <= 0 or self.backoff < 0 or self.backoff_max < self.backoff:
            raise ValueError("restart: attempts >= 0, window > 0 and 0 <= backoff <= backoff_max")
        if self.health_failures < 1:
            raise ValueError("restart: health_failures must be at least 1")

    @property
    def enabled(self) -> bool:
        return self.policy == "on-failure" and self.attempts > 0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart attempt number `attempt` (1-based)."""
        return min(self.backoff_max, self.backoff * 2 ** (attempt - 1))


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the supervisor needs to run one service.

    `command` and `env` are called at start time so they see the current config and files.
    `prepare` runs before every start and must be idempotent (it formats storage once).
    `telemetry` turns one stdout line into a dict (or None for an ordinary log line).
    `restart` says what happens when it goes down without being asked to; a service that
    `rides_out_dependency_restarts` (it reconnects by itself) keeps running while the restart policy
    restarts one of its dependencies, instead of being restarted with it.
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
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    rides_out_dependency_restarts: bool = False

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
