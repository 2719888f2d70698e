"""The standalone bundle (scripts/package --with-stack): its window opens under a real X server, and it
runs Kafka on a machine that has a Java runtime but no Maven, gcc, Python or ecomdesk cache."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from stackutil import wait_running
from xwindow import wait_for_window, wm_class, xvfb

from ecomdesk.desktop.entry import launcher
from ecomdesk.install_layout import find_java_home
from ecomdesk.testing.sandbox import isolated_config

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "ecomdesk"
pytestmark = [pytest.mark.stack, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def bundle() -> Path:
    t0 = time.monotonic()
    out = subprocess.run([str(ROOT / "scripts" / "package"), "--with-stack"], capture_output=True, text=True,
                         timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    print(f"scripts/package --with-stack: {time.monotonic() - t0:.0f} s; {out.stderr.strip().splitlines()[-1]}")
    assert (BUNDLE / "ecomdesk").is_file()
    assert (ROOT / out.stdout.strip()).is_file()  # the tarball it names on stdout
    return BUNDLE / "ecomdesk"


@pytest.fixture
def bare_env(tmp_path) -> dict[str, str]:
    """A machine with only Java: PATH holds `java` alone, the ecomdesk cache is empty, no Python setup."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(find_java_home() / "bin" / "java")
    for tool in ("bash", "sh", "env", "dirname", "basename", "uname"):  # what Kafka's and Hadoop's scripts use
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    isolated_config(tmp_path / "home")
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), "ECOMDESK_HOME": str(tmp_path / "home"),
            "ECOMDESK_CACHE": str(tmp_path / "empty-cache"), "LANG": "C.UTF-8"}


def test_the_bundle_needs_no_maven_gcc_or_cache_to_run_kafka(bundle, bare_env, tmp_path):
    version = subprocess.run([str(bundle), "--version"], env=bare_env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert f"installed in {BUNDLE / 'stack'}" in version.stdout
    assert shutil.which("mvn", path=bare_env["PATH"]) is None and shutil.which("gcc", path=bare_env["PATH"]) is None
    owner = subprocess.Popen([str(bundle), "stack", "up", "kafka"], env=bare_env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / "up.log", "w"))
    try:
        wait_running(Path(bare_env["ECOMDESK_HOME"]), ["kafka"], owner, timeout=180)
        status = subprocess.run([str(bundle), "stack", "status", "--json"], env=bare_env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        kafka = {s["name"]: s for s in json.loads(status.stdout)["services"]}["kafka"]
        assert kafka["state"] == "running", (tmp_path / "up.log").read_text()[-3000:]
        assert "3 topic(s)" in kafka["message"] or "created orders, cart_events, page_views" in kafka["message"]
    finally:
        down = subprocess.run([str(bundle), "stack", "down"], env=bare_env, capture_output=True, text=True,
                              timeout=120)
        owner.wait(60)
    assert down.returncode == 0, down.stderr


def test_the_bundle_opens_its_window(bundle, bare_env, tmp_path):
    with xvfb() as display:
        env = {**bare_env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        app = subprocess.Popen([str(bundle)], env=env, stdout=subprocess.DEVNULL,
                               stderr=open(tmp_path / "app.log", "w"))
        window, after = wait_for_window(display, app, tmp_path / "app.log")
        print(f"bundle window visible after {after:.1f} s")
        assert '"ecomdesk", "ecomdesk"' in wm_class(display, window)  # the desktop entry's StartupWMClass
        app.send_signal(signal.SIGTERM)  # closes the window the normal way (reads in flight finish first)
        assert app.wait(120) == 0


def test_the_bundle_is_its_own_launcher(bundle):
    """`ecomdesk desktop install` from the bundle points the menu entry at the bundle's executable."""
    out = subprocess.run([str(bundle), "-c", "from ecomdesk.desktop.entry import launcher; print(launcher())"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(bundle.resolve())
    assert launcher() != bundle  # the test's own Python resolves to its venv's script instead
