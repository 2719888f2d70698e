"""The longest test files first, so that two workers (pytest-xdist, `--dist loadfile`) end together.

`scripts/test` runs the suite on two workers, each taking whole files (a file's module fixtures, such
as a cluster or a bundle, are built once). xdist hands the files out in collection order, so this
plugin sorts the collection by each file's measured seconds (setup + call + teardown of its tests),
from tests/durations.json, longest first: the classic longest-processing-time rule, whose finish is
within 4/3 of the best possible. A file not in the table counts as short.

One exception: a file marked `quiet_neighbour` (the chaos tests, whose five services and four starts of
the Spark job took 1.6x as long beside the cluster's eight JVMs as alone) comes first, and the files that start
no JVM right after it, so that the other worker runs those meanwhile; the rest follow longest first.

`--store-durations` writes the table from the run that is ending (run the whole suite for that).

Loaded by tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

TABLE = Path(__file__).with_name("durations.json")
_spent: dict[str, float] = defaultdict(float)  # file -> seconds in this run (on xdist's controller: all workers')


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store-durations", action="store_true",
                     help=f"write each test file's seconds in this run to tests/{TABLE.name} (whole runs only)")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    try:
        seconds = json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return
    jvm_files = {_file(item.nodeid) for item in items if item.get_closest_marker("jvm")}
    first = {_file(item.nodeid) for item in items if item.get_closest_marker("quiet_neighbour")}

    def rank(item: pytest.Item) -> tuple[int, float]:
        f = _file(item.nodeid)
        return 0 if f in first else 1 if f not in jvm_files else 2, -float(seconds.get(f, 0.0))

    items.sort(key=rank)  # stable: order within a file kept


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _spent[_file(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not config.getoption("store_durations") or hasattr(config, "workerinput"):  # the controller writes
        return
    ranked = sorted(_spent.items(), key=lambda kv: -kv[1])
    TABLE.write_text(json.dumps({f: round(s, 1) for f, s in ranked}, indent=1) + "\n")
