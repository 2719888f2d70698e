"""Generic supervisor: starts, watches, restarts and stops services described by ServiceSpecs.

The parts with their own reason to change live next door: the process (`process`), logs (`logs`),
psutil sampling (`sampler`), the ownership lock and reaper (`ownership`), the published state file
(`status`), the restart policy (`recovery`, with its budget in `restart`), the events (`events`) and the
command socket (`control`). This module holds the lifecycle: which service is wanted up, in which state it
is (every change through `_transition`, checked and published), and starting and stopping them.

Threads: user commands (start/stop/restart) run one at a time under `_op_lock`, each starting or
stopping its services on threads of its own, side by side where they do not depend on each other; a
monitor thread notices exits, probes health and samples; the recovery thread carries out the restart
policy, also under `_op_lock`. A Stop by the user marks services unwanted first, so the policy never
undoes it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ecomdesk.core.control import ControlServer
from ecomdesk.core.events import Event, EventStream, StateChanged
from ecomdesk.core.logs import ServiceLogs
from ecomdesk.core.ownership import OwnedElsewhere, Ownership, owner_alive  # noqa: F401 (re-exported)
from ecomdesk.core.ports import busy_ports
from ecomdesk.core.process import ServiceProcess
from ecomdesk.core.recovery import Recovery
from ecomdesk.core.runtime import Cancelled, DependencyDown, NotLaunched, Runtime
from ecomdesk.core.spec import (
    LIVE,
    SHOULD_RUN,
    TRANSITIONS,
    UP,
    Probe,
    ServiceSpec,
    StartError,
    State,
    TransitionError,
    dependency_order,
    dependents_order,
)
from ecomdesk.core.status import ServiceStatus, publish, read_state  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)
STREAM_BACKLOG = 10_000  # events a `stack events -f` client may fall behind by
_STOPS_WITHOUT_PROCESS = frozenset(State) - {State.STOPPED, State.FAILED}  # nothing to end: at rest now
_STOPS_ITS_PROCESS = frozenset({State.RUNNING, State.UNHEALTHY, State.RESTARTING, State.FAILED})


class Supervisor:
    def __init__(self, specs: list[ServiceSpec], log_dir: Path, run_dir: Path, health_interval: float = 2.0,
                 annotate: Callable[[list[ServiceStatus]], None] | None = None, events: EventStream | None = None):
        """`annotate` sees every snapshot before anyone else (one at least once a second) and may add to
        it, e.g. the alerts the app derives from the services' states and telemetry. `events` is where
        every change is published (`core.events`); the annotator may publish there too."""
        self.specs = {s.name: s for s in specs}
        self.events = events or EventStream()
        self._annotate = annotate
        self._order = dependency_order(self.specs)  # also rejects cycles and unknown dependencies early
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self._logs = ServiceLogs(log_dir, list(self.specs))
        self._owner = Ownership(run_dir)
        self._control: ControlServer | None = None
        self._rt = {name: Runtime(spec) for name, spec in self.specs.items()}
        self._lock = threading.RLock()
        self._op_lock = threading.Lock()
        self._health_interval = health_interval
        self._closed = threading.Event()
        threading.Thread(target=self._monitor_loop, name="supervisor-monitor", daemon=True).start()
        self._recovery = Recovery(self)

    # ----- observation -------------------------------------------------------------------
    def subscribe_logs(self, listener: Callable[[str, str], None]) -> Callable[[], None]:
        """Call `listener(service, line)` for every log line; returns an unsubscribe function."""
        return self._logs.subscribe(listener)

    def log_file(self, name: str) -> Path:
        return self._logs.path(name)

    def snapshot(self) -> list[ServiceStatus]:
        with self._lock:  # the annotator too: it sees the snapshots in the order the states changed
            statuses = [self._status(rt) for rt in self._rt.values()]
            if self._annotate is not None:
                self._annotate(statuses)
        return statuses

    def status(self, name: str) -> ServiceStatus:
        with self._lock:
            return self._status(self._rt[name])

    def _status(self, rt: Runtime) -> ServiceStatus:
        live = rt.proc is not None and rt.state in LIVE
        message = rt.message
        if rt.state == State.RESTARTING and rt.restart_at is not None:
            wait = max(0.0, rt.restart_at - time.monotonic())
            attempt = f", attempt {rt.attempt}" if rt.attempt else ""
            message = f"{rt.down_reason}; restarting in {wait:.0f} s{attempt}"
        return ServiceStatus(
            name=rt.spec.name,
            title=rt.spec.title,
            state=str(rt.state),
            pid=rt.proc.pid if rt.proc is not None and live else None,
            uptime=time.time() - rt.started_at if rt.started_at and live else None,
            cpu_percent=rt.cpu if live else None,
            rss=rt.rss if live else None,
            endpoints=rt.spec.endpoints,
            message=message,
            exit_code=rt.exit_code,
            last_lines=self._logs.last_lines(rt.spec.name) if rt.state in (State.FAILED, State.RESTARTING) else [],
            telemetry=dict(rt.telemetry),
            restarts=rt.restarts,
        )

    # ----- commands ----------------------------------------------------------------------
    def start(self, names: list[str] | None = None) -> None:
        """Start `names` (default: all) and their dependencies, each once it is ready."""
        with self._op_lock:
            order = dependency_order(self.specs, names)
            todo = [n for n in order if not self._is_up(n)]
            if todo:
                self._owner.take()
                if self._control is None:
                    self._control = ControlServer(self.run_dir, self._handle_request)
            with self._lock:
                for n in order:
                    rt = self._rt[n]
                    rt.wanted = True
                    rt.restart_at = None
                    if n in todo:
                        rt.budget.reset()
                        rt.restarts = 0
            if not todo:
                return
            for n in todo:
                proc = self._rt[n].proc
                if proc is not None and proc.alive():  # an unhealthy one waiting for its restart
                    self._end(self._rt[n], proc)
            problems = []
            for n in todo:
                spec = self.specs[n]
                problems += [f"{n}: {p}" for p in busy_ports(spec.host, spec.ports)]
            if problems:
                self._unwant(todo)
                raise StartError("cannot start, nothing was started:\n  " + "\n  ".join(problems))
            started, error = self._start_side_by_side(todo)
            if error is not None:
                self._unwant(todo)
                self._stop_side_by_side(list(reversed(started)))
                raise error

    def _side_by_side(self, names: list[str], after: Callable[[str], Iterable[str]], action: Callable[[str], None],
                      halt_on_failure: bool) -> list[BaseException | None]:
        """`action(name)` for each of `names`, each in its own thread as soon as it is done for the names
        `after(name)` lists among them, so that independent services (a NameNode and a broker) start or
        stop at the same time. With `halt_on_failure`, once an action fails no other begins (those
        running finish) and a name after a failed one is not begun: it gets `NotLaunched`.
        Returns each name's exception, or None, in the order of `names`."""
        failed = threading.Event()
        futures: dict[str, Future] = {}

        def run(name: str) -> None:
            waited = [futures[n] for n in after(name) if n in futures]
            for future in waited:
                future.exception()  # waits for it
            if halt_on_failure and (failed.is_set() or any(f.exception() is not None for f in waited)):
                raise NotLaunched(name)
            try:
                action(name)
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max(1, len(names)), thread_name_prefix="supervisor") as pool:
            for n in names:  # what n waits for comes earlier in `names`: its future exists before n's task looks
                futures[n] = pool.submit(run, n)
        return [futures[n].exception() for n in names]

    def _start_side_by_side(self, todo: list[str]) -> tuple[list[str], StartError | None]:
        """Start `todo` (in dependency order), each once its dependencies among them are ready. Returns
        the services started, in `todo`'s order, and the first failure in that order."""
        errors = self._side_by_side(todo, lambda n: self.specs[n].depends_on,
                                    lambda n: self._start_one(n), halt_on_failure=True)
        for exc in errors:
            if exc is not None and not isinstance(exc, StartError):
                raise exc
        first = next((e for e in errors if e is not None and not isinstance(e, NotLaunched)), None)
        assert first is None or isinstance(first, StartError)
        return [n for n, e in zip(todo, errors, strict=True) if e is None], first

    def _stop_side_by_side(self, order: list[str]) -> None:
        """Stop `order` (dependents first), each once the services of `order` that run on it are stopped."""
        errors = self._side_by_side(order, lambda n: [m for m in order if n in self.specs[m].depends_on],
                                    self._stop_one, halt_on_failure=False)
        for exc in errors:
            if exc is not None:
                raise exc

    def stop(self, names: list[str] | None = None) -> None:
        """Stop `names` (default: all) and whatever depends on them, dependents first.

        The services it stops are marked unwanted first: a start or policy restart of them in progress
        gives up at once (Stop never waits for their slow readiness timeout), and the restart policy
        never brings them back. A start of other services in progress is left to finish first.
        """
        order = dependents_order(self.specs, names or list(self.specs))
        self._unwant(order)
        with self._op_lock:
            self._stop_side_by_side(order)
        self._publish()

    def restart(self, name: str) -> None:
        """Stop `name` and what runs on it, then start all of that again (and `name`'s dependencies)."""
        if name not in self.specs:
            raise KeyError(f"unknown service {name!r}; known: {', '.join(self.specs)}")
        with self._lock:
            group = [n for n in dependents_order(self.specs, [name])
                     if n == name or self._rt[n].state in SHOULD_RUN]
        self.stop([name])
        self.start(group)

    def send_control(self, name: str, command: str) -> None:
        """Write one command line to a service that reads commands on stdin."""
        with self._lock:
            rt = self._rt[name]
            if not rt.spec.accepts_control:
                raise ValueError(f"{name} takes no control commands")
            if rt.proc is None or not rt.proc.alive():
                raise RuntimeError(f"{name} is not running")
            rt.proc.send_line(command)

    def close(self) -> None:
        """Stop everything and release the command socket, the reaper and the ownership lock."""
        self.stop()
        self._closed.set()
        if self._control is not None:
            self._control.close()
            self._control = None
        self._owner.release()
        self._logs.close()

    def _handle_request(self, request: dict) -> Iterator[dict | None] | None:
        op, service = request.get("op"), request.get("service")
        if op == "restart" and isinstance(service, str):
            self.restart(service)
            return None
        if op == "events":
            return self._event_stream(int(request.get("since", 0)), bool(request.get("follow")))
        raise ValueError(f"unknown request {request!r}")

    def _event_stream(self, since: int, follow: bool) -> Iterator[dict | None]:
        """The kept events after `since` and, when following, every new one until the supervisor closes
        (a None each second without one, so that the server sees a client that went away). A client too
        slow for `STREAM_BACKLOG` events is let go rather than held in memory."""
        if not follow:
            yield from (e.to_dict() for e in self.events.since(since))
            return
        found: queue.Queue[Event] = queue.Queue(STREAM_BACKLOG)
        behind = threading.Event()

        def take(event: Event) -> None:
            try:
                found.put_nowait(event)
            except queue.Full:
                behind.set()

        unsubscribe = self.events.subscribe(take, since=since)
        try:
            while not (self._closed.is_set() or behind.is_set()):
                try:
                    yield found.get(timeout=1.0).to_dict()
                except queue.Empty:
                    yield None
        finally:
            unsubscribe()

    # ----- starting and stopping ---------------------------------------------------------
    def _is_up(self, name: str) -> bool:
        rt = self._rt[name]
        return rt.proc is not None and rt.proc.alive() and rt.state in UP

    def _unwant(self, names: list[str]) -> None:
        with self._lock:
            for n in names:
                self._rt[n].wanted = False
                self._rt[n].restart_at = None

    def _transition(self, rt: Runtime, state: State, message: str | None = None,
                    only_from: frozenset[State] | None = None) -> bool:
        """The one place a service's state changes: checked against `TRANSITIONS` and published as a
        `StateChanged` event (a message alone changes without an event). With `only_from`, a service
        found in any other state is left as it is and False returned: a probe's verdict that a stop
        overtook. Under the lock, so a caller holding it checks and changes in one step."""
        with self._lock:
            old = rt.state
            if only_from is not None and old not in only_from:
                return False
            if state != old and state not in TRANSITIONS[old]:
                raise TransitionError(f"{rt.spec.name}: {old} -> {state} is not a transition of a service")
            rt.state = state
            if message is not None:
                rt.message = message
            if state != old:
                self.events.publish(StateChanged, rt.spec.name, old=str(old), new=str(state), message=rt.message)
            self._publish()
        return True

    def _log(self, rt: Runtime, line: str) -> None:
        self._logs.write(rt.spec.name, line)

    def _on_line(self, rt: Runtime, line: str) -> None:
        parse = rt.spec.telemetry
        data = parse(line) if parse else None
        if data is not None:
            with self._lock:
                rt.telemetry.update(data)
        self._log(rt, line)

    def _launch(self, rt: Runtime, fail_state: State) -> ServiceProcess:
        """Prepare and spawn the service's process; readiness is the caller's business."""
        spec = rt.spec
        with self._lock:
            rt.exit_code = rt.restart_at = None
            rt.telemetry = {}
            rt.expect_exit = False
            rt.health_failures = 0
            rt.settling_until = None
            rt.sampler.reset()
            rt.cpu = rt.rss = None
        self._logs.clear(spec.name)
        self._transition(rt, State.STARTING, "preparing")
        try:
            if spec.data_dir:
                spec.data_dir.mkdir(parents=True, exist_ok=True)
            if spec.prepare:
                spec.prepare()
            cmd = spec.command()
            env = {**os.environ, **spec.env()}
        except Exception as exc:  # preparing is service code: report whatever it raised
            self._transition(rt, fail_state, f"prepare failed: {exc}")
            raise StartError(f"{spec.name}: prepare failed: {exc}") from exc
        self._log(rt, f"[ecomdesk] starting: {' '.join(cmd)}")
        try:
            proc = ServiceProcess(cmd, env, spec.data_dir, spec.accepts_control,
                                  lambda line: self._on_line(rt, line), spec.name)
        except OSError as exc:
            self._transition(rt, fail_state, f"cannot run {cmd[0]}: {exc}")
            raise StartError(f"{spec.name}: cannot run {cmd[0]}: {exc}") from exc
        with self._lock:
            rt.proc = proc
            rt.started_at = time.time()
        self._owner.track(proc.pid)
        return proc

    def _start_one(self, name: str, fail_state: State = State.FAILED) -> None:
        """Start one service and wait until its readiness probe passes (or it fails, or a stop comes).

        A failure leaves it in `fail_state`: FAILED for a user's start, RESTARTING for the policy's
        (which then decides between another attempt and FAILED, so no transient alarm shows)."""
        rt = self._rt[name]
        spec = rt.spec
        proc = self._launch(rt, fail_state)
        self._transition(rt, State.STARTING, "waiting for readiness")
        deadline = time.monotonic() + spec.ready_timeout
        probe = Probe(False, "not probed yet")
        while time.monotonic() < deadline:
            if not rt.wanted:  # a stop of this service came: it marks it unwanted first
                self._end(rt, proc)
                self._transition(rt, State.STOPPED, "start cancelled")
                raise Cancelled(f"{name}: start cancelled by a stop request")
            down = self._down_dependency(name)
            if down is not None:
                self._end(rt, proc)
                self._transition(rt, fail_state, f"{down} went down while starting")
                raise DependencyDown(name, down, self._rt[down].message)
            if not proc.alive():
                proc.drain(1.0)
                msg = f"exited with code {proc.returncode} while starting"
                self._mark_failed(rt, proc, msg, fail_state)
                tail = "\n    ".join(self._logs.last_lines(name)[-8:])
                raise StartError(f"{name}: {msg}; last log lines:\n    {tail}", reason=msg)
            probe = _safe_probe(spec.ready)
            if probe.ok:
                if spec.health is not None:
                    with self._lock:
                        rt.settling_until = time.monotonic() + spec.ready_timeout
                self._transition(rt, State.RUNNING, probe.message)
                return
            with self._lock:
                rt.message = f"waiting for readiness: {probe.message}"
            time.sleep(0.5)
        self._end(rt, proc)
        self._mark_failed(rt, proc, f"not ready after {spec.ready_timeout:.0f} s: {probe.message}", fail_state)
        raise StartError(f"{name}: not ready after {spec.ready_timeout:.0f} s: {probe.message}")

    def _down_dependency(self, name: str) -> str | None:
        """A dependency of `name` that does not serve now (crashed, restarting, stopped), if any."""
        return next((d for d in self.specs[name].depends_on if not self._is_up(d)), None)

    def _mark_failed(self, rt: Runtime, proc: ServiceProcess, message: str, state: State) -> None:
        with self._lock:
            rt.exit_code = proc.returncode
        self._owner.untrack(proc.pid)
        self._transition(rt, state, message)

    def _stop_one(self, name: str) -> None:
        rt = self._rt[name]
        with self._lock:  # the check and the change in one step: the monitor may fail it meanwhile
            proc = rt.proc
            if proc is None or not proc.alive():
                self._transition(rt, State.STOPPED, "stopped", only_from=_STOPS_WITHOUT_PROCESS)
                return
            self._transition(rt, State.STOPPING, "stopping", only_from=_STOPS_ITS_PROCESS)
        code = self._end(rt, proc)
        with self._lock:
            rt.exit_code = code
        self._transition(rt, State.STOPPED, f"stopped (exit code {code})")

    def _end(self, rt: Runtime, proc: ServiceProcess) -> int:
        with self._lock:
            rt.expect_exit = True

        def escalate() -> None:
            self._log(rt, f"[ecomdesk] no exit after {rt.spec.stop_timeout:.0f} s, sending SIGKILL")

        code = proc.end(rt.spec.stop_timeout, escalate)
        self._owner.untrack(proc.pid)
        return code

    # ----- watching ----------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        last_health = 0.0
        while not self._closed.wait(1.0):
            check_health = time.monotonic() - last_health >= self._health_interval
            if check_health:
                last_health = time.monotonic()
            for rt in list(self._rt.values()):
                try:
                    self._watch(rt, check_health)
                except Exception:  # a bug in one service's watch must not end the watching of all
                    log.exception("watching %s failed", rt.spec.name)
            try:
                self._publish()
            except Exception:
                log.exception("publishing the state failed")

    def _watch(self, rt: Runtime, check_health: bool) -> None:
        proc = rt.proc
        if proc is None:
            return
        code = proc.poll()
        if code is not None:
            with self._lock:  # this very process, still serving and not being ended: a crash
                if rt.proc is not proc or rt.state not in UP or rt.expect_exit:
                    return
                rt.expect_exit = True
                rt.exit_code = code
            proc.drain(0.5)
            proc.signal_group(9)  # children it left behind
            self._owner.untrack(proc.pid)
            down = self._down_dependency(rt.spec.name)
            if down is not None and rt.wanted:  # its dependency's fault, not its own: no attempt used
                self._recovery.wait_for(rt, down, f"crashed with exit code {code} while {down} is down", UP)
            else:
                self._recovery.went_down(rt, f"crashed with exit code {code}", UP)
            return
        sample = rt.sampler.sample(proc.pid)
        if sample is not None:
            with self._lock:
                rt.cpu, rt.rss = sample
        if not (check_health and rt.state in UP):
            return
        probe = _safe_probe(rt.spec.health or rt.spec.ready)
        policy = rt.spec.restart
        with self._lock:  # the verdict in one step: a stop or a crash that came first wins
            if rt.proc is not proc or rt.state not in UP or rt.expect_exit:
                return
            if probe.ok:
                rt.settling_until = None
            elif rt.settling_until is not None and time.monotonic() < rt.settling_until:
                # Ready but not yet healthy (a cluster node that listens before it has joined): like a
                # startup probe, its health counts once it has passed once or the start's time is up.
                rt.message = f"settling after its start: {probe.message}"
                return
            rt.health_failures = 0 if probe.ok else rt.health_failures + 1
            failures = rt.health_failures
            self._transition(rt, State.RUNNING if probe.ok else State.UNHEALTHY, probe.message)
            gives_up = failures >= policy.health_failures and policy.enabled
            if gives_up:
                rt.expect_exit = True  # the recovery ends what is left of it
        if gives_up:
            self._recovery.went_down(rt, f"{failures} failed health probes in a row: {probe.message}", UP)

    # ----- publishing --------------------------------------------------------------------
    def _publish(self) -> None:
        """A snapshot (the annotator's alerts go to the events), and the state file when this process owns it."""
        statuses = self.snapshot()
        if self._owner.held:
            publish(self.run_dir, statuses)


def _safe_probe(fn) -> Probe:
    try:
        return fn()
    except Exception as exc:  # a probe that raises means "not ready", with its reason shown
        return Probe(False, f"{type(exc).__name__}: {exc}")
