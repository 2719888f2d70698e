"""Restart and the restart policy of the generic supervisor, on small real processes (no JVM)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
import urllib.request

import pytest
from stackutil import listening

from ecomdesk.core.control import ControlError, request
from ecomdesk.core.spec import Probe, RestartPolicy, ServiceSpec
from ecomdesk.core.supervisor import Supervisor
from ecomdesk.testing.sandbox import free_ports

SERVER = "import http.server,sys; print('serving', flush=True); " \
         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()"
FAST = RestartPolicy(backoff=0.2, backoff_max=1.0, attempts=3, window=60, health_failures=2)


def http_ok(port: int) -> Probe:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5):
            return Probe(True, "answers")
    except OSError as exc:
        return Probe(False, f"no answer: {exc}")


def server(name: str, port: int, depends_on=(), restart: RestartPolicy = FAST, **kw) -> ServiceSpec:
    return ServiceSpec(name=name, title=name.title(), command=lambda: [sys.executable, "-c", SERVER, str(port)],
                       ready=lambda: http_ok(port), ports={"http": port}, depends_on=depends_on,
                       stop_timeout=3, restart=restart, **kw)


@pytest.fixture
def make(tmp_path):
    sups = []

    def build(*specs) -> Supervisor:
        sup = Supervisor(list(specs), tmp_path / "logs", tmp_path / "run", health_interval=0.5)
        sups.append(sup)
        return sup

    yield build
    for sup in sups:
        sup.close()


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def states(sup) -> dict[str, str]:
    return {s.name: s.state for s in sup.snapshot()}


def test_a_crashed_service_is_restarted_with_its_dependents_and_it_is_logged(make):
    p1, p2 = free_ports(2)
    slow = RestartPolicy(backoff=1.5, attempts=3, window=60)
    sup = make(server("db", p1, restart=slow), server("web", p2, ("db",)))
    sup.start()
    db_pid, web_pid = sup.status("db").pid, sup.status("web").pid
    os.killpg(db_pid, signal.SIGKILL)
    st = wait_for(lambda: sup.status("db").state == "restarting" and sup.status("db"), what="db restarting")
    assert "crashed with exit code -9" in st.message and "attempt 1/3" in st.message
    assert "restarting in 1 s" in st.message or "restarting in 2 s" in st.message
    wait_for(lambda: states(sup) == {"db": "running", "web": "running"} and sup.status("db").restarts == 1,
             what="both running again")
    assert sup.status("db").pid != db_pid and sup.status("web").pid != web_pid  # the dependent came back too
    assert listening(p1) and listening(p2)
    log = sup.log_file("db").read_text()
    assert "[ecomdesk] crashed with exit code -9; restarting in" in log and "[ecomdesk] restarted" in log
    assert "restarting because db restarts" in sup.log_file("web").read_text()


def test_a_hung_service_is_restarted_after_failed_health_probes(make):
    port = free_ports(1)[0]
    sup = make(server("web", port))
    sup.start()
    pid = sup.status("web").pid
    os.killpg(pid, signal.SIGSTOP)  # alive, port open, but never answers
    wait_for(lambda: sup.status("web").state == "restarting", what="restarting after health failures")
    assert "2 failed health probes in a row" in sup.status("web").message
    wait_for(lambda: sup.status("web").state == "running" and sup.status("web").pid != pid, what="running again")
    assert http_ok(port).ok
    assert wait_for(lambda: not _exists(pid), what="the hung process is gone")


def test_health_counts_once_it_has_passed_or_the_start_time_is_up(make, tmp_path):
    # A cluster node is ready when it listens, and healthy once it has joined: its health probe may fail
    # for a while after its start without being a fault (a startup probe's grace, as Kubernetes has it).
    p1, p2 = free_ports(2)
    joined = tmp_path / "joined"
    joining = server("node", p1, health=lambda: Probe(joined.exists(), "joined" if joined.exists() else "not joined"))
    never = server("stuck", p2, health=lambda: Probe(False, "never joins"), ready_timeout=4)
    sup = make(joining, never)
    sup.start()
    pid = sup.status("node").pid
    time.sleep(2.5)  # five health rounds: two failures in a row would have counted
    assert (sup.status("node").state, sup.status("node").pid) == ("running", pid)
    assert sup.status("node").message == "settling after its start: not joined"
    joined.touch()
    wait_for(lambda: sup.status("node").message == "joined", what="healthy once joined")
    joined.unlink()  # from now on every failure counts
    wait_for(lambda: sup.status("node").state == "restarting", what="restarting after health failures")
    assert "2 failed health probes in a row: not joined" in sup.status("node").message
    # the one that never passes: its failures count once its start's time (ready_timeout) is up
    wait_for(lambda: "failed health probes in a row: never joins" in sup.status("stuck").message
             or "failed health probes" in sup.log_file("stuck").read_text(), timeout=15, what="stuck given up on")


def test_the_policy_gives_up_and_says_why(make):
    port = free_ports(1)[0]
    count = {"n": 0}

    def command():
        count["n"] += 1
        if count["n"] == 1:
            return [sys.executable, "-c", SERVER, str(port)]
        return [sys.executable, "-c", "import sys; print('cannot bind', flush=True); sys.exit(4)"]

    spec = ServiceSpec(name="flaky", title="Flaky", command=command, ready=lambda: http_ok(port),
                       ports={"http": port}, stop_timeout=3,
                       restart=RestartPolicy(backoff=0.1, backoff_max=0.2, attempts=2, window=60))
    sup = make(spec)
    sup.start()
    os.killpg(sup.status("flaky").pid, signal.SIGKILL)
    st = wait_for(lambda: sup.status("flaky").state == "failed" and sup.status("flaky"), what="failed")
    assert "gave up after 2 restart(s) within 60 s" in st.message
    assert "exited with code 4 while starting" in st.message
    assert "cannot bind" in st.last_lines
    assert count["n"] == 3  # the first start and two restarts


def test_a_stop_by_the_user_is_never_undone(make):
    port = free_ports(1)[0]
    sup = make(server("web", port, restart=RestartPolicy(backoff=2.0, attempts=5, window=60)))
    sup.start()
    os.killpg(sup.status("web").pid, signal.SIGKILL)
    wait_for(lambda: sup.status("web").state == "restarting", what="restarting")
    sup.stop()
    time.sleep(3.0)  # past the backoff
    assert sup.status("web").state == "stopped" and not listening(port)


def test_restart_brings_back_everything_it_stopped(make):
    p1, p2, p3 = free_ports(3)
    sup = make(server("kafka", p1), server("job", p2, ("kafka",)), server("producer", p3, ("kafka",)))
    sup.start()
    before = {s.name: s.pid for s in sup.snapshot()}
    sup.restart("kafka")
    after = {s.name: (s.state, s.pid) for s in sup.snapshot()}
    assert all(state == "running" for state, _ in after.values())
    assert all(after[n][1] != before[n] for n in before)


def test_restart_leaves_stopped_dependents_stopped(make):
    p1, p2 = free_ports(2)
    sup = make(server("kafka", p1), server("producer", p2, ("kafka",)))
    sup.start(["kafka"])
    sup.restart("kafka")
    assert states(sup) == {"kafka": "running", "producer": "stopped"}


def test_restart_from_another_process_through_the_control_socket(make, tmp_path):
    p1, p2 = free_ports(2)
    sup = make(server("kafka", p1), server("job", p2, ("kafka",)))
    sup.start()
    job_pid = sup.status("job").pid
    request(tmp_path / "run", {"op": "restart", "service": "kafka"}, timeout=30)
    assert states(sup) == {"kafka": "running", "job": "running"} and sup.status("job").pid != job_pid
    with pytest.raises(ControlError, match="unknown service 'nope'"):
        request(tmp_path / "run", {"op": "restart", "service": "nope"}, timeout=30)
    assert oct((tmp_path / "run" / "control.sock").stat().st_mode & 0o777) == "0o600"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_crash_while_a_dependency_is_down_uses_none_of_the_dependents_attempts(make):
    p1, p2 = free_ports(2)
    once = RestartPolicy(backoff=0.2, attempts=1, window=60)
    sup = make(server("db", p1, restart=RestartPolicy(backoff=0.5, attempts=5, window=60)),
               server("web", p2, ("db",), restart=once))
    sup.start()
    for round_ in (1, 2):  # web may restart once on its own: two faults of db must not use that up
        pids = {s.name: s.pid for s in sup.snapshot()}
        os.killpg(pids["db"], signal.SIGKILL)
        os.killpg(pids["web"], signal.SIGKILL)  # the job dying of its broker's death
        wait_for(lambda p=pids: states(sup) == {"db": "running", "web": "running"}
                 and sup.status("web").pid != p["web"], what=f"both back after round {round_}")
    assert "while db is down; restarts when db is back" in sup.log_file("web").read_text()


def test_a_dependency_going_down_cancels_its_dependents_start(make, tmp_path):
    p1, p2 = free_ports(2)
    ready_flag = tmp_path / "web-ready"
    web = ServiceSpec(name="web", title="Web", command=lambda: [sys.executable, "-c", SERVER, str(p2)],
                      ready=lambda: Probe(ready_flag.exists() and http_ok(p2).ok, "flag"), ports={"http": p2},
                      depends_on=("db",), stop_timeout=3, ready_timeout=120, restart=FAST)
    sup = make(server("db", p1), web)
    ready_flag.touch()
    sup.start()
    ready_flag.unlink()  # web's next start waits for readiness
    os.killpg(sup.status("web").pid, signal.SIGKILL)
    wait_for(lambda: sup.status("web").state == "starting" and sup.status("web").pid, what="web restarting")
    t0 = time.monotonic()
    os.killpg(sup.status("db").pid, signal.SIGKILL)
    wait_for(lambda: "db went down" in sup.log_file("web").read_text(), what="web's start cancelled")
    assert time.monotonic() - t0 < 10  # not web's 120 s readiness timeout
    ready_flag.touch()
    wait_for(lambda: states(sup) == {"db": "running", "web": "running"}, timeout=30, what="both back")


def test_a_dependent_that_rides_out_restarts_keeps_running_unless_the_user_restarts(make):
    import dataclasses

    p1, p2 = free_ports(2)
    producer = dataclasses.replace(server("producer", p2, ("kafka",)), rides_out_dependency_restarts=True)
    sup = make(server("kafka", p1), producer)
    sup.start()
    kafka_pid, producer_pid = sup.status("kafka").pid, sup.status("producer").pid
    os.killpg(kafka_pid, signal.SIGKILL)
    wait_for(lambda: sup.status("kafka").state == "running" and sup.status("kafka").pid != kafka_pid,
             what="kafka back")
    assert sup.status("producer").pid == producer_pid and sup.status("producer").state == "running"
    sup.restart("kafka")  # a user's Restart stops the dependents and brings them back
    assert sup.status("producer").pid != producer_pid and states(sup)["producer"] == "running"


def test_a_recovery_brings_back_independent_dependents_side_by_side(make, tmp_path):
    """The producer is back with its broker, not after the job's long start."""
    p1, p2, p3 = free_ports(3)
    job_ready = tmp_path / "job-ready"
    job = ServiceSpec(name="job", title="Job", command=lambda: [sys.executable, "-c", SERVER, str(p2)],
                      ready=lambda: Probe(job_ready.exists() and http_ok(p2).ok, "flag"), ports={"http": p2},
                      depends_on=("broker",), stop_timeout=3, ready_timeout=120, restart=FAST)
    sup = make(server("broker", p1), job, server("producer", p3, ("broker",)))
    job_ready.touch()
    sup.start()
    job_ready.unlink()  # the job's next start waits until the test lets it finish
    pids = {s.name: s.pid for s in sup.snapshot()}
    os.killpg(pids["broker"], signal.SIGKILL)
    wait_for(lambda: sup.status("producer").state == "running" and sup.status("producer").pid != pids["producer"],
             what="the producer back while the job still starts")
    assert sup.status("job").state == "starting" and sup.status("broker").state == "running"
    job_ready.touch()
    wait_for(lambda: states(sup) == dict.fromkeys(("broker", "job", "producer"), "running"), what="all running")
    assert sup.status("job").pid != pids["job"]


def test_a_stop_of_another_service_does_not_cancel_a_recovery(make, tmp_path):
    """A policy restart in progress goes on when the user stops a service outside it; the next crash is
    recovered too (the restart policy's thread survives)."""
    p1, p2, p3 = free_ports(3)
    gate = tmp_path / "web-ready"
    web = server("web", p2, ("db",), ready_timeout=30)
    web = dataclasses.replace(web, ready=lambda: http_ok(p2) if gate.exists() else Probe(False, "held"))
    sup = make(server("db", p1), web, server("other", p3))
    gate.touch()
    sup.start()
    gate.unlink()
    os.killpg(sup.status("db").pid, signal.SIGKILL)
    wait_for(lambda: sup.status("web").state == "starting", what="web restarting, held before ready")
    stopping = threading.Thread(target=sup.stop, args=(["other"],))  # it waits for the recovery's end
    stopping.start()
    time.sleep(1.0)
    gate.touch()
    stopping.join(30)
    wait_for(lambda: states(sup) == {"db": "running", "web": "running", "other": "stopped"}, what="recovered")
    os.killpg(sup.status("db").pid, signal.SIGKILL)
    wait_for(lambda: sup.status("db").restarts == 2 and states(sup)["web"] == "running", what="recovered again")
