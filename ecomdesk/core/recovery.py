"""The restart policy: what happens when a wanted service goes down without being asked to.

It books an attempt in the service's budget (`restart.RestartBudget`) and puts it in `restarting`, or
gives up (`failed`); a service whose dependency is down waits for it, using none of its attempts. Its own
thread restarts a due service with the wanted services that run on it, side by side like a start, under
the supervisor's command lock, so a user's command never interleaves with it. A user's Stop marks services
unwanted first, so the policy never undoes it. Every decision is published (`RestartScheduled`, `GaveUp`,
the state changes) and written to the service's log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ecomdesk.core.events import GaveUp, RestartScheduled
from ecomdesk.core.runtime import Cancelled, DependencyDown, NotLaunched, Runtime
from ecomdesk.core.spec import UP, StartError, State, dependency_order, dependents_order

if TYPE_CHECKING:
    from ecomdesk.core.supervisor import Supervisor

TICK = 0.2
_RESTARTS_FROM = UP | {State.RESTARTING, State.FAILED}  # a recovery takes its group from these
RESTARTING = frozenset({State.RESTARTING})
log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, sup: Supervisor):
        self.sup = sup
        threading.Thread(target=self._loop, name="supervisor-recovery", daemon=True).start()

    def went_down(self, rt: Runtime, reason: str, only_from: frozenset[State]) -> None:
        """A wanted service stopped serving without being asked to: schedule a restart or fail. One step
        under the lock, so a stop that came first (it unwants the service), or anything else that moved it
        out of `only_from` (serving, for the monitor; restarting, for a failed restart), wins."""
        sup = self.sup
        with sup._lock:
            if not rt.wanted or rt.state not in only_from:
                return
            attempt = rt.budget.next_attempt(time.monotonic())
            name = rt.spec.name
            if attempt is None:
                rt.restart_at = None
                state, message = State.FAILED, f"{reason}; {rt.budget.gave_up_reason()}"
                sup._transition(rt, state, message)
                sup.events.publish(GaveUp, name, reason=message)
            else:
                rt.restart_at = time.monotonic() + attempt.delay
                rt.down_reason, rt.attempt = reason, f"{attempt.number}/{attempt.of}"
                state = State.RESTARTING
                message = f"{reason}; restarting in {attempt.delay:.0f} s, attempt {rt.attempt}"
                sup._transition(rt, state, message)
                sup.events.publish(RestartScheduled, name, reason=reason, attempt=attempt.number, of=attempt.of,
                                    delay=attempt.delay)
        sup._log(rt, f"[ecomdesk] {message}")
        if state == State.FAILED:
            proc = rt.proc
            if proc is not None and proc.alive():  # unhealthy, and no restart left: end it
                threading.Thread(target=sup._end, args=(rt, proc), daemon=True).start()
            self._fail_waiting_dependents(rt.spec.name)

    def wait_for(self, rt: Runtime, dependency: str, reason: str, only_from: frozenset[State]) -> None:
        """Leave `rt` down until `dependency` is back: its recovery restarts the services on it."""
        sup = self.sup
        with sup._lock:
            if not rt.wanted or rt.state not in only_from:
                return
            rt.restart_at = None
            sup._transition(rt, State.RESTARTING, f"{reason}; waiting for {dependency}")
        sup._log(rt, f"[ecomdesk] {reason}; restarts when {dependency} is back")

    def _fail_waiting_dependents(self, name: str) -> None:
        sup = self.sup
        for n in dependents_order(sup.specs, [name]):
            rt = sup._rt[n]
            with sup._lock:
                if n != name and rt.wanted and rt.state == State.RESTARTING and rt.restart_at is None:
                    sup._transition(rt, State.FAILED, f"not restarted: {name} failed")

    # ----- the restart policy ------------------------------------------------------------
    def _loop(self) -> None:
        sup = self.sup
        while not sup._closed.wait(TICK):
            try:
                now = time.monotonic()
                with sup._lock:
                    self._reschedule_waiting(now)
                    due = [n for n in sup._order if (rt := sup._rt[n]).state == State.RESTARTING
                           and rt.restart_at is not None and rt.restart_at <= now]
                if due:
                    self._recover(due[0])
            except Exception:  # a bug in one recovery must not end the restart policy for good
                log.exception("a recovery failed")

    def _reschedule_waiting(self, now: float) -> None:
        """A service waiting for a dependency whose dependencies all serve again, and that no
        recovery is bringing back (none runs while this thread is here), restarts now, unbooked."""
        sup = self.sup
        for n in sup._order:
            rt = sup._rt[n]
            if rt.state == State.RESTARTING and rt.restart_at is None and rt.wanted \
                    and sup._down_dependency(n) is None:
                rt.restart_at, rt.down_reason, rt.attempt = now, "its dependencies are back", ""

    def _recover(self, name: str) -> None:
        """Restart `name` and the wanted services that run on it, in dependency order."""
        sup = self.sup
        with sup._op_lock:
            with sup._lock:
                root = sup._rt[name]
                if not root.wanted or root.state != State.RESTARTING:
                    return
                root.restart_at = None
                group = [n for n in dependents_order(sup.specs, [name]) if sup._rt[n].wanted and (
                    n == name or not sup.specs[n].rides_out_dependency_restarts or not sup._is_up(n))]
            for n in list(group):  # dependents first
                rt = sup._rt[n]
                if n != name:
                    with sup._lock:
                        rt.restart_at = None
                    sup._log(rt, f"[ecomdesk] restarting because {name} restarts")
                if rt.proc is not None and rt.proc.alive():
                    sup._end(rt, rt.proc)
                if not sup._transition(rt, State.RESTARTING, f"waiting for {name} to restart" if n != name else None,
                                       only_from=_RESTARTS_FROM):
                    group.remove(n)  # stopped meanwhile: not the policy's to bring back
            sup._log(root, f"[ecomdesk] restart attempt {root.attempt}" if root.attempt else
                      f"[ecomdesk] restart: {root.down_reason}")
            order = [n for n in dependency_order(sup.specs, group) if not sup._is_up(n)]
            # side by side, like a start: the producer is back with its broker, not after the job's start
            errors = sup._side_by_side(order, lambda n: sup.specs[n].depends_on,
                                        lambda n: self._restart_one(n), halt_on_failure=True)
            self._after_failed_restart(order, errors)

    def _restart_one(self, name: str) -> None:
        sup = self.sup
        sup._start_one(name, fail_state=State.RESTARTING)
        with sup._lock:
            sup._rt[name].restarts += 1
        sup._log(sup._rt[name], f"[ecomdesk] restarted ({sup._rt[name].restarts} policy restart(s) so far)")

    def _after_failed_restart(self, order: list[str], errors: list[BaseException | None]) -> None:
        """The states a recovery's failures leave: a service whose dependency went down waits for it;
        one not launched waits for the failure before it; one that failed goes down (and may fail its
        waiting dependents, so it comes last)."""
        sup = self.sup
        for exc in errors:
            if exc is not None and not isinstance(exc, StartError):
                raise exc
            if isinstance(exc, Cancelled):
                return
        failed = [(n, e) for n, e in zip(order, errors, strict=True)
                  if isinstance(e, StartError) and not isinstance(e, NotLaunched)]
        if not failed:
            return
        first, first_exc = failed[0]
        for n, exc in zip(order, errors, strict=True):
            why = exc if isinstance(exc, DependencyDown) else first_exc if isinstance(exc, NotLaunched) else None
            if isinstance(why, DependencyDown):
                self.wait_for(sup._rt[n], why.dependency, f"{why.dependency} went down during the restart", RESTARTING)
            elif isinstance(exc, NotLaunched):
                sup._transition(sup._rt[n], State.RESTARTING, f"waiting for {first} to restart", only_from=RESTARTING)
        for n, exc in failed:
            if not isinstance(exc, DependencyDown):
                self.went_down(sup._rt[n], f"restart failed: {exc.reason}", RESTARTING)
