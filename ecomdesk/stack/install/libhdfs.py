"""libhdfs.so for pyarrow's HadoopFileSystem.

Used as found in $ARROW_LIBHDFS_DIR or $HADOOP_HOME/lib/native; otherwise built with gcc from the
Apache libhdfs C sources that PyPI's pydoop 2.0.0 sdist carries under src/libhdfs/ (Maven Central
publishes no libhdfs sources). The sources are fetched into a temp dir at setup and never kept.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ecomdesk.install_layout import Installation, NotInstalled

PYDOOP = "pydoop==2.0.0"
SOURCES = ["hdfs.c", "jni_helper.c", "exception.c", "common/htable.c", "os/posix/mutexes.c",
           "os/posix/thread.c", "os/posix/thread_local_storage.c"]


def existing(inst: Installation) -> Path | None:
    try:
        return inst.libhdfs_dir
    except NotInstalled:
        return None


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}")


def _fetch_sources(work: Path, say: Callable[[str], None]) -> Path:
    """Download the pydoop sdist (pip needs old setuptools to read its metadata) and unpack src/libhdfs."""
    venv = work / "venv"
    say("  creating a throwaway venv to download the libhdfs sources")
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    pip = str(venv / "bin" / "pip")
    _run([pip, "install", "-q", "setuptools<70", "wheel"], "pip install setuptools<70")
    say(f"  downloading {PYDOOP} sdist")
    _run([pip, "download", "-q", "--no-deps", "--no-build-isolation", "-d", str(work), PYDOOP], "pip download")
    sdist = next(work.glob("pydoop-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/src/libhdfs/" in m.name]
        tar.extractall(work, members=members, filter="data")
    return next(work.glob("pydoop-*/src/libhdfs"))


def install(inst: Installation, say: Callable[[str], None]) -> Path:
    target = inst.root / "libhdfs"
    target.mkdir(parents=True, exist_ok=True)
    java = inst.java_home
    with tempfile.TemporaryDirectory(prefix="ecomdesk-libhdfs-") as tmp:
        src = _fetch_sources(Path(tmp), say)
        say("  compiling libhdfs.so with gcc")
        out = target / "libhdfs.so.tmp"
        _run(["gcc", "-shared", "-fPIC", "-O2", "-w", "-o", str(out),
              f"-I{src}", f"-I{src}/include", f"-I{src}/os", f"-I{src}/os/posix",
              f"-I{java}/include", f"-I{java}/include/linux",
              *[str(src / s) for s in SOURCES],
              f"-L{java}/lib/server", "-ljvm", f"-Wl,-rpath,{java}/lib/server", "-lpthread"], "gcc")
    out.rename(target / "libhdfs.so")
    return target
