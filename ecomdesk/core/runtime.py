"""The supervisor's bookkeeping for one service, and the ways a start can end that only the supervisor and its
restart policy tell apart."""

from __future__ import annotations

from ecomdesk.core.process import ServiceProcess
from ecomdesk.core.restart import RestartBudget
from ecomdesk.core.sampler import TreeSampler
from ecomdesk.core.spec import ServiceSpec, StartError, State


class Cancelled(StartError):
    """A stop request arrived while the service was starting."""


class NotLaunched(StartError):
    """Not launched: another service of the same start failed first."""

    def __init__(self, name: str):
        super().__init__(f"{name}: not started, another service failed to start")


class DependencyDown(StartError):
    """A dependency went down while the service was starting; it restarts with that dependency."""

    def __init__(self, name: str, dependency: str, why: str):
        super().__init__(f"{name}: {dependency} went down while it was starting ({dependency}: {why})",
                         reason=f"waiting for {dependency}")
        self.dependency = dependency


class Runtime:
    """Mutable bookkeeping for one service; guarded by the supervisor's lock."""

    def __init__(self, spec: ServiceSpec):
        self.spec = spec
        self.state = State.STOPPED
        self.message = ""
        self.proc: ServiceProcess | None = None
        self.started_at: float | None = None
        self.exit_code: int | None = None
        self.telemetry: dict = {}
        self.expect_exit = False
        self.wanted = False  # the user asked for it to run and has not stopped it since (its state may be anything)
        self.budget = RestartBudget(spec.restart)
        self.restarts = 0
        self.restart_at: float | None = None  # monotonic time of the next policy restart
        self.down_reason = ""
        self.attempt = ""
        self.health_failures = 0
        self.settling_until: float | None = None  # until then, or its first passed health probe, failures don't count
        self.sampler = TreeSampler()
        self.cpu: float | None = None
        self.rss: int | None = None
