"""The generic supervisor on small real processes (no JVM): ordering, crashes, stops, logs."""

from __future__ import annotations

import dataclasses
import sys
import time

import psutil
import pytest
from stackutil import listening

from ecomdesk.core.spec import Probe, RestartPolicy, ServiceSpec, dependency_order, dependents_order
from ecomdesk.core.supervisor import StartError, Supervisor
from ecomdesk.testing.sandbox import free_ports

SERVER = "import http.server,sys; print('serving', flush=True); " \
         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.BaseHTTPRequestHandler).serve_forever()"


def server_spec(name: str, port: int, depends_on=(), **kw) -> ServiceSpec:
    return ServiceSpec(
        name=name, title=name.title(), command=lambda: [sys.executable, "-c", SERVER, str(port)],
        ready=lambda: Probe(listening(port), f"port {port}"), ports={"http": port}, depends_on=depends_on,
        stop_timeout=kw.pop("stop_timeout", 5), **kw)


def make(tmp_path, specs) -> Supervisor:
    return Supervisor(specs, tmp_path / "logs", tmp_path / "run", health_interval=0.5)


def test_dependency_orders():
    a, b, c = (server_spec(n, 1, d) for n, d in (("a", ()), ("b", ("a",)), ("c", ("b",))))
    specs = {s.name: s for s in (c, b, a)}
    assert dependency_order(specs, ["c"]) == ["a", "b", "c"]
    assert dependents_order(specs, ["a"]) == ["c", "b", "a"]
    assert dependents_order(specs, ["c"]) == ["c"]
    with pytest.raises(KeyError, match="unknown service 'x'"):
        dependency_order(specs, ["x"])


def test_start_stop_in_order_with_logs_and_stats(tmp_path):
    p1, p2 = free_ports(2)
    sup = make(tmp_path, [server_spec("web", p2, ("db",)), server_spec("db", p1)])
    lines = []
    sup.subscribe_logs(lambda name, line: lines.append((name, line)))
    try:
        sup.start(["web"])
        snap = {s.name: s for s in sup.snapshot()}
        assert snap["db"].state == snap["web"].state == "running"
        assert listening(p1) and listening(p2)
        time.sleep(2.5)
        snap = {s.name: s for s in sup.snapshot()}
        assert snap["web"].rss > 1_000_000 and snap["web"].cpu_percent is not None
        assert snap["web"].uptime >= 2
        assert snap["web"].endpoints == {"http": f"127.0.0.1:{p2}"}
        assert ("db", "serving") in lines and ("web", "serving") in lines
        assert "serving" in sup.log_file("web").read_text()
        sup.stop(["db"])  # takes its dependent down first
        assert {s.name: s.state for s in sup.snapshot()} == {"web": "stopped", "db": "stopped"}
        assert not listening(p1) and not listening(p2)
    finally:
        sup.close()


def test_crash_is_reported_with_exit_code_and_last_lines(tmp_path):
    port = free_ports(1)[0]
    flag = tmp_path / "crash"
    code = (f"import os,time,sys,socket; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); "
            f"print('up', flush=True)\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.1)\n"
            "print('disk on fire', flush=True); sys.exit(3)")
    spec = ServiceSpec(name="fragile", title="Fragile", command=lambda: [sys.executable, "-c", code],
                       ready=lambda: Probe(listening(port), "port"), ports={"p": port},
                       restart=RestartPolicy(policy="no"))
    sup = make(tmp_path, [spec])
    try:
        sup.start()
        flag.touch()
        deadline = time.monotonic() + 10
        while sup.status("fragile").state != "failed" and time.monotonic() < deadline:
            time.sleep(0.2)
        st = sup.status("fragile")
        assert st.state == "failed" and st.exit_code == 3
        assert "crashed with exit code 3" in st.message and "restart policy is 'no'" in st.message
        assert "disk on fire" in st.last_lines
    finally:
        sup.close()


def test_failed_start_rolls_back_and_names_the_cause(tmp_path):
    port = free_ports(1)[0]
    bad = ServiceSpec(name="bad", title="Bad", depends_on=("db",),
                      command=lambda: [sys.executable, "-c", "print('missing java'); raise SystemExit(7)"],
                      ready=lambda: Probe(False, "never"))
    sup = make(tmp_path, [server_spec("db", port), bad])
    try:
        with pytest.raises(StartError, match="exited with code 7") as err:
            sup.start()
        assert "missing java" in str(err.value)
        assert sup.status("bad").state == "failed"
        assert sup.status("db").state == "stopped" and not listening(port)
    finally:
        sup.close()


def test_independent_services_start_side_by_side_and_a_failure_rolls_all_back(tmp_path):
    """`a` is ready only once `b` listens, and `b` only once `a` listens: started one after the other,
    neither would ever be ready. `c` needs both; `d` needs `bad`, which fails: `d` is never launched
    and everything started is stopped again."""
    pa, pb, pc = free_ports(3)
    a = dataclasses.replace(server_spec("a", pa), ready=lambda: Probe(listening(pa) and listening(pb), "a and b"),
                            ready_timeout=20)
    b = dataclasses.replace(server_spec("b", pb), ready=lambda: Probe(listening(pa) and listening(pb), "a and b"),
                            ready_timeout=20)
    sup = make(tmp_path, [a, b, server_spec("c", pc, ("a", "b"))])
    try:
        sup.start(["c"])
        assert {s.name: s.state for s in sup.snapshot()} == dict.fromkeys("abc", "running")
    finally:
        sup.close()

    launched = tmp_path / "d-launched"
    bad = ServiceSpec(name="bad", title="Bad", command=lambda: [sys.executable, "-c", "raise SystemExit(7)"],
                      ready=lambda: Probe(False, "never"))
    d = ServiceSpec(name="d", title="D", depends_on=("bad",), ready=lambda: Probe(True, "at once"),
                    command=lambda: [sys.executable, "-c", f"open({str(launched)!r}, 'w')"])
    sup = make(tmp_path / "second", [server_spec("a", pa), bad, d])
    try:
        with pytest.raises(StartError, match="bad: exited with code 7"):
            sup.start()
        assert {s.name: s.state for s in sup.snapshot()} == {"a": "stopped", "bad": "failed", "d": "stopped"}
        assert not listening(pa) and not launched.exists()
    finally:
        sup.close()


def test_stop_escalates_to_sigkill(tmp_path):
    port = free_ports(1)[0]
    stubborn = ("import signal,socket,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); s=socket.socket(); "
                f"s.bind(('127.0.0.1',{port})); s.listen(); print('ignoring SIGTERM', flush=True); time.sleep(600)")
    spec = ServiceSpec(name="stubborn", title="Stubborn", command=lambda: [sys.executable, "-c", stubborn],
                       ready=lambda: Probe(listening(port), "port"), stop_timeout=1.0)
    sup = make(tmp_path, [spec])
    try:
        sup.start()
        pid = sup.status("stubborn").pid
        t0 = time.monotonic()
        sup.stop()
        assert 0.9 < time.monotonic() - t0 < 5
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert sup.status("stubborn").exit_code == -9
    finally:
        sup.close()


def test_control_lines_reach_stdin_and_telemetry_is_parsed(tmp_path):
    import json

    echo = ("import sys,json\nprint(json.dumps({'type':'t','n':0}), flush=True)\n"
            "for i, line in enumerate(sys.stdin, 1):\n"
            "    print(json.dumps({'type':'t','n':i,'cmd':line.strip()}), flush=True)")
    seen = []

    def parse(line):
        data = json.loads(line) if line.startswith("{") else None
        if data:
            seen.append(data)
        return data

    spec = ServiceSpec(name="echo", title="Echo", command=lambda: [sys.executable, "-c", echo],
                       ready=lambda: Probe(bool(seen), "telemetry"), telemetry=parse, accepts_control=True)
    sup = make(tmp_path, [spec])
    try:
        sup.start()
        sup.send_control("echo", "rate 5000")
        deadline = time.monotonic() + 5
        while sup.status("echo").telemetry.get("n") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sup.status("echo").telemetry == {"type": "t", "n": 1, "cmd": "rate 5000"}
    finally:
        sup.close()


def test_stop_cancels_a_start_waiting_for_readiness(tmp_path):
    import threading

    port = free_ports(1)[0]
    slow = ServiceSpec(name="slow", title="Slow", command=lambda: [sys.executable, "-c", SERVER, str(port)],
                       ready=lambda: Probe(False, "never ready"), ready_timeout=120, stop_timeout=5)
    sup = make(tmp_path, [slow])
    errors = []

    def start():
        try:
            sup.start()
        except StartError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=start)
    t.start()
    deadline = time.monotonic() + 10
    while not listening(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    t0 = time.monotonic()
    sup.stop()
    t.join(10)
    try:
        assert time.monotonic() - t0 < 8
        assert errors and "cancelled" in errors[0]
        assert sup.status("slow").state == "stopped" and not listening(port)
    finally:
        sup.close()
