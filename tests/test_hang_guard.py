"""A hung test is reported with its stacks within its limit (plus a margin), and the run ends,
also when the main thread hangs in C code holding the GIL (issue 9: pytest-timeout alone never fired).

Each case runs a child pytest with this repo's pytest configuration (pyproject) and the hang_guard
plugin that tests/conftest.py loads, on a generated test file, with the limit and margin cut to seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"
LIMIT, MARGIN = 2, 2
BOUND = 60  # seconds for the whole child run: interpreter and pytest start-up on a loaded machine

HUNG = """
import ctypes
import time


def test_{name}():
    {body}


def test_never_reached():
    pass
"""

CASES = {
    # PyDLL keeps the GIL while the C function runs, as QLabel.setText waiting for a Qt mutex did
    "blocked_in_c_holding_the_gil": "ctypes.PyDLL(None).sleep(600)",
    # releases the GIL: pytest-timeout's own timer thread fires first
    "blocked_in_c_without_the_gil": "time.sleep(600)",
}


def run_child(tmp_path: Path, name: str, *, guard: bool = True, timeout: float = BOUND):
    (tmp_path / "test_hung.py").write_text(HUNG.format(name=name, body=CASES[name]))
    cmd = [sys.executable, "-m", "pytest", "-c", str(PYPROJECT), "--rootdir", str(tmp_path), "-q",
           "-p", "no:cacheprovider", "-o", f"timeout={LIMIT}", "test_hung.py"]
    if guard:
        cmd[3:3] = ["-p", "hang_guard", "-o", f"hang_guard_margin={MARGIN}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return proc, time.monotonic() - start


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hung_test_is_reported_with_its_stack_and_the_run_ends(tmp_path, name):
    proc, took = run_child(tmp_path, name)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert took < BOUND
    assert re.search(rf'test_hung\.py", line 7,? in test_{name}\b', out), out  # the hung test's own frame
    assert "test_never_reached" not in out
    if name == "blocked_in_c_holding_the_gil":  # pytest-timeout could not fire: faulthandler did
        assert "Timeout (0:00:0" in out and "Thread 0x" in out, out
    else:  # pytest-timeout's thread method fired at the limit, with every thread's stack
        assert "Timeout" in out and "Stack of MainThread" in out, out


def test_without_the_guard_a_hang_holding_the_gil_outlives_pytest_timeouts_limit(tmp_path):
    """Why the guard exists: the thread method's timer needs the GIL and never fires here."""
    with pytest.raises(subprocess.TimeoutExpired):
        run_child(tmp_path, "blocked_in_c_holding_the_gil", guard=False, timeout=LIMIT + MARGIN + 8)


def test_the_suite_runs_with_the_guard_and_the_thread_method(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("hang_guard")
    assert pytestconfig.getini("timeout_method") == "thread"
    assert float(pytestconfig.getini("timeout")) <= 300
