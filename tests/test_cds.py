"""Class-data sharing: the archive setup makes for Kafka's class path, and when a JVM maps it."""

from __future__ import annotations

import os
import subprocess

import pytest

from ecomdesk.stack.install import cds, installation
from ecomdesk.stack.install.layout import Installation
from ecomdesk.stack.jvm import java_command


def _fake(tmp_path) -> Installation:
    (tmp_path / "jdk").mkdir()
    (tmp_path / "jdk" / "release").write_text('JAVA_VERSION="17.0.99"\n')
    return Installation(tmp_path / "stack", tmp_path / "jdk")


def test_a_jvm_maps_the_archive_made_for_its_jdk_and_class_path_only(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMDESK_CACHE", str(tmp_path / "cache"))
    inst = _fake(tmp_path)
    kafka_cp, other_cp = [tmp_path / "a.jar", tmp_path / "b.jar"], [tmp_path / "a.jar"]
    assert cds.share_flags(inst, kafka_cp) == []  # none made yet: the JVM runs as before
    path = cds.archive_path(inst, kafka_cp)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"archive")
    assert cds.share_flags(inst, kafka_cp) == [f"-XX:SharedArchiveFile={path}"]
    assert f"-XX:SharedArchiveFile={path}" in java_command(inst, "256m", kafka_cp, "kafka.Kafka")
    assert cds.share_flags(inst, other_cp) == []  # another class path
    (tmp_path / "jdk" / "release").write_text('JAVA_VERSION="17.0.100"\n')
    assert cds.share_flags(inst, kafka_cp) == []  # another JDK


@pytest.mark.stack
def test_the_archive_setup_made_maps_into_a_jvm(tmp_path):
    """-Xshare:on fails the JVM when it cannot map the archive: what setup made fits this JDK."""
    inst = installation()
    flags = cds.share_flags(inst, inst.kafka_classpath)
    assert flags, f"setup made no archive for Kafka ({cds.archive_path(inst, inst.kafka_classpath)})"
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}
    out = subprocess.run([inst.java, "-Xshare:on", *flags, "-cp", os.pathsep.join(map(str, inst.kafka_classpath)),
                          "-version"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
