"""The installed package is the product: a wheel built from the checkout runs the whole pipeline from
a fresh venv, in a directory that is not the checkout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from stackutil import wait_running
from xwindow import wait_for_window, xvfb

from ecomdesk.data import contract as C
from ecomdesk.data.hdfs import hadoop_filesystem
from ecomdesk.testing.sandbox import isolated_config

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package_of_the_tree():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ecomdesk").rglob("__init__.py")}
    mapped = {name for name, folder in setuptools["package-dir"].items() if (ROOT / folder / "__init__.py").exists()}
    assert set(setuptools["packages"]) == on_disk | mapped
    assert mapped == {"ecomdesk.resources", "ecomdesk.jobs"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (path,) = out.glob("ecomdesk-*.whl")
    return path


def test_wheel_holds_the_resources_and_the_job(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert {f"ecomdesk/resources/{f}" for f in shipped} <= names
    assert {f"ecomdesk/jobs/{j}" for j in ("ecommerce_stream.py", "classroom_baseline.py", "ceiling_raw.py",
                                                     "rebuild_aggregates.py", "train_classes.py")} <= names
    assert not [n for n in names if n.startswith(("tests/", "resources/", "jobs/"))]


def _run(venv: Path, *args: str, env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "ecomdesk"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its dependencies installed by pip, as a user would."""
    venv = tmp_path_factory.mktemp("wheel") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, capture_output=True, timeout=900)
    return venv


@pytest.mark.stack
def test_installed_wheel_opens_its_window(venv, tmp_path):
    isolated_config(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with xvfb() as display:
        env |= {"ECOMDESK_HOME": str(tmp_path / "home"), "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        app = subprocess.Popen([str(venv / "bin" / "ecomdesk")], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=open(tmp_path / "app.log", "w"))
        window, after = wait_for_window(display, app, tmp_path / "app.log")
        print(f"installed wheel's window visible after {after:.1f} s")
        app.send_signal(signal.SIGTERM)
        try:
            # 120 s, as for the bundle's window; and never a process left behind (a SIGTERM that arrived while
            # the window submitted a read used to deadlock the app: ecomdesk/ui/app.py)
            assert app.wait(120) == 0
        finally:
            if app.poll() is None:
                app.kill()
                app.wait(10)


@pytest.mark.stack
def test_installed_wheel_runs_the_pipeline(venv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = isolated_config(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"ECOMDESK_HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import ecomdesk, sys; print(ecomdesk.__file__)"],
                           env=env, cwd=elsewhere, capture_output=True, text=True, check=True)
    assert probe.stdout.startswith(str(venv)), probe.stdout

    # the class-data archives are made and mapped in tests/test_cds.py; this venv's Spark would need its own
    setup = _run(venv, "setup", "--no-class-archives", env=env, cwd=elsewhere, timeout=900)
    assert setup.returncode == 0, setup.stderr
    assert setup.stdout == "" and "stack already installed" in setup.stderr  # its progress goes to stderr
    owner = subprocess.Popen([str(venv / "bin" / "ecomdesk"), "stack", "up", "hdfs-namenode", "hdfs-datanode",
                              "kafka", "spark-job"], env=env, cwd=elsewhere, stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / "stack.log", "w"))
    try:
        _wait_running(venv, env, elsewhere, owner, ("hdfs-namenode", "hdfs-datanode", "kafka", "spark-job"))
        ledger = tmp_path / "ledger.parquet"
        produce = _run(venv, "produce", "--count", "3000", "--rate", "0", "--seed", "5", "--ledger", str(ledger),
                       env=env, cwd=elsewhere)
        assert produce.returncode == 0, produce.stderr
        sent = pd.read_parquet(ledger)
        purchases = sent[sent.event_type == "purchase"]
        views = sent[sent.event_type == "page_view"].groupby("category").size().to_dict()
        # wait in this process (the contract's reader) until the job has counted every purchase and view,
        # then ask the installed CLI: a query process per poll cost a Python and a JVM start each time
        fs, base = hadoop_filesystem(config), config.hdfs.base_path
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            counted = C.read_current(fs, "sales_per_minute", base)["total_orders"].sum() + C.read_current(
                fs, "views_by_category", base)["views"].sum()
            if counted >= len(purchases) + sum(views.values()):
                break
            time.sleep(1)
        sales = _query(venv, env, elsewhere, "sales_per_minute")
        by_category = {r["category"]: r["views"] for r in _query(venv, env, elsewhere, "views_by_category")}
        orders = sum(r["total_orders"] for r in sales)
        assert orders == len(purchases)
        assert sum(r["total_sales"] for r in sales) == pytest.approx(purchases.price.astype(float).sum(), rel=1e-9)
        assert by_category == views
    finally:
        down = _run(venv, "stack", "down", env=env, cwd=elsewhere)
        owner.wait(120)
    assert down.returncode == 0, down.stderr
    assert config.paths.log_dir.exists()


def _query(venv: Path, env: dict, cwd: Path, name: str) -> list[dict]:
    out = _run(venv, "query", name, "--format", "json", env=env, cwd=cwd, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _wait_running(venv: Path, env: dict, cwd: Path, owner: subprocess.Popen, names: tuple[str, ...]) -> None:
    wait_running(Path(env["ECOMDESK_HOME"]), names, owner)
    status = _run(venv, "stack", "status", "--json", env=env, cwd=cwd, timeout=60)  # the installed CLI says so too
    states = {s["name"]: s["state"] for s in json.loads(status.stdout)["services"]}
    assert all(states[n] == "running" for n in names), states
