"""Cancelling `ecomdesk setup` (the GUI's Cancel) stops Maven at once and leaves no half-installed part."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from ecomdesk.install_layout import (
    COMPONENTS,
    DONE,
    Installation,
    NotInstalled,
    installed_at,
    pom_digest,
    stack_dir,
)
from ecomdesk.stack.install import setup


def _processes_using(path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(str(path) in arg for arg in p.info["cmdline"] or []):
            found.append(p)
    return found


def test_cancel_kills_maven_and_removes_the_part_in_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMDESK_CACHE", str(tmp_path / "cache"))
    cancel = threading.Event()
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("[1/"):  # Maven is about to start: cancel while it runs
            threading.Timer(1.5, cancel.set).start()

    t0 = time.monotonic()
    with pytest.raises(setup.SetupCancelled):
        setup.run(say, cancel)
    took = time.monotonic() - t0
    assert took < 30, f"cancel took effect after {took:.1f} s"
    root = stack_dir()
    assert installed_at() is None
    assert not (root / COMPONENTS[0] / DONE).exists()
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []  # no half-resolved temp dir
    deadline = time.monotonic() + 10
    while _processes_using(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(root) == []
    assert any(line.startswith("[1/") for line in lines)
    maven_log = (root / f"mvn-{COMPONENTS[0]}.log").read_text()
    assert "BUILD SUCCESS" not in maven_log and "BUILD FAILURE" not in maven_log  # killed mid-run, not finished


def test_a_part_resolved_from_another_pom_is_out_of_date(tmp_path, monkeypatch):
    """A jar pinned in the pom after an install must reach the machines that installed before it."""
    monkeypatch.setenv("ECOMDESK_CACHE", str(tmp_path / "cache"))
    root = stack_dir()
    for c in COMPONENTS:
        (root / c).mkdir(parents=True)
        (root / c / DONE).write_text(pom_digest() + "\n")
    assert installed_at() == root
    (root / "kafka" / DONE).write_text("mvn -P kafka dependency:copy-dependencies\n")  # an older setup's marker
    assert installed_at() is None
    with pytest.raises(NotInstalled, match="out of date"):
        Installation(root, tmp_path).jars("kafka")
