"""`ecomdesk desktop install|uninstall`: the files the freedesktop tools accept, where XDG says."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecomdesk.desktop.entry import APP_ID, ICON_SIZES


def _desktop(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "ECOMDESK_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "ecomdesk", "desktop", *args], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(not (shutil.which("desktop-file-validate") and shutil.which("appstreamcli")),
                    reason="scripts/test installs desktop-file-utils and appstream")
def test_install_writes_valid_files_and_uninstall_removes_them(tmp_path):
    share = tmp_path / "share"
    out = _desktop(tmp_path, "install")
    assert out.returncode == 0, out.stderr
    written = {Path(line) for line in out.stdout.splitlines()}
    entry = share / "applications" / f"{APP_ID}.desktop"
    meta = share / "metainfo" / f"{APP_ID}.metainfo.xml"
    icons = {share / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES}
    icons.add(share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")
    assert written == {entry, meta, *icons}
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    for size in ICON_SIZES:  # PNG header: width and height are big-endian at bytes 16..24
        data = (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20]) == int.from_bytes(data[20:24]) == size

    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert check.returncode == 0 and "error" not in check.stdout, check.stdout
    check = subprocess.run(["appstreamcli", "validate", "--no-net", str(meta)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    keys = configparser.ConfigParser(interpolation=None)
    keys.optionxform = str
    keys.read(entry)
    group = keys["Desktop Entry"]
    exe = Path(group["Exec"])
    assert exe.is_absolute() and os.access(exe, os.X_OK) and exe.name == "ecomdesk"
    assert group["Icon"] == APP_ID
    assert group["StartupWMClass"] == "ecomdesk"  # the window's WM_CLASS (checked under X in test_bundle)
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "ecomdesk" in version.stdout

    out = _desktop(tmp_path, "uninstall")
    assert out.returncode == 0, out.stderr
    assert {Path(line) for line in out.stdout.splitlines()} == written
    assert not any(p.exists() for p in written)


def test_a_data_dir_that_cannot_be_written_is_a_clear_error(tmp_path):
    blocker = tmp_path / "share"
    blocker.write_text("a file where the data dir should be")
    out = _desktop(tmp_path, "install")
    assert out.returncode == 1
    assert f"cannot write {blocker}/" in out.stderr and "Traceback" not in out.stderr
    assert blocker.read_text() == "a file where the data dir should be"
