"""Generic supervisor: starts, watches and stops services described by ServiceSpecs.

Every service runs in its own process group (so a stop reaches its children too) and is
registered with a reaper process that cleans up if this process dies without stopping them.
A monitor thread notices crashes, runs health probes, samples CPU/RSS with psutil and
publishes a state file that `ecomdesk stack status` reads from other terminals.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from ecomdesk.core.ports import busy_ports
from ecomdesk.core.spec import Probe, ServiceSpec, State, dependency_order, dependents_order

LogListener = Callable[[str, str], None]
LAST_LINES = 40


class StartError(RuntimeError):
    """A service could not be started; the message says which and why."""


class OwnedElsewhere(StartError):
    """Another live ecomdesk process already manages the stack of this home."""


@dataclass
class ServiceStatus:
    name: str
    title: str
    state: str
    pid: int | None = None
    uptime: float | None = None
    cpu_percent: float | None = None
    rss: int | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    message: str = ""
    exit_code: int | None = None
    last_lines: list[str] = field(default_factory=list)
    telemetry: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class _Runtime:
    """Mutable bookkeeping for one service; guarded by the supervisor's lock."""

    def __init__(self, spec: ServiceSpec, log_dir: Path):
        self.spec = spec
        self.state = State.STOPPED
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.message = ""
        self.exit_code: int | None = None
        self.lines: deque[str] = deque(maxlen=LAST_LINES)
        self.telemetry: dict = {}
        self.expect_exit = False
        self.ps: dict[int, psutil.Process] = {}
        self.cpu: float | None = None
        self.rss: int | None = None
        self.log_file = log_dir / f"{spec.name}.log"
        self.handler = logging.handlers.RotatingFileHandler(
            self.log_file, maxBytes=10 * 1024 * 1024, backupCount=3, encoding="utf-8", delay=True
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))


class Supervisor:
    def __init__(
        self,
        specs: list[ServiceSpec],
        log_dir: Path,
        run_dir: Path,
        health_interval: float = 2.0,
    ):
        self.specs = {s.name: s for s in specs}
        dependency_order(self.specs)  # reject cycles and unknown dependencies early
        log_dir.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self.state_file = run_dir / "state.json"
        self._rt = {name: _Runtime(spec, log_dir) for name, spec in self.specs.items()}
        self._lock = threading.RLock()
        self._op_lock = threading.Lock()
        self._listeners: list[LogListener] = []
        self._health_interval = health_interval
        self._closed = threading.Event()
        self._cancel_start = threading.Event()
        self._reaper: subprocess.Popen | None = None
        self._owner_lock_fd: int | None = None
        self._monitor = threading.Thread(target=self._monitor_loop, name="supervisor-monitor", daemon=True)
        self._monitor.start()

    # ----- observation -------------------------------------------------------------------
    def subscribe_logs(self, listener: LogListener) -> Callable[[], None]:
        """Call `listener(service, line)` for every log line; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def log_file(self, name: str) -> Path:
        return self._rt[name].log_file

    def snapshot(self) -> list[ServiceStatus]:
        with self._lock:
            return [self._status(rt) for rt in self._rt.values()]

    def status(self, name: str) -> ServiceStatus:
        with self._lock:
            return self._status(self._rt[name])

    def _status(self, rt: _Runtime) -> ServiceStatus:
        live = rt.state in (State.STARTING, State.RUNNING, State.UNHEALTHY, State.STOPPING)
        return ServiceStatus(
            name=rt.spec.name,
            title=rt.spec.title,
            state=str(rt.state),
            pid=rt.proc.pid if rt.proc and live else None,
            uptime=time.time() - rt.started_at if rt.started_at and live else None,
            cpu_percent=rt.cpu if live else None,
            rss=rt.rss if live else None,
            endpoints=rt.spec.endpoints,
            message=rt.message,
            exit_code=rt.exit_code,
            last_lines=list(rt.lines) if rt.state == State.FAILED else [],
            telemetry=dict(rt.telemetry),
        )

    # ----- commands ----------------------------------------------------------------------
    def start(self, names: list[str] | None = None) -> None:
        """Start `names` (default: all) and their dependencies, each once it is ready."""
        with self._op_lock:
            self._cancel_start.clear()
            order = dependency_order(self.specs, names)
            todo = [n for n in order if not self._is_live(n)]
            if not todo:
                return
            self._take_ownership()
            problems = []
            for n in todo:
                spec = self.specs[n]
                problems += [f"{n}: {p}" for p in busy_ports(spec.host, spec.ports)]
            if problems:
                raise StartError("cannot start, nothing was started:\n  " + "\n  ".join(problems))
            started: list[str] = []
            try:
                for n in todo:
                    self._start_one(n)
                    started.append(n)
            except StartError:
                for n in reversed(started):
                    self._stop_one(n)
                raise

    def stop(self, names: list[str] | None = None) -> None:
        """Stop `names` (default: all) and whatever depends on them, dependents first.

        A start in progress is cancelled first (its services are stopped), so Stop never waits
        for a slow readiness timeout.
        """
        self._cancel_start.set()
        with self._op_lock:
            for n in dependents_order(self.specs, names or list(self.specs)):
                self._stop_one(n)
            self._write_state()

    def restart(self, name: str) -> None:
        self.stop([name])
        self.start([name])

    def send_control(self, name: str, command: str) -> None:
        """Write one command line to a service that reads commands on stdin."""
        with self._lock:
            rt = self._rt[name]
            if not rt.spec.accepts_control:
                raise ValueError(f"{name} takes no control commands")
            if not rt.proc or rt.proc.poll() is not None or not rt.proc.stdin:
                raise RuntimeError(f"{name} is not running")
            rt.proc.stdin.write((command.strip() + "\n").encode())
            rt.proc.stdin.flush()

    def close(self) -> None:
        """Stop everything and release the reaper and the ownership lock."""
        self.stop()
        self._closed.set()
        if self._reaper and self._reaper.stdin:
            self._reaper.stdin.close()
            self._reaper.wait(timeout=15)
        for rt in self._rt.values():
            rt.handler.close()
        if self._owner_lock_fd is not None:
            os.close(self._owner_lock_fd)
            self._owner_lock_fd = None
        self._write_state()

    # ----- internals ---------------------------------------------------------------------
    def _is_live(self, name: str) -> bool:
        rt = self._rt[name]
        return rt.proc is not None and rt.proc.poll() is None and rt.state in (State.RUNNING, State.UNHEALTHY)

    def _take_ownership(self) -> None:
        if self._owner_lock_fd is not None:
            return
        fd = os.open(self.run_dir / "owner.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = read_state(self.run_dir).get("owner")
            raise OwnedElsewhere(
                f"another ecomdesk process (pid {owner}) already runs the stack of this home; "
                "stop it with `ecomdesk stack down`"
            ) from None
        self._owner_lock_fd = fd
        self._reaper = subprocess.Popen(
            [sys.executable, "-m", "ecomdesk.core.reaper"],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _tell_reaper(self, verb: str, pgid: int) -> None:
        if self._reaper and self._reaper.stdin:
            self._reaper.stdin.write(f"{verb} {pgid}\n".encode())
            self._reaper.stdin.flush()

    def _set(self, rt: _Runtime, state: State, message: str | None = None) -> None:
        with self._lock:
            rt.state = state
            if message is not None:
                rt.message = message
        self._write_state()

    def _start_one(self, name: str) -> None:
        rt = self._rt[name]
        spec = rt.spec
        with self._lock:
            rt.exit_code = None
            rt.lines.clear()
            rt.telemetry = {}
            rt.expect_exit = False
            rt.ps = {}
            rt.cpu = rt.rss = None
        self._set(rt, State.STARTING, "preparing")
        try:
            if spec.data_dir:
                spec.data_dir.mkdir(parents=True, exist_ok=True)
            if spec.prepare:
                spec.prepare()
            cmd = spec.command()
            env = {**os.environ, **spec.env()}
        except Exception as exc:  # preparing is service code: report whatever it raised
            self._set(rt, State.FAILED, f"prepare failed: {exc}")
            raise StartError(f"{name}: prepare failed: {exc}") from exc
        self._log(rt, f"[ecomdesk] starting: {' '.join(cmd)}")
        try:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=spec.data_dir or None,
                stdin=subprocess.PIPE if spec.accepts_control else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self._set(rt, State.FAILED, f"cannot run {cmd[0]}: {exc}")
            raise StartError(f"{name}: cannot run {cmd[0]}: {exc}") from exc
        with self._lock:
            rt.proc = proc
            rt.started_at = time.time()
        self._tell_reaper("add", proc.pid)
        threading.Thread(target=self._read_output, args=(rt, proc), name=f"log-{name}", daemon=True).start()
        self._set(rt, State.STARTING, "waiting for readiness")
        deadline = time.monotonic() + spec.ready_timeout
        probe = Probe(False, "not probed yet")
        while time.monotonic() < deadline:
            if self._cancel_start.is_set():
                self._kill(rt, proc)
                self._set(rt, State.STOPPED, "start cancelled")
                raise StartError(f"{name}: start cancelled by a stop request")
            if proc.poll() is not None:
                time.sleep(0.3)  # let the reader thread collect the last lines
                msg = f"exited with code {proc.returncode} while starting"
                self._mark_failed(rt, proc, msg)
                tail = "\n    ".join(list(rt.lines)[-8:])
                raise StartError(f"{name}: {msg}; last log lines:\n    {tail}")
            probe = _safe_probe(spec.ready)
            if probe.ok:
                self._set(rt, State.RUNNING, probe.message)
                return
            with self._lock:
                rt.message = f"waiting for readiness: {probe.message}"
            time.sleep(0.5)
        self._mark_failed(rt, proc, f"not ready after {spec.ready_timeout:.0f} s: {probe.message}")
        self._kill(rt, proc)
        raise StartError(f"{name}: not ready after {spec.ready_timeout:.0f} s: {probe.message}")

    def _mark_failed(self, rt: _Runtime, proc: subprocess.Popen, message: str) -> None:
        with self._lock:
            rt.exit_code = proc.returncode
        self._tell_reaper("del", proc.pid)
        self._set(rt, State.FAILED, message)

    def _stop_one(self, name: str) -> None:
        rt = self._rt[name]
        proc = rt.proc
        if proc is None or proc.poll() is not None:
            if rt.state not in (State.FAILED, State.STOPPED):
                self._set(rt, State.STOPPED, "stopped")
            return
        with self._lock:
            rt.expect_exit = True
        self._set(rt, State.STOPPING, "stopping")
        self._kill(rt, proc)
        with self._lock:
            rt.exit_code = proc.returncode
        self._set(rt, State.STOPPED, f"stopped (exit code {proc.returncode})")

    def _kill(self, rt: _Runtime, proc: subprocess.Popen) -> None:
        """SIGTERM the process group, wait the stop timeout, then SIGKILL it."""
        with self._lock:
            rt.expect_exit = True
        _killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=rt.spec.stop_timeout)
        except subprocess.TimeoutExpired:
            self._log(rt, f"[ecomdesk] no exit after {rt.spec.stop_timeout:.0f} s, sending SIGKILL")
        _killpg(proc.pid, signal.SIGKILL)  # also reaps children left in the group
        proc.wait()
        self._tell_reaper("del", proc.pid)

    def _read_output(self, rt: _Runtime, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        parse = rt.spec.telemetry
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if parse:
                data = parse(line)
                if data is not None:
                    with self._lock:
                        rt.telemetry.update(data)
            self._log(rt, line)

    def _log(self, rt: _Runtime, line: str) -> None:
        with self._lock:
            rt.lines.append(line)
            listeners = list(self._listeners)
        rt.handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        for listener in listeners:
            try:
                listener(rt.spec.name, line)
            except Exception:  # a broken listener must not stop log collection
                logging.getLogger(__name__).exception("log listener failed")

    def _monitor_loop(self) -> None:
        last_health = 0.0
        while not self._closed.wait(1.0):
            check_health = time.monotonic() - last_health >= self._health_interval
            if check_health:
                last_health = time.monotonic()
            for rt in list(self._rt.values()):
                self._watch(rt, check_health)
            self._write_state()

    def _watch(self, rt: _Runtime, check_health: bool) -> None:
        proc = rt.proc
        if proc is None:
            return
        code = proc.poll()
        if code is not None:
            if rt.state in (State.RUNNING, State.UNHEALTHY) and not rt.expect_exit:
                time.sleep(0.2)
                self._mark_failed(rt, proc, f"crashed with exit code {code}")
                _killpg(proc.pid, signal.SIGKILL)
            return
        self._sample(rt, proc.pid)
        if check_health and rt.state in (State.RUNNING, State.UNHEALTHY):
            probe = _safe_probe(rt.spec.health or rt.spec.ready)
            if rt.state in (State.RUNNING, State.UNHEALTHY) and not rt.expect_exit:
                self._set(rt, State.RUNNING if probe.ok else State.UNHEALTHY, probe.message)

    def _sample(self, rt: _Runtime, pid: int) -> None:
        try:
            root = rt.ps.get(pid) or psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        cpu = rss = 0.0
        fresh: dict[int, psutil.Process] = {}
        for p in procs:
            p = rt.ps.get(p.pid, p)
            try:
                cpu += p.cpu_percent(None)
                rss += p.memory_info().rss
                fresh[p.pid] = p
            except psutil.Error:
                continue
        with self._lock:
            rt.ps = fresh
            rt.cpu, rt.rss = round(cpu, 1), int(rss)

    def _write_state(self) -> None:
        if self._owner_lock_fd is None:
            return
        data = {"owner": os.getpid(), "updated": time.time(), "services": [s.to_dict() for s in self.snapshot()]}
        tmp = self.state_file.with_name(f".state.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_file)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _safe_probe(fn) -> Probe:
    try:
        return fn()
    except Exception as exc:  # a probe that raises means "not ready", with its reason shown
        return Probe(False, f"{type(exc).__name__}: {exc}")


def owner_alive(run_dir: Path) -> int | None:
    """Pid of the live process that owns the stack of this home, if any."""
    fd = os.open(run_dir / "owner.lock", os.O_RDWR | os.O_CREAT, 0o644) if run_dir.exists() else None
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return read_state(run_dir).get("owner") or -1
    finally:
        os.close(fd)


def read_state(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
