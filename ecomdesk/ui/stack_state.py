"""What the window says about the stack as a whole, from the supervisor's snapshot; no Qt.

States, not alarms: a data source that does not answer because its service is stopped (by the user,
or never started) or on its way up or down is the expected state of a stopped stack, shown as a calm
empty state that says what to do. It is an alarm (the red banner) only when the service should be up:
it runs, is unhealthy, restarting or failed; or when the source is an external cluster (no managed
service), which should always answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ecomdesk import service_names as names
from ecomdesk.core.spec import ACTIVE, UP, State

# the managed service each data source of the reader talks to (a managed Kafka cluster: its first node)
SOURCE_SERVICE = {"hdfs": (names.NAMENODE,), "kafka": (names.KAFKA, names.member(names.KAFKA, 1))}
ALARMING = frozenset({State.UNHEALTHY, State.RESTARTING, State.FAILED})

START_KEYS = "Ctrl+R"
STOPPED = f"The stack is stopped. Start all ({START_KEYS}) runs it."
NOT_INSTALLED = f"The stack is not set up yet: Set up…, then Start all ({START_KEYS})."


def states_of(statuses: Iterable) -> dict[str, str]:
    return {s.name: s.state for s in statuses}


def _service(source: str, services) -> str | None:
    return next((n for n in SOURCE_SERVICE.get(source, ()) if n in services), None)


def unreachable_is_expected(source: str, now: Mapping[str, str], before: Mapping[str, str] | None = None) -> bool:
    """Whether `source` not answering is the stack's state rather than a problem.

    `now` is the states when the read failed, `before` when it started: a read begun before its
    service was up may fail even though the service is running by the time it does.
    """
    service = _service(source, now)
    if service is None:
        return False  # an external cluster, or a source with no service: it should answer
    state = State(now[service])
    if state in ALARMING:
        return False
    if state in UP:
        return before is not None and service in before and State(before[service]) not in UP
    return True  # stopped (by the user or never started), starting, stopping


def service_for(source: str, statuses: Iterable) -> tuple[str, str] | None:
    """(title, state) of the managed service behind `source`, or None for an external cluster."""
    statuses = list(statuses)
    service = _service(source, {s.name for s in statuses})
    for s in statuses:
        if s.name == service:
            return s.title, s.state
    return None


def context(statuses: list, installed: bool) -> str:
    """What a chart with no data says about why, and what to do."""
    states = [State(s.state) for s in statuses]
    if not installed:
        return NOT_INSTALLED
    if not states or all(s not in ACTIVE for s in states):
        failed = [s.title for s in statuses if s.state == State.FAILED]
        if failed:
            return f"{', '.join(failed)} failed (see Services). Start all ({START_KEYS}) tries again."
        return STOPPED
    if any(s in (State.STARTING, State.RESTARTING) for s in states):
        return "The stack is starting; data appears after the Spark job's first batch."
    if any(s in (State.STOPPED, State.FAILED) for s in states):
        return f"Some services are not running. Start all ({START_KEYS}) starts them."
    if any(s == State.STOPPING for s in states):
        return "The stack is stopping."
    return "Waiting for data from the Spark job."


def stack_stopped(statuses: list) -> bool:
    """Nothing runs and nothing is on its way: the calm 'stack is stopped' strip shows."""
    return all(State(s.state) not in ACTIVE for s in statuses)
