"""`ecomdesk query` on the real HDFS: stdout carries the data and nothing else (issue 9, item 6).

The CLI starts the HDFS client JVM (libhdfs) inside its own process; whatever that JVM logs must
not reach stdout. A contract version is written to the real HDFS with the job's own writer
(`testing.contract_data.publish`), then every aggregate and `quarantine` is queried in both
formats in a subprocess, and its stdout is parsed whole and compared with the in-process readers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import uuid

import pandas as pd
import pytest

from ecomdesk.cli.query import QUARANTINE
from ecomdesk.data import contract
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.paths import Paths
from ecomdesk.testing.contract_data import publish, sample_frames
from ecomdesk.testing.sandbox import isolated_config

pytestmark = pytest.mark.stack

NAMES = [*contract.AGGREGATES, QUARANTINE]
NOISE = "native-hadoop"  # what log4j's NativeCodeLoader says on every JVM start when allowed to


@pytest.fixture(scope="module")
def published(stack, tmp_path_factory):
    """A home whose config points at the session's HDFS, under a base path of its own holding one
    committed contract version; returns (home, config, expected frames by query name)."""
    home = tmp_path_factory.mktemp("query-home")
    config = dataclasses.replace(
        stack.config,
        paths=Paths(home / "config", home / "data", home / "logs", home / "run").ensure(),
        hdfs=dataclasses.replace(stack.config.hdfs, base_path=f"/q{uuid.uuid4().hex[:6]}-ecommerce"),
    )
    config.save()
    fs = hadoop_filesystem(config)
    base = config.hdfs.base_path
    publish(fs, base, sample_frames(days=1, products=4, users=40)).close()
    expected = {name: contract.read_current(fs, name, base) for name in contract.AGGREGATES}
    expected["top_products"] = contract.top_products(fs, config.spark.top_n, base)
    expected[QUARANTINE] = contract.quarantine_counts(fs, base)
    assert all(len(df) for df in expected.values())
    return home, config, expected


def cli(home, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m ecomdesk ARGS` for `home`, with LIBHDFS_OPTS only if given here: this test
    process has set its own (hadoop_filesystem), and the CLI must choose its JVM options itself."""
    base = {k: v for k, v in os.environ.items() if k != "LIBHDFS_OPTS"}
    return subprocess.run([sys.executable, "-m", "ecomdesk", *args], env={**base, **env, "ECOMDESK_HOME": str(home)},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def as_printed(df: pd.DataFrame) -> pd.DataFrame:
    """The reader's frame with timestamps as the CLI prints them."""
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if str(df[c].dtype).startswith("datetime64"):
            df[c] = df[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return df


def parse(fmt: str, stdout: str, columns: list[str], text_columns: list[str]) -> pd.DataFrame:
    """stdout parsed as a whole: anything but the data makes this fail."""
    if fmt == "json":
        records = json.loads(stdout)
        assert isinstance(records, list)
        assert all(list(r) == columns for r in records)
        return pd.DataFrame.from_records(records, columns=columns)
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows and rows[0] == columns
    assert all(len(r) == len(columns) for r in rows[1:])
    return pd.read_csv(io.StringIO(stdout), dtype={c: str for c in text_columns}, keep_default_na=False,
                       float_precision="round_trip")


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("name", NAMES)
def test_stdout_is_only_the_data(published, name, fmt):
    home, _, expected = published
    r = cli(home, "query", name, "--format", fmt)
    assert r.returncode == 0, r.stderr
    want = as_printed(expected[name])
    text = [c for c in want.columns if want[c].dtype == object]
    got = parse(fmt, r.stdout, list(want.columns), text)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)
    assert NOISE not in r.stdout


def test_jvm_output_on_stdout_goes_to_stderr(published, tmp_path):
    """Even a JVM told to log to stdout (here: a user's own log4j configuration) cannot reach the data."""
    home, _, expected = published
    noisy = tmp_path / "noisy-log4j2.properties"
    noisy.write_text("appender.out.type = Console\nappender.out.name = OUT\nappender.out.target = SYSTEM_OUT\n"
                     "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = JVM %p %c: %m%n\n"
                     "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n")
    opts = f"-Xmx256m -Xrs -Dlog4j2.configurationFile={noisy.as_uri()}"
    for fmt in ("json", "csv"):
        r = cli(home, "query", "views_by_category", "--format", fmt, LIBHDFS_OPTS=opts)
        assert r.returncode == 0, r.stderr
        want = as_printed(expected["views_by_category"])
        pd.testing.assert_frame_equal(parse(fmt, r.stdout, list(want.columns), ["category"]), want,
                                      check_dtype=False, check_exact=True)
        assert NOISE in r.stderr and NOISE not in r.stdout


def test_produce_json_prints_only_json_lines(published):
    """`produce --json` (librdkafka inside) is a data command too: every stdout line is one JSON object."""
    home, config, _ = published
    r = cli(home, "produce", "--count", "200", "--rate", "0", "--json", "--topic-prefix",
            f"q{uuid.uuid4().hex[:6]}-")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines and lines[-1].get("final") and lines[-1]["delivered"] == 200


def test_query_with_the_namenode_down_fails_clearly_and_prints_no_data(tmp_path):
    home = tmp_path / "home"
    config = isolated_config(home)  # nothing runs on its ports
    out = cli(home, "query", "views_by_category", "--format", "json")
    assert out.returncode == 1 and out.stdout == ""
    assert f"NameNode 127.0.0.1:{config.ports.namenode_rpc} unreachable" in out.stderr
