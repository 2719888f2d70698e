"""Whether Qt can open a window here, asked before Qt is loaded.

When its xcb platform plugin cannot load (an X11 library missing) or there is no display, Qt aborts
the process with "Could not load the Qt platform plugin xcb", which names neither the library nor the
package to install. `ldd` of the plugin names what is missing; Debian's package names follow from the
sonames.

    python -m ecomdesk.desktop.display --packages   # the Debian packages to install, or nothing
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# sonames whose Debian package does not follow the usual rule (see `package_of`)
_PACKAGES = {"libglib-2.0.so.0": "libglib2.0-0", "libOpenGL.so.0": "libopengl0"}
_OTHER_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "wayland", "vkkhrdisplay")


def xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"


def missing_libraries(binary: Path) -> list[str]:
    """Sonames the dynamic loader cannot find for `binary` and what it loads (empty when ldd is absent)."""
    ldd = shutil.which("ldd")
    if ldd is None or not binary.exists():
        return []
    out = subprocess.run([ldd, str(binary)], capture_output=True, text=True, timeout=30).stdout
    return sorted({m.group(1) for m in re.finditer(r"^\s*(\S+) => not found", out, re.M)})


def package_of(soname: str) -> str:
    """Debian's package for a shared library: libfoo-bar.so.1 -> libfoo-bar1, libfoo-x11.so.0 -> libfoo-x11-0."""
    if soname in _PACKAGES:
        return _PACKAGES[soname]
    name, _, version = soname.partition(".so.")
    name, version = name.lower(), version.split(".")[0]
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def window_problem(env: Mapping[str, str] = os.environ, plugin: Path | None = None) -> str | None:
    """Why Qt could not open a window with this environment, or None when nothing stands in the way."""
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in _OTHER_PLATFORMS or (not platform and env.get("WAYLAND_DISPLAY")):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return ("there is no display to open a window on (DISPLAY is not set): start ecomdesk from a desktop "
                "session, or use `ecomdesk stack up|status|down` in a terminal")
    local = re.fullmatch(r":(\d+)(\.\d+)?", display)
    if local and not Path(f"/tmp/.X11-unix/X{local.group(1)}").exists():
        return f"cannot connect to the X display {display} (no X server listens on it)"
    missing = missing_libraries(plugin or xcb_plugin() or Path("/nonexistent"))
    if missing:
        return (f"Qt's xcb platform plugin cannot load: {', '.join(missing)} not found.\n"
                f"Install them: sudo apt-get install -y {' '.join(packages(missing))}")
    return None


def packages(sonames: list[str]) -> list[str]:
    return sorted({package_of(s) for s in sonames})


def main(argv: list[str]) -> int:
    if argv == ["--packages"]:
        plugin = xcb_plugin()
        print(" ".join(packages(missing_libraries(plugin))) if plugin else "")
        return 0
    problem = window_problem()
    print(problem or "Qt can open a window here", file=sys.stderr)
    return 1 if problem else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
