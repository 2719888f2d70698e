"""Where the installed stack lives and what a service needs from it (classpaths, JAVA_HOME, libhdfs).

The cache directory name carries every pinned version, so changing a version in the pom installs
side by side instead of mixing jars.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ecomdesk.paths import cache_root, resource
from ecomdesk.versions import stack_versions

COMPONENTS = ("kafka", "hadoop", "spark-kafka")
DONE = ".complete"


class NotInstalled(RuntimeError):
    """The stack (or a part of it) is missing: run `ecomdesk setup`."""


def pom_digest() -> str:
    """What a finished part's marker holds: a pom edited after the install (a pinned jar added, say)
    makes the part out of date, so setup resolves it again instead of keeping stale jars."""
    return hashlib.sha256(resource("jvm", "pom.xml").read_bytes()).hexdigest()[:16]


def is_complete(part: Path) -> bool:
    """Whether an installed part was resolved from the pom as it is now."""
    try:
        return (part / DONE).read_text().strip() == pom_digest()
    except OSError:
        return False


def stack_dir() -> Path:
    """The stack's directory: inside the standalone bundle when it was built --with-stack, else the cache."""
    v = stack_versions()
    name = f"stack-kafka{v['kafka']}-hadoop{v['hadoop']}-spark{v['spark']}"
    bundled = Path(sys.executable).parent / "stack" / name
    if getattr(sys, "frozen", False) and bundled.is_dir():
        return bundled
    return cache_root() / name


def find_java_home() -> Path | None:
    """JAVA_HOME when set, else the JDK that the `java` on PATH belongs to."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(java).resolve().parent.parent if java else None


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def shared_spark_home() -> Path:
    """Where setup links the installed pyspark's launch scripts and jars (`spark_home.link`): one path
    for every venv with this pyspark, so that the Spark driver's class-data archive, which is keyed by
    its jars' paths, is made once per pyspark rather than once per venv."""
    import pyspark

    jars = sorted((pyspark_home() / "jars").glob("*.jar"))
    digest = hashlib.sha256("\n".join(f"{j.name} {j.stat().st_size}" for j in jars).encode()).hexdigest()[:12]
    return cache_root() / f"spark-home-{pyspark.__version__}-{digest}"


def spark_home() -> Path:
    """SPARK_HOME of every Spark JVM ecomdesk starts: the shared one once setup linked it, else the
    installed pyspark's own."""
    shared = shared_spark_home()
    return shared if (shared / DONE).is_file() else pyspark_home()


def spark_env(inst: Installation) -> dict[str, str]:
    """What spark-submit needs in its environment: the JDK, Spark's home, this Python for the driver
    and the workers."""
    return {"JAVA_HOME": str(inst.java_home), "SPARK_HOME": str(spark_home()),
            "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


def pyspark_jars() -> list[Path]:
    """The jars spark-submit puts on the driver's class path."""
    return sorted((spark_home() / "jars").glob("*.jar"))


def _artifact(jar: Path) -> str:
    """Artifact name of a jar file name: 'kafka-clients-3.9.2.jar' -> 'kafka-clients'."""
    parts = jar.stem.split("-")
    for i, part in enumerate(parts):
        if part[:1].isdigit():
            return "-".join(parts[:i])
    return jar.stem


@dataclass(frozen=True)
class Installation:
    root: Path
    java_home: Path

    def jars(self, component: str) -> list[Path]:
        d = self.root / component
        if not is_complete(d):
            raise NotInstalled(f"{component} is not installed in {self.root}, or is out of date; run `ecomdesk setup`")
        return sorted(d.glob("*.jar"))

    @property
    def java(self) -> str:
        return str(self.java_home / "bin" / "java")

    @property
    def kafka_classpath(self) -> list[Path]:
        return self.jars("kafka")

    @property
    def hadoop_classpath(self) -> list[Path]:
        return self.jars("hadoop")

    @property
    def spark_kafka_jars(self) -> list[Path]:
        """The Kafka connector and those of its dependencies that pyspark does not ship already."""
        shipped = {_artifact(j) for j in pyspark_jars()}
        return [j for j in self.jars("spark-kafka") if _artifact(j) not in shipped]

    @property
    def libhdfs_dir(self) -> Path:
        """$ARROW_LIBHDFS_DIR or $HADOOP_HOME/lib/native when they hold libhdfs.so, else the one setup built."""
        candidates = [os.environ.get("ARROW_LIBHDFS_DIR")]
        if os.environ.get("HADOOP_HOME"):
            candidates.append(os.path.join(os.environ["HADOOP_HOME"], "lib", "native"))
        candidates.append(str(self.root / "libhdfs"))
        for c in candidates:
            if c and (Path(c) / "libhdfs.so").exists():
                return Path(c)
        raise NotInstalled("libhdfs.so is not installed; run `ecomdesk setup`")

    @property
    def hadoop_client_classpath(self) -> list[Path]:
        """Jars for the in-process HDFS client of pyarrow: the hadoop-client jars of the pyspark wheel."""
        wanted = ("hadoop-client-api", "hadoop-client-runtime", "slf4j-api", "log4j-api", "log4j-core",
                  "log4j-slf4j2-impl", "log4j-1.2-api", "commons-logging", "jcl-over-slf4j")
        return [j for j in pyspark_jars() if _artifact(j) in wanted]


def installed_at() -> Path | None:
    """The stack's directory when every component is installed there, else None."""
    root = stack_dir()
    return root if all(is_complete(root / c) for c in COMPONENTS) else None


def version_report() -> list[tuple[str, str]]:
    """What `ecomdesk --version` and the About box say: the versions and where the stack is."""
    v = stack_versions()
    where = installed_at()
    stack = f"installed in {where}" if where else f"not installed (`ecomdesk setup` puts it in {stack_dir()})"
    return [("ecomdesk", v["ecomdesk"]), ("Apache Kafka", v["kafka"]), ("Apache Hadoop (HDFS)", v["hadoop"]),
            ("Apache Spark", v["spark"]), ("stack", stack)]


def installation() -> Installation:
    java_home = find_java_home()
    if java_home is None:
        raise NotInstalled("no Java found; install Java 17+ (apt-get install -y openjdk-17-jdk-headless)")
    return Installation(stack_dir(), java_home)
