"""The Spark streaming job as a managed service: spark-submit of jobs/ecommerce_stream.py.

The package is shipped to the driver and executors as a zip built at every start (--py-files), so a
`spark://` master works as well as `local[N]`. Readiness comes from the job's own stdout: the query
is active and has committed its first batch (a BatchReport line), or is active and idle because
there is nothing to read yet (an IdleReport line); see ecomdesk.telemetry.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ecomdesk import service_names as names
from ecomdesk.config import Config
from ecomdesk.core.spec import Probe, ServiceSpec
from ecomdesk.data.hdfs import ha_conf, hdfs_uri
from ecomdesk.install_layout import installation, spark_env, spark_home
from ecomdesk.kafka_client import process_arguments, security_conf
from ecomdesk.paths import job_entry, package_dir
from ecomdesk.producer.topics import ensure_topics
from ecomdesk.stack import members
from ecomdesk.stack.install import cds
from ecomdesk.telemetry import BatchReport, IdleReport, job_state, parse

NAME = names.SPARK_JOB
STALE_AFTER = 120.0  # longer than any batch we have seen (12.6 s at the most, at 50k events/s)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def interval_seconds(text: str) -> float:
    """'10 minutes' -> 600.0 (the Spark interval syntax the config uses for the watermark)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day)s?\s*", text)
    if not m:
        raise ValueError(f"watermark {text!r}: expected e.g. '10 minutes' or '30 seconds'")
    return float(m.group(1)) * _UNITS[m.group(2)]


def package_zip(config: Config) -> Path:
    """Zip of the ecomdesk package for --py-files (rebuilt at every start, so it is never stale)."""
    target = config.paths.run_dir / NAME / "ecomdesk.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"ecomdesk-{uuid.uuid4().hex}.tmp")  # jobs starting at once each write their own
    pkg = package_dir()
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(pkg.rglob("*.py")):
            if not {"__pycache__", "ui", "resources", "jobs"} & set(f.relative_to(pkg).parts):
                z.write(f, f.relative_to(pkg.parent).as_posix())
    tmp.replace(target)
    return target


def spark_confs(config: Config) -> dict[str, str]:
    confs = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(config.spark.shuffle_partitions),
        "spark.ui.enabled": "false",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.streaming.noDataProgressEventInterval": "5000",
        "spark.pyspark.python": sys.executable,
        # a micro-batch's parsed records are cached for a few seconds: building a compressed
        # columnar cache cost more than the memory it saves
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        # Closing an HDFS file waits until the NameNode has the DataNode's block report; the client
        # retries after 400 ms by default, which a batch paid several times over (checkpoint logs,
        # Parquet parts, aggregate files, manifest). Retry after 10 ms instead, doubling, with more
        # retries, so the total wait before giving up is longer than the default's.
        "spark.hadoop.dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "10",
        "spark.hadoop.dfs.client.block.write.locateFollowingBlock.retries": "15",
        # the Kafka source's options (a SASL JAAS line) are redacted wherever Spark prints a plan
        "spark.sql.redaction.options.regex": "(?i)url|jaas|password",
    }
    confs |= {f"spark.hadoop.{k}": v for k, v in ha_conf(config).items()}
    if not config.hdfs.namenode:  # the managed HDFS: min(3, DataNodes) copies of what the job writes
        confs["spark.hadoop.dfs.replication"] = str(config.dfs_replication)
    if config.hdfs.datanodes > 1:  # a write whose DataNode died goes on with the others: none is spare
        confs["spark.hadoop.dfs.client.block.write.replace-datanode-on-failure.best-effort"] = "true"
    if config.spark_master.startswith("local") or config.spark.workers:
        confs |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    driver_flags = cds.spark_driver_flags(installation())
    if driver_flags and config.spark.deploy_mode == "client":  # the driver's class-data archive (setup's)
        confs["spark.driver.extraJavaOptions"] = " ".join(driver_flags)
    if config.spark.workers:  # one executor per managed worker, as large as the worker offers
        confs |= {"spark.executor.memory": config.memory.spark_executor,
                  "spark.executor.cores": str(config.spark.worker_cores)}
        if driver_flags:  # a managed worker's executors run here, on the driver's class path
            confs["spark.executor.extraJavaOptions"] = " ".join(driver_flags)
    return confs


def base_uri(config: Config, path: str | None = None) -> str:
    return hdfs_uri(config, path or config.hdfs.base_path)


def submit_prefix(config: Config, app_name: str) -> list[str]:
    """spark-submit with the app's settings, up to the entry file (shared by the stream and the rebuild)."""
    inst = installation()
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", config.spark_master,
           "--deploy-mode", config.spark.deploy_mode, "--name", app_name, "--driver-memory", config.memory.spark_driver,
           "--jars", ",".join(str(j) for j in inst.spark_kafka_jars),
           "--py-files", str(package_zip(config))]
    for k, v in spark_confs(config).items():
        cmd += ["--conf", f"{k}={v}"]
    return cmd


@dataclass(frozen=True)
class JobVariant:
    """Which streaming job the service runs: the app's, or one of the benchmark's others
    (another entry file, its own HDFS base path and extra job arguments such as --topic-prefix)."""

    entry: str = "ecommerce_stream.py"
    app_name: str = "ecomdesk-ecommerce-stream"
    base_path: str | None = None  # HDFS path; default [hdfs] base_path
    args: tuple[str, ...] = ()


def spark_submit_command(config: Config, job: JobVariant = JobVariant()) -> list[str]:
    return submit_prefix(config, job.app_name) + [
        str(job_entry(job.entry)),
        "--bootstrap", config.kafka_bootstrap, "--base", base_uri(config, job.base_path),
        "--trigger-seconds", str(config.spark.trigger_seconds),
        "--watermark-seconds", str(interval_seconds(config.spark.watermark)),
        *process_arguments(config),
        *job.args,
    ]


def job_env() -> dict[str, str]:
    return spark_env(installation())


class JobTelemetry:
    """Parses the job's telemetry lines; shared with the readiness probe so both see the same state."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.queries: dict[str, BatchReport] = {}
        self.ready_reason: str | None = None
        self.last_seen: float | None = None

    def __call__(self, line: str) -> dict | None:
        record = parse(line)
        if isinstance(record, BatchReport | IdleReport):
            self.last_seen = time.monotonic()
        if isinstance(record, BatchReport):
            self.queries[record.query] = record
            self.ready_reason = self.ready_reason or f"batch {record.batch_id} committed"
            return job_state(self.queries, record)
        if isinstance(record, IdleReport):
            self.ready_reason = self.ready_reason or "query active, waiting for data"
        return None

    def probe(self) -> Probe:
        if self.ready_reason:
            return Probe(True, self.ready_reason)
        return Probe(False, "waiting for the streaming query to commit its first batch")

    def health(self) -> Probe:
        """The latest batch in a few words, once the job is up; unhealthy when it has said nothing
        for STALE_AFTER s (it reports every batch, and every 5 s when idle), e.g. a hung driver."""
        ready = self.probe()
        if ready.ok and self.last_seen is not None and time.monotonic() - self.last_seen > STALE_AFTER:
            return Probe(False, f"no batch and no idle report for {time.monotonic() - self.last_seen:.0f} s")
        last = max(self.queries.values(), key=lambda q: q.batch_id, default=None)
        if not ready.ok or last is None:
            return ready
        return Probe(True, f"batch {last.batch_id}: {last.input_rows} rows in "
                           f"{last.batch_duration_ms / 1000:.1f} s, {sum(last.offsets_behind.values())} behind")


def external_topics(config: Config) -> None:
    """On an external Kafka cluster, create the pipeline's missing topics before the job subscribes
    (the managed broker's readiness does it otherwise); fails fast, with the reason, on refused credentials."""
    if config.kafka.bootstrap:
        ensure_topics(config.kafka_bootstrap, config.kafka.partitions, config.topic_replication, timeout=15,
                      security=security_conf(config))


def spark_job_spec(config: Config, job: JobVariant = JobVariant(), name: str = NAME) -> ServiceSpec:
    """The app's job by default; the benchmark runs its other jobs under other names."""
    telemetry = JobTelemetry()

    def prepare() -> None:
        telemetry.reset()
        external_topics(config)
    return ServiceSpec(
        name=name,
        title="Spark streaming job" if name == NAME else f"Spark job {job.entry}",
        command=lambda: spark_submit_command(config, job),
        ready=telemetry.probe,
        health=telemetry.health,
        env=job_env,
        depends_on=(*members.brokers(config), *members.datanodes(config), *members.spark_daemons(config)),
        prepare=prepare,
        stop_timeout=30,
        ready_timeout=240,
        telemetry=telemetry,
        # on a cluster, the job's clients fail over when one member goes down: it keeps running
        rides_out_dependency_restarts=members.is_cluster(config),
    )
