"""`ecomdesk` says why it cannot open a window, instead of Qt's abort that names no cause."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from ecomdesk.desktop.display import missing_libraries, package_of, window_problem, xcb_plugin


def _plugin_missing_a_library(tmp_path):
    """A shared object linked against a library that is then removed, like an xcb plugin on a bare machine."""
    (tmp_path / "dep.c").write_text("int dep(void) { return 1; }\n")
    (tmp_path / "plug.c").write_text("int dep(void);\nint plug(void) { return dep(); }\n")
    dep = tmp_path / "libxcb-ecomdesktest.so.4"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(dep), str(tmp_path / "dep.c"),
                    f"-Wl,-soname,{dep.name}"], check=True)
    plugin = tmp_path / "libqfake.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plugin), str(tmp_path / "plug.c"), f"-L{tmp_path}",
                    f"-l:{dep.name}"], check=True)
    dep.unlink()
    return plugin


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the test's shared objects")
def test_names_the_missing_library_and_its_package(tmp_path):
    plugin = _plugin_missing_a_library(tmp_path)
    assert missing_libraries(plugin) == ["libxcb-ecomdesktest.so.4"]
    problem = window_problem({"DISPLAY": "localhost:10"}, plugin=plugin)
    assert "libxcb-ecomdesktest.so.4 not found" in problem
    assert "sudo apt-get install -y libxcb-ecomdesktest4" in problem


def test_the_real_plugin_loads_here():
    assert xcb_plugin() is not None and xcb_plugin().exists()
    assert missing_libraries(xcb_plugin()) == []


@pytest.mark.parametrize(("soname", "package"), [
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"), ("libdbus-1.so.3", "libdbus-1-3"), ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
])
def test_debian_package_names(soname, package):
    assert package_of(soname) == package


def test_other_platforms_and_wayland_are_not_checked():
    assert window_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert window_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None


def test_no_display_is_said_before_qt_loads():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "ecomdesk"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "DISPLAY is not set" in out.stderr
    assert "Could not load the Qt platform plugin" not in out.stderr


def test_an_x_display_nobody_serves():
    problem = window_problem({"DISPLAY": ":93"})
    assert problem is not None and ":93" in problem


def test_version_names_the_stack():
    out = subprocess.run([sys.executable, "-m", "ecomdesk", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for name in ("ecomdesk", "Apache Kafka", "Apache Hadoop", "Apache Spark", "stack"):
        assert name in out.stdout
    assert "installed in" in out.stdout or "not installed" in out.stdout
