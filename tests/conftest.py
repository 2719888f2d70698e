"""Shared fixtures and test-run policy.

- Qt runs on the offscreen platform (unless QT_QPA_PLATFORM names another), with a desktop-sized
  screen; set here, before anything imports Qt.
- `make_window` builds main windows over the fakes of tests/ui_fakes.py; `spark` is one local
  SparkSession for the session.
- `stack` runs real HDFS + Kafka once per test session in a temp home.
- JVMs compile with C1 only (`_quick_jvms`).
- Time limits: pytest-timeout's default (pyproject) fits ordinary tests; tests on the real stack or
  a local Spark get larger ones here. `hang_guard` backs every limit with faulthandler, which also
  fires when the main thread hangs holding the GIL.
- Garbage collection: from the first Qt test on, cyclic garbage is collected on the main (GUI)
  thread only; see `gui_thread_gc`.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def _offscreen_qt() -> None:
    """Offscreen Qt by default; its screen is 800x800, smaller than the window: make it desktop-sized."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.environ["QT_QPA_PLATFORM"] != "offscreen":
        return
    screen = {"name": "test", "x": 0, "y": 0, "width": 1920, "height": 1200, "logicalDpi": 96,
              "logicalBaseDpi": 96, "dpr": 1}
    path = Path(tempfile.gettempdir()) / "ecomdesk-test-screen.json"
    path.write_text(json.dumps({"screens": [screen]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={path}"


def _quick_jvms() -> None:
    """Every JVM the tests start compiles with C1 only: the services, spark-submit, a standalone worker's
    executors, and the HDFS client JVMs that libhdfs starts inside a process (JAVA_TOOL_OPTIONS reaches
    those too, where the launcher's JDK_JAVA_OPTIONS does not). The tests' JVMs live seconds to
    minutes, and C2's compile threads cost them CPU for speed they never reach: `scripts/bench jvm`
    measured 0.55x the services' CPU and 0.65x the wall time from a stack's start to six batches
    (docs/BENCHMARKS.md, Test suite). The benchmarks keep Java's default."""
    os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1")


def _own_ports() -> None:
    """Each xdist worker draws its stacks' ports from its own slice (ecomdesk.testing.sandbox): two
    workers configure stacks at the same moment, and a port both saw free went to whichever bound it
    first (a broker of the cluster test exited on start in one CI run)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker and count:
        os.environ["ECOMDESK_PORT_SLICE"] = f"{int(worker.removeprefix('gw'))}/{count}"


_offscreen_qt()
_quick_jvms()
_own_ports()
sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["hang_guard", "schedule"]

from stackutil import supervisor_for  # noqa: E402

from ecomdesk.config import Config  # noqa: E402
from ecomdesk.core.supervisor import Supervisor  # noqa: E402
from ecomdesk.testing.sandbox import isolated_config  # noqa: E402


@dataclass
class Stack:
    config: Config
    supervisor: Supervisor
    home: Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """HDFS (NameNode + DataNode) and Kafka, started once and shared by the session's tests."""
    home = tmp_path_factory.mktemp("stack-home")
    config = isolated_config(home)
    sup = supervisor_for(config)
    try:
        sup.start(["hdfs-namenode", "hdfs-datanode", "kafka"])
        yield Stack(config, sup, home)
    finally:
        sup.close()


@pytest.fixture(scope="session")
def spark():
    """One small local SparkSession (local[1] keeps the 2-core machine usable)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]").appName("ecomdesk-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def make_window(qtbot, tmp_path: Path):
    """Builds windows over fakes; at teardown closes them the way the app does, waiting for it."""
    from ui_fakes import FakeHealth, FakeReader, FakeStack, make_config

    from ecomdesk.ui.main_window import MainWindow

    windows = []

    def make(stack=None, reader=None, config=None, installer=None, health=None):
        config = config or make_config(tmp_path)
        stack = stack or FakeStack(tmp_path, config, installer)
        reader = reader or FakeReader()
        window = MainWindow(stack, reader, config, health=health or FakeHealth())
        window.show()
        windows.append(window)
        return window, stack, reader

    yield make
    for window in windows:
        if window.stack.gate is not None:
            window.stack.gate.set()
        if window.isVisible():
            window.stack.stop()  # nothing runs, so closing asks nothing
            window.close()
            qtbot.waitUntil(lambda w=window: not w.isVisible(), timeout=10000)
        window.deleteLater()


# ----- time limits -----------------------------------------------------------------------------
STACK_TIMEOUT = 600  # a test on the real JVM stack; its first test also starts the stack
SPARK_TIMEOUT = 300  # a test on the local SparkSession; its first test also starts the JVM


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts a JVM `jvm` (the real stack, or the local SparkSession, through any
    fixture), so that `scripts/test --quick` can leave them out; raise pytest-timeout's default limit
    (pyproject) for those, unless a test sets its own with @pytest.mark.timeout."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        on_stack = item.get_closest_marker("stack") is not None or "stack" in names
        if on_stack or "spark" in names:
            item.add_marker(pytest.mark.jvm)
        if item.get_closest_marker("timeout") is not None:
            continue
        if on_stack:
            item.add_marker(pytest.mark.timeout(STACK_TIMEOUT))
        elif "spark" in names:
            item.add_marker(pytest.mark.timeout(SPARK_TIMEOUT))


# ----- garbage collection on the GUI thread ----------------------------------------------------
_collector = None  # ecomdesk.ui.gc_collector.GuiCollector, from the first Qt test to the session's end


@pytest.fixture(autouse=True)
def gui_thread_gc(request):
    """Qt tests (those using qtbot): automatic collection off, cyclic garbage collected by a timer on
    the GUI thread (as in the app), so that no reader or pyarrow thread ever destroys a Qt object.

    It stays off for the rest of the session once a Qt test ran: garbage with Qt objects in it can
    surface any time later (a failed test's window freed at the next failure, pyqtgraph's cycles),
    and a later non-Qt test's threads (pyarrow, libhdfs) would then collect it. Non-Qt tests lose
    nothing but collection *during* a test: `pytest_runtest_protocol` below collects on the main
    thread between tests, with the interpreter's thresholds."""
    global _collector
    if "qtbot" not in request.fixturenames:
        yield _collector
        return
    request.getfixturevalue("qapp")
    if _collector is None:
        from ecomdesk.ui.gc_collector import GuiCollector

        _collector = GuiCollector().start()
    yield _collector


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item):
    yield
    if _collector is None:
        return
    # pytest has dropped the test's fixtures now; collect here, on the main thread
    if "qtbot" in getattr(item, "fixturenames", ()):
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents()  # e.g. jobs handed back by workers after the window closed
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the windows' deleteLater
        gc.collect()
    else:
        _collector.check()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _collector
    if _collector is not None:
        _collector.stop()
        _collector = None
