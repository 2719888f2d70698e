"""`ecomdesk desktop install|uninstall [--system]`: the menu entry, icons and AppStream metainfo.

Files go to the XDG data dir (`$XDG_DATA_HOME`, else ~/.local/share; /usr/local/share with --system).
The entry's Exec is the absolute path of the launcher that runs this code, so the menu starts the
same installation (venv, pipx or bundle) whatever PATH the desktop session has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ecomdesk import __version__
from ecomdesk.paths import resource

APP_ID = "io.github.ecomdesk"
ICON_SIZES = (48, 128, 256)
SYSTEM_DATA_DIR = Path("/usr/local/share")


class DesktopError(RuntimeError):
    """The desktop files cannot be written or there is no launcher to point them at."""


def data_dir(system: bool) -> Path:
    if system:
        return SYSTEM_DATA_DIR
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher() -> Path:
    """The `ecomdesk` executable of this installation: the bundle itself, or the script beside this Python."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve()
    beside = Path(sys.executable).parent / "ecomdesk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("ecomdesk")
    if found is None:
        raise DesktopError("no `ecomdesk` launcher found beside this Python or on PATH; install the package first")
    return Path(found).absolute()


def _exec_arg(path: Path) -> str:
    """A path as one argument of a desktop entry's Exec key (quoted and escaped as the spec says)."""
    text = str(path)
    if not any(c in text for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return text
    escaped = text.replace("\\", "\\\\\\\\").replace('"', '\\\\"').replace("`", "\\\\`").replace("$", "\\\\$")
    return f'"{escaped}"'


def desktop_files(root: Path, exe: Path) -> dict[Path, bytes]:
    """Every file the entry consists of, by its path under `root`."""
    entry = resource("desktop", "ecomdesk.desktop").read_text()
    entry = entry.replace("@EXEC@", _exec_arg(exe)).replace("@ICON@", APP_ID)
    meta = resource("desktop", "ecomdesk.metainfo.xml").read_text()
    meta = meta.replace("@ID@", APP_ID).replace("@VERSION@", __version__)
    icons = root / "icons" / "hicolor"
    files = {
        root / "applications" / f"{APP_ID}.desktop": entry.encode(),
        root / "metainfo" / f"{APP_ID}.metainfo.xml": meta.encode(),
        icons / "scalable" / "apps" / f"{APP_ID}.svg": resource("icons", "ecomdesk.svg").read_bytes(),
    }
    for size in ICON_SIZES:
        png = resource("icons", f"ecomdesk-{size}.png")
        files[icons / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = png.read_bytes()
    return files


def install(system: bool = False) -> list[Path]:
    root = data_dir(system)
    files = desktop_files(root, launcher())
    for path, data in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise DesktopError(f"cannot write {path}: {exc.strerror}{_hint(system)}") from exc
    _refresh_caches(root)
    return sorted(files)


def uninstall(system: bool = False) -> list[Path]:
    root = data_dir(system)
    removed = []
    for path in desktop_files(root, Path("ecomdesk")):
        if path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise DesktopError(f"cannot remove {path}: {exc.strerror}{_hint(system)}") from exc
            removed.append(path)
    _refresh_caches(root)
    return sorted(removed)


def _hint(system: bool) -> str:
    return " (--system writes for every user: run it as root)" if system and os.geteuid() != 0 else ""


def _refresh_caches(root: Path) -> None:
    """Menus and icon themes read caches; refresh them where the tools exist (nothing breaks without them)."""
    for cmd in (["update-desktop-database", "-q", str(root / "applications")],
                ["gtk-update-icon-cache", "-q", "-t", str(root / "icons" / "hicolor")]):
        if shutil.which(cmd[0]) and Path(cmd[-1]).is_dir():
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
