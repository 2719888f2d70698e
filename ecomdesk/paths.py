"""Where ecomdesk keeps things.

`ECOMDESK_HOME=<dir>` puts config, data, logs and runtime state under one directory so that
tests and scripts can run isolated stacks. The installed JVM stack is shared between homes
(it is large and read-only) and lives in the user cache dir, or in `ECOMDESK_CACHE`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import platformdirs

APP = "ecomdesk"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    run_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    def ensure(self) -> Paths:
        for d in (self.config_dir, self.data_dir, self.log_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> Paths:
    home = os.environ.get("ECOMDESK_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "config", root / "data", root / "logs", root / "run")
    dirs = platformdirs.PlatformDirs(APP)
    return Paths(
        Path(dirs.user_config_dir),
        Path(dirs.user_data_dir),
        Path(dirs.user_log_dir),
        Path(dirs.user_runtime_dir) if os.environ.get("XDG_RUNTIME_DIR") else Path(dirs.user_state_dir) / "run",
    )


def cache_root() -> Path:
    """Root of the shared, versioned install cache (JVM jars, libhdfs)."""
    override = os.environ.get("ECOMDESK_CACHE")
    return Path(override).expanduser().resolve() if override else Path(platformdirs.user_cache_dir(APP))


def resource(*parts: str) -> Path:
    """A file shipped in the package (`resources/` of the checkout); a real path, since the JVM tools read them."""
    return _real_path(files("ecomdesk.resources").joinpath(*parts))


def job_entry(name: str = "ecommerce_stream.py") -> Path:
    """A Spark job's spark-submit entry file (`jobs/` of the checkout): the stream, or the rebuild."""
    return _real_path(files("ecomdesk.jobs") / name)


def package_dir() -> Path:
    """The installed `ecomdesk` package (what the Spark job ships to its executors)."""
    return Path(__file__).resolve().parent


def _real_path(traversable) -> Path:
    path = Path(str(traversable))
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing from the installed ecomdesk package (reinstall it)")
    return path
