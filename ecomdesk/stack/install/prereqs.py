"""Checks for the tools setup needs, each failing with the command that installs it."""

from __future__ import annotations

import re
import shutil
import subprocess

from ecomdesk.install_layout import find_java_home


def java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def check(need_maven: bool, need_gcc: bool) -> list[str]:
    """Return one message per missing tool (empty when all is there)."""
    problems = []
    home = find_java_home()
    java = str(home / "bin" / "java") if home else None
    major = java_major(java) if java else None
    if major is None:
        problems.append("Java 17+ is missing (no working `java`); install it: "
                        "apt-get install -y openjdk-17-jdk-headless")
    elif major < 17:
        problems.append(f"Java {major} found at {home}, Java 17+ is needed; install it: "
                        "apt-get install -y openjdk-17-jdk-headless (and set JAVA_HOME)")
    elif home and not (home / "include" / "jni.h").exists() and need_gcc:
        problems.append(f"the JDK at {home} has no include/jni.h (a JRE?); install a JDK: "
                        "apt-get install -y openjdk-17-jdk-headless")
    if need_maven and not shutil.which("mvn"):
        problems.append("Maven is missing (`mvn`); install it: apt-get install -y maven")
    if need_gcc and not shutil.which("gcc"):
        problems.append("gcc is missing; install it: apt-get install -y gcc")
    return problems
