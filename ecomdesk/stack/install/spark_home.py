"""The shared Spark home (`layout.shared_spark_home`): the installed pyspark's launch scripts and jars,
hard-linked (copied across file systems) into the cache once per pyspark."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ecomdesk.install_layout import DONE, pyspark_home, shared_spark_home

PARTS = ("bin", "sbin", "jars", "conf")  # what spark-submit and spark-class read from SPARK_HOME


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link() -> Path | None:
    """Make the shared Spark home unless it is there; returns it when this call made it."""
    target = shared_spark_home()
    if (target / DONE).is_file():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    source = pyspark_home()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for part in PARTS:
            if (source / part).is_dir():
                shutil.copytree(source / part, tmp / part, copy_function=_link_or_copy)
        (tmp / DONE).write_text(f"{source}\n")
        shutil.rmtree(target, ignore_errors=True)  # an unfinished one
        try:
            tmp.rename(target)
        except OSError:
            if not (target / DONE).is_file():  # not another setup's finished one
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
