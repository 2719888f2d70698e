"""The supervisor's event stream: every change passes one checked transition and is published, numbered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from test_restart_policy import FAST, server, wait_for

from ecomdesk.cli.stack import EventPrinter
from ecomdesk.core.control import stream
from ecomdesk.core.events import AlertFired, AlertResolved, EventStream, GaveUp, RestartScheduled, StateChanged
from ecomdesk.core.spec import TRANSITIONS, UP, RestartPolicy, State, TransitionError
from ecomdesk.core.supervisor import ServiceStatus, Supervisor
from ecomdesk.testing.sandbox import free_ports


@pytest.fixture
def make(tmp_path):
    sups: list[Supervisor] = []

    def build(*specs) -> Supervisor:
        sups.append(Supervisor(list(specs), tmp_path / "logs", tmp_path / "run", health_interval=0.5))
        return sups[-1]

    yield build
    for sup in sups:
        sup.close()


def test_events_are_numbered_kept_and_replayed():
    stream = EventStream(keep=3)
    for i in range(5):
        stream.publish(StateChanged, f"s{i}", old="stopped", new="starting", message="")
    assert [e.seq for e in stream.since(0)] == [3, 4, 5]  # the oldest two are no longer kept
    got: list = []
    unsubscribe = stream.subscribe(got.append, since=4)
    stream.publish(GaveUp, "s5", reason="why")
    unsubscribe()
    stream.publish(GaveUp, "s6", reason="not seen")
    assert [(e.seq, e.service) for e in got] == [(5, "s4"), (6, "s5")]
    assert got[1].to_dict() == {"kind": "gave_up", "seq": 6, "at": got[1].at, "service": "s5", "reason": "why"}


def transitions(events, service) -> list[tuple[str, str]]:
    return [(e.old, e.new) for e in events if isinstance(e, StateChanged) and e.service == service]


def test_a_start_a_crash_its_restart_and_a_stop_are_published_in_order(make):
    p1, p2 = free_ports(2)
    sup = make(server("db", p1), server("web", p2, ("db",)))
    events: list = []
    sup.events.subscribe(events.append)
    sup.start()
    os.killpg(sup.status("db").pid, signal.SIGKILL)
    wait_for(lambda: sup.status("db").restarts == 1 and sup.status("web").state == "running", what="back")
    sup.stop()
    assert [e.seq for e in events] == sorted(e.seq for e in events) and len({e.seq for e in events}) == len(events)
    assert transitions(events, "db") == [
        ("stopped", "starting"), ("starting", "running"),  # the user's start
        ("running", "restarting"), ("restarting", "starting"), ("starting", "running"),  # the policy's restart
        ("running", "stopping"), ("stopping", "stopped")]  # the user's stop
    assert transitions(events, "web")[:3] == [("stopped", "starting"), ("starting", "running"),
                                              ("running", "restarting")]  # it restarts with db
    scheduled = [e for e in events if isinstance(e, RestartScheduled)]
    assert [(e.service, e.attempt, e.of) for e in scheduled] == [("db", 1, FAST.attempts)]
    assert "crashed with exit code -9" in scheduled[0].reason
    crash = next(e for e in events if isinstance(e, StateChanged) and e.new == "restarting" and e.service == "db")
    assert crash.seq < scheduled[0].seq and "attempt 1/3" in crash.message


def test_giving_up_is_published(make):
    port = free_ports(1)[0]
    sup = make(server("web", port, restart=RestartPolicy(policy="no")))
    events: list = []
    sup.start()
    sup.events.subscribe(events.append)
    os.killpg(sup.status("web").pid, signal.SIGKILL)
    wait_for(lambda: any(isinstance(e, GaveUp) for e in events), what="gave up")
    assert transitions(events, "web") == [("running", "failed")]
    assert "restart policy is 'no'" in next(e for e in events if isinstance(e, GaveUp)).reason


def test_a_transition_outside_the_state_machine_is_refused(make):
    sup = make(server("web", free_ports(1)[0]))
    rt = sup._rt["web"]
    with pytest.raises(TransitionError, match="web: stopped -> running"):
        sup._transition(rt, State.RUNNING, "ready")
    # a probe's verdict that a stop overtook leaves the state alone, and says nothing
    before = sup.events.last_seq
    assert sup._transition(rt, State.UNHEALTHY, "no answer", only_from=UP) is False
    assert (rt.state, sup.events.last_seq) == (State.STOPPED, before)
    assert set(TRANSITIONS) == set(State)  # every state says where it may go


def test_other_terminals_read_the_events_over_the_control_socket(make, tmp_path):
    sup = make(server("web", free_ports(1)[0]))
    sup.start()
    kept = list(stream(tmp_path / "run", {"op": "events", "since": 0}, 5.0))
    assert [(e["kind"], e["service"], e["old"], e["new"]) for e in kept] == [
        ("state", "web", "stopped", "starting"), ("state", "web", "starting", "running")]
    out = subprocess.run([sys.executable, "-m", "ecomdesk", "stack", "events", "--since", str(kept[0]["seq"])],
                         env={**os.environ, "ECOMDESK_HOME": str(tmp_path)}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line) for line in out.stdout.splitlines()] == kept[1:]  # stdout is the data, nothing else
    follow = stream(tmp_path / "run", {"op": "events", "since": kept[-1]["seq"], "follow": True}, 5.0)
    os.killpg(sup.status("web").pid, signal.SIGKILL)
    crash = next(follow)
    assert (crash["seq"], crash["old"], crash["new"]) == (kept[-1]["seq"] + 1, "running", "restarting")
    assert next(follow)["kind"] == "restart_scheduled"
    follow.close()


def test_stack_up_prints_failures_restarts_recoveries_and_alerts():
    statuses = {"kafka": ServiceStatus("kafka", "Kafka broker", "failed", last_lines=["a", "bind: address in use"],
                                       restarts=2)}
    printer = EventPrinter(statuses.__getitem__)
    stream_ = EventStream()
    said = [printer.line(stream_.publish(kind, "kafka", **fields)) for kind, fields in [
        (StateChanged, {"old": "running", "new": "restarting", "message": "crashed; restarting in 1 s"}),
        (RestartScheduled, {"reason": "crashed", "attempt": 1, "of": 5, "delay": 1.0}),
        (StateChanged, {"old": "restarting", "new": "starting", "message": "preparing"}),
        (StateChanged, {"old": "starting", "new": "running", "message": "ready"}),
        (AlertFired, {"key": "down:kafka", "message": "Kafka broker failed"}),
        (StateChanged, {"old": "running", "new": "failed", "message": "gave up"}),
        (AlertResolved, {"key": "down:kafka", "message": "Kafka broker failed", "started": 0.0}),
    ]]
    assert said == ["kafka restarting: crashed; restarting in 1 s", None, None,
                    "kafka running again after 2 restart(s)", "ALERT kafka: Kafka broker failed",
                    "kafka FAILED: gave up\n  a\n  bind: address in use", "resolved kafka: Kafka broker failed"]
