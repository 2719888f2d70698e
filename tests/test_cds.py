"""Class-data sharing: the archives setup makes for Kafka's class path and the Spark driver's, and when a
JVM maps them; the shared Spark home that lets every venv with one pyspark share the driver's archive."""

from __future__ import annotations

import os
import subprocess

import pytest

from ecomdesk.install_layout import Installation, installation, pyspark_home, pyspark_jars, spark_home
from ecomdesk.stack.install import cds
from ecomdesk.stack.install import spark_home as shared_home
from ecomdesk.stack.jvm import java_command
from ecomdesk.stack.spark_job import job_env, spark_confs
from ecomdesk.testing.sandbox import isolated_config


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
    assert cds.share_flags(inst, [*kafka_cp, tmp_path / "conf"]) == [f"-XX:SharedArchiveFile={path}"]  # a conf dir
    assert cds.share_flags(inst, other_cp) == []  # another class path
    (tmp_path / "jdk" / "release").write_text('JAVA_VERSION="17.0.100"\n')
    assert cds.share_flags(inst, kafka_cp) == []  # another JDK


@pytest.mark.stack
@pytest.mark.parametrize("part", ["kafka", "hadoop"])
def test_the_archive_setup_made_maps_into_a_jvm(part, tmp_path):
    """-Xshare:on fails the JVM when it cannot map the archive: what setup made fits this JDK and the
    class path the services run with (HDFS's conf dir after the jars)."""
    inst = installation()
    jars = inst.jars(part)
    classpath = [*jars, tmp_path] if part == "hadoop" else jars
    flags = cds.share_flags(inst, classpath)
    assert flags, f"setup made no archive for {part} ({cds.archive_path(inst, jars)})"
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}
    out = subprocess.run([inst.java, "-Xshare:on", *flags, "-cp", os.pathsep.join(map(str, classpath)), "-version"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert flags != cds.share_flags(inst, inst.jars("kafka" if part == "hadoop" else "hadoop"))


@pytest.mark.stack
def test_the_spark_drivers_archive_maps_into_the_driver_spark_submit_starts(tmp_path):
    """The job's own spark-submit options, with -Xshare:on: its driver JVM (the class path spark-submit
    builds) fails to start unless it maps the archive setup made; another class path's archive fails."""
    inst = installation()
    config = isolated_config(tmp_path / "home")
    options = spark_confs(config).get("spark.driver.extraJavaOptions", "")
    assert options == " ".join(cds.spark_driver_flags(inst)) != "", "setup made no archive for the Spark driver"

    def driver_version(java_options: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(spark_home() / "bin" / "spark-submit"), "--conf",
                               f"spark.driver.extraJavaOptions=-Xshare:on {java_options}", "--version"],
                              capture_output=True, text=True, timeout=120, env={**os.environ, **job_env()})

    mapped = driver_version(options)
    assert mapped.returncode == 0 and "version" in mapped.stderr, mapped.stderr
    refused = driver_version(" ".join(cds.share_flags(inst, inst.kafka_classpath)))  # Kafka's class path
    assert refused.returncode != 0 and "Unable to use shared archive" in refused.stdout + refused.stderr


def test_setup_prunes_the_archives_whose_class_path_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMDESK_CACHE", str(tmp_path / "cache"))
    inst = _fake(tmp_path)
    kept_jar, gone_jar = tmp_path / "kept.jar", tmp_path / "gone.jar"
    kept_jar.write_bytes(b"jar")
    made = {}
    for name, classpath in {"kept": [kept_jar], "gone": [kept_jar, gone_jar]}.items():
        tmp = tmp_path / f"{name}.tmp"
        tmp.write_bytes(b"archive")
        made[name] = cds.archive_path(inst, classpath)
        made[name].parent.mkdir(parents=True, exist_ok=True)
        cds._install(tmp, made[name], classpath)
    unlisted = made["kept"].with_name("0123456789abcdef.jsa")  # made before archives named their class path
    unlisted.write_bytes(b"archive")
    assert sorted(cds.prune()) == sorted([made["gone"], unlisted])
    assert made["kept"].is_file() and made["kept"].with_suffix(".classpath").read_text() == f"{kept_jar}\n"
    assert sorted(p.name for p in made["kept"].parent.iterdir()) == sorted([made["kept"].name,
                                                                            made["kept"].stem + ".classpath"])


def test_the_shared_spark_home_is_linked_once_and_then_is_spark_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMDESK_CACHE", str(tmp_path / "cache"))
    assert spark_home() == pyspark_home()  # until setup links it
    made = shared_home.link()
    assert made is not None and made.parent == tmp_path / "cache" and spark_home() == made
    assert shared_home.link() is None  # there already
    own = sorted((pyspark_home() / "jars").glob("*.jar"))
    assert [j.name for j in pyspark_jars()] == [j.name for j in own] and pyspark_jars()[0].parent == made / "jars"
    assert all(os.path.samefile(a, b) for a, b in zip(own, pyspark_jars(), strict=True))  # links, not copies
    assert os.access(made / "bin" / "spark-submit", os.X_OK) and os.access(made / "bin" / "spark-class", os.X_OK)
    assert not list(made.parent.glob(".spark-home-*"))  # no unfinished copy left
