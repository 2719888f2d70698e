"""One set of behaviour tests for the `Stack` the window talks to, run against the real one and the fake.

The real one is `LocalStack` over the real Supervisor running small stand-in processes under the real
catalog's names, titles and dependencies; the fake is tests/ui_fakes.py's `FakeStack`, which runs nothing.
Whatever the window may rely on is asserted here for both, so that the fake cannot drift from the real."""

from __future__ import annotations

import dataclasses
import sys
from typing import get_type_hints

import pytest
from stackutil import listening
from ui_fakes import FakeInstaller, FakeStack, make_config

from ecomdesk.core.events import StateChanged
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.stack.catalog import build_specs
from ecomdesk.stack.door import LocalStack, Stack, build_supervisor
from ecomdesk.testing.sandbox import free_ports

SERVER = "import http.server,sys; http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), " \
         "http.server.BaseHTTPRequestHandler).serve_forever()"


def stand_in(spec: ServiceSpec, port: int) -> ServiceSpec:
    """The catalog's service with a small server in place of its process (no JVM)."""
    return dataclasses.replace(spec, command=lambda: [sys.executable, "-c", SERVER, str(port)],
                               ready=lambda: Probe(listening(port), f"port {port}"), health=None, prepare=None,
                               env=dict, data_dir=None, ports={"http": port}, stop_timeout=5, ready_timeout=30)


@pytest.fixture(params=["real", "fake"])
def stack(request, tmp_path):
    config = make_config(tmp_path)
    if request.param == "fake":
        made = FakeStack(tmp_path, config)
    else:
        specs = build_specs(config)
        specs = [stand_in(s, port) for s, port in zip(specs, free_ports(len(specs)), strict=True)]
        made = LocalStack(config, build_supervisor(config, specs), FakeInstaller())
    events: list = []
    made.subscribe(events.append)
    made.seen = events  # type: ignore[attr-defined]
    yield made
    made.close()


def states(stack) -> dict[str, str]:
    return {s.name: s.state for s in stack.snapshot()}


def changes(stack, since: int = 0) -> list[tuple[str, str]]:
    return [(e.service, e.new) for e in stack.seen if isinstance(e, StateChanged) and e.seq > since]


def test_both_implement_the_protocol(stack):
    members = {m for m in dir(Stack) if not m.startswith("_")} | set(get_type_hints(Stack))
    assert {m for m in members if not hasattr(stack, m)} == set()


def test_a_start_brings_its_dependencies_first_and_nothing_else(stack):
    stack.start(["spark-job"])
    assert states(stack) == {"hdfs-namenode": "running", "hdfs-datanode": "running", "kafka": "running",
                             "spark-job": "running", "producer": "stopped"}
    order = changes(stack)
    for dependency in ("hdfs-datanode", "kafka"):
        assert order.index((dependency, "running")) < order.index(("spark-job", "starting"))
    assert ("hdfs-namenode", "running") in order and not any(name == "producer" for name, _ in order)


def test_a_restart_restarts_what_runs_on_the_service(stack):
    stack.start()
    mark = stack.events.last_seq
    stack.restart("kafka")
    assert set(states(stack).values()) == {"running"}
    restarted = {name for name, new in changes(stack, mark) if new == "stopped"}
    assert restarted == {"kafka", "spark-job", "producer"}  # not HDFS, which kafka does not run on


def test_a_restart_leaves_stopped_dependents_stopped(stack):
    stack.start()
    stack.stop(["producer"])
    stack.restart("kafka")
    assert states(stack)["producer"] == "stopped" and states(stack)["spark-job"] == "running"


def test_a_stop_takes_the_services_that_run_on_it(stack):
    stack.start()
    stack.stop(["hdfs-namenode"])
    assert states(stack) == {"hdfs-namenode": "stopped", "hdfs-datanode": "stopped", "kafka": "running",
                             "spark-job": "stopped", "producer": "running"}
    assert [new for name, new in changes(stack) if name == "spark-job"][-2:] == ["stopping", "stopped"]


def test_control_lines_go_to_a_running_service_that_takes_them(stack):
    with pytest.raises(RuntimeError, match="producer is not running"):
        stack.send_control("producer", "pause")
    stack.start(["producer"])
    stack.send_control("producer", "pause")
    with pytest.raises(ValueError, match="kafka takes no control commands"):
        stack.send_control("kafka", "pause")


def test_the_snapshot_names_the_catalog_services(stack, tmp_path):
    catalog = build_specs(make_config(tmp_path / "other"))
    assert [(s.name, s.title) for s in stack.snapshot()] == [(s.name, s.title) for s in catalog]
    assert stack.installed() and stack.destroy_plan() == []
