"""The one configuration shared by the CLI and the GUI: a TOML file in the config dir.

Missing keys take the defaults below; unknown keys or wrong types are reported with the
key's name instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from ecomdesk.core.spec import RestartPolicy
from ecomdesk.kafka_security import MECHANISMS, PROTOCOLS
from ecomdesk.paths import Paths, app_paths

PRODUCER_PROFILES = ("realistic", "classroom")


class ConfigError(ValueError):
    """The configuration file cannot be used as it is."""


def setting(default, *, low: float | None = None, high: float | None = None, help: str = "", hint: str = ""):
    """A config field with what the file's check and the Settings dialog both read: its range (checked by
    `from_dict`, the dialog's spin box bounds), its help (the dialog's tooltip) and a hint for an empty
    text (the dialog's placeholder)."""
    return field(default=default, metadata={"range": (low, high), "help": help, "hint": hint})


def port(default: int):
    return setting(default, low=1, high=65535, help="a TCP port on 127.0.0.1")


CLUSTER_BLOCK = 60  # ports from Ports.cluster on: brokers 2-9 (2 each), DataNodes 2-9 (3), master (2), workers (2)


@dataclass
class Ports:
    kafka: int = port(9092)
    kafka_controller: int = port(9093)
    namenode_rpc: int = port(9000)
    namenode_http: int = port(9870)
    datanode: int = port(9866)
    datanode_http: int = port(9864)
    datanode_ipc: int = port(9867)
    # The first of CLUSTER_BLOCK loopback ports for the managed cluster's members beyond the first:
    # brokers 2..9, DataNodes 2..9, the Spark master and workers 1..9 (see the methods below).
    cluster: int = port(19100)  # CLUSTER_BLOCK ports from here

    def broker(self, i: int) -> tuple[int, int]:
        """(bootstrap, controller) of Kafka node i; node 1 keeps `kafka` and `kafka_controller`."""
        return (self.kafka, self.kafka_controller) if i == 1 else (self.cluster + 2 * (i - 2),
                                                                   self.cluster + 2 * (i - 2) + 1)

    def datanode_node(self, i: int) -> tuple[int, int, int]:
        """(data, http, ipc) of DataNode i; DataNode 1 keeps `datanode`, `datanode_http`, `datanode_ipc`."""
        if i == 1:
            return self.datanode, self.datanode_http, self.datanode_ipc
        first = self.cluster + 16 + 3 * (i - 2)
        return first, first + 1, first + 2

    def spark_master(self) -> tuple[int, int]:
        """(rpc, web UI and /json) of the managed Spark master."""
        return self.cluster + 40, self.cluster + 41

    def spark_worker(self, i: int) -> tuple[int, int]:
        """(rpc, web UI) of Spark worker i (1-based)."""
        return self.cluster + 42 + 2 * (i - 1), self.cluster + 43 + 2 * (i - 1)


@dataclass
class Memory:
    kafka_heap: str = "512m"
    namenode_heap: str = "512m"
    datanode_heap: str = "384m"
    spark_driver: str = "1g"
    spark_executor: str = "768m"  # what each managed Spark worker offers, and the job's executors take
    spark_daemon: str = "256m"  # heap of the managed Spark master and workers themselves


@dataclass
class Kafka:
    # Empty means the managed local broker; ["host:port", ...] (or "host:port,...") an external cluster.
    bootstrap: str = setting("", hint="empty = the managed local broker (host:port,... otherwise)")
    partitions: int = setting(3, low=1, high=1000)
    replication: int = 0  # 0: min(3, brokers) on the managed cluster, 1 on an external one
    brokers: int = 1  # managed KRaft nodes on loopback: kafka, or kafka-1..N (see docs/CLUSTERS.md)
    # External clusters only (docs/CLUSTERS.md): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with a SASL protocol
    username: str = ""
    # the name of the environment variable holding the password, or a file holding it: never the password
    password_env: str = setting("", hint="the NAME of the variable holding the password")
    password_file: str = setting("", hint="a file holding the password (first line)")
    ca_file: str = setting("", hint="PEM of the brokers' CA (SSL); empty = the system's CAs")


@dataclass
class Hdfs:
    # Empty means the managed local NameNode; "host:port" an external one, or the id of an HA
    # nameservice whose NameNodes are listed in `namenodes`.
    namenode: str = setting("", hint="empty = the managed local NameNode (host:port, or an HA nameservice id)")
    # HA only: ["host:port", ...] (or "host:port,...") of the nameservice's NameNodes
    namenodes: str = setting("", hint="HA only: host:port,... of the nameservice's NameNodes")
    base_path: str = "/ecommerce"
    # The NameNodes' HTTP (JMX, WebHDFS) "host:port,...", for the health view; empty: derived from namenode.
    namenode_http: str = ""
    datanodes: int = 1  # managed DataNodes: hdfs-datanode, or hdfs-datanode-1..N


@dataclass
class Spark:
    master: str = "local[2]"  # local[N], spark://host:port, or a list of spark://... masters (HA)
    deploy_mode: str = "client"  # where the driver runs; see docs/CLUSTERS.md
    trigger_seconds: float = setting(2.0, low=0.1, high=3600.0, help="seconds between the job's micro-batches")
    watermark: str = "10 minutes"
    top_n: int = setting(10, low=1, high=1000, help="rows of the top-products and top-users charts")
    shuffle_partitions: int = setting(4, low=1, high=10_000)
    # A standalone master's web UI "host:port,..." (its /json/), for the health view; empty: derived from master.
    master_web: str = ""
    workers: int = 0  # >= 1: a managed standalone master and spark-worker-1..N; the job runs on them
    worker_cores: int = 1


@dataclass
class Producer:
    rate: float = setting(1000.0, low=0.0, high=1_000_000.0,
                          help="events/s; the daily average with the realistic profile")
    invalid_fraction: float = setting(0.0, low=0.0, high=1.0, help="share of the events sent malformed")
    seed: int | None = setting(None, hint="empty = random")
    profile: str = "realistic"  # one of PRODUCER_PROFILES (see ecomdesk.producer.events.PROFILES)
    flat: bool = False  # realistic profile: the rate all day long instead of shaped by the hour (benchmarks)


@dataclass
class Ui:
    refresh_seconds: float = setting(2.0, low=0.2, high=3600.0, help="seconds between the charts' reads")
    # the simulator's prices carry none; the charts' money axes show this one
    currency: str = setting("$", hint="shown on the sales axes")


@dataclass
class Restart:
    """The restart policy of every managed service; `[restart.services.NAME]` overrides keys per service."""

    policy: str = setting("on-failure", help="on-failure: restart a service that goes down unasked; no: leave it "
                                             "failed")
    attempts: int = setting(5, low=0, high=1000,
                            help="restarts allowed within window seconds before the service is left failed")
    window_seconds: float = setting(300.0, low=1.0, high=86_400.0)
    backoff_seconds: float = setting(1.0, low=0.0, high=3600.0,
                                     help="before the first restart; doubled for each further one")
    backoff_max_seconds: float = setting(30.0, low=0.0, high=3600.0)
    health_failures: int = setting(3, low=1, high=1000,
                                   help="failed health probes in a row that count as going down")
    services: dict = field(default_factory=dict)  # per-service overrides: edited in the file only

    def policy_for(self, service: str) -> RestartPolicy:
        """The policy of one service: the defaults above with its overrides applied."""
        base = {k: v for k, v in dataclasses.asdict(self).items() if k != "services"}
        overrides = self.services.get(service, {})
        if not isinstance(overrides, dict):
            raise ConfigError(f"[restart.services.{service}] must be a table")
        values = dataclasses.asdict(_section(Restart, {**base, **overrides}, f"restart.services.{service}"))
        try:
            return RestartPolicy(policy=values["policy"], attempts=values["attempts"],
                                 window=values["window_seconds"], backoff=values["backoff_seconds"],
                                 backoff_max=values["backoff_max_seconds"],
                                 health_failures=values["health_failures"])
        except ValueError as exc:
            raise ConfigError(f"[restart.services.{service}]: {exc}" if overrides else f"[restart]: {exc}") from None


@dataclass
class Alerts:
    """Thresholds of the alerts (0 turns one off); see ecomdesk.stack.alerts."""

    service_down: bool = setting(True, help="alert when a service fails or is restarting")
    lag_seconds: float = setting(120.0, low=0.0, high=86_400.0,
                                 help="alert when the job's newest committed event is older than this (0: off)")
    slow_batches: int = setting(5, low=0, high=10_000,
                                help="alert after this many batches in a row slower than the trigger (0: off)")
    quarantine_percent: float = setting(5.0, low=0.0, high=100.0,
                                        help="alert when more than this share of a batch is quarantined (0: off)")
    silence_seconds: float = setting(30.0, low=0.0, high=86_400.0, help="alert when no events reach the job for "
                                     "this long while the producer sends (0: off)")


@dataclass
class Dirs:
    # Empty means <data dir of the app>; set to keep service data elsewhere.
    data: str = setting("", hint="empty = the app's data dir")


@dataclass
class Config:
    ports: Ports = field(default_factory=Ports)
    memory: Memory = field(default_factory=Memory)
    kafka: Kafka = field(default_factory=Kafka)
    hdfs: Hdfs = field(default_factory=Hdfs)
    spark: Spark = field(default_factory=Spark)
    producer: Producer = field(default_factory=Producer)
    ui: Ui = field(default_factory=Ui)
    restart: Restart = field(default_factory=Restart)
    alerts: Alerts = field(default_factory=Alerts)
    dirs: Dirs = field(default_factory=Dirs)
    paths: Paths = field(default_factory=app_paths, compare=False, repr=False)

    @property
    def service_data_dir(self) -> Path:
        return Path(self.dirs.data).expanduser() if self.dirs.data else self.paths.data_dir

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap or ",".join(f"127.0.0.1:{self.ports.broker(i)[0]}"
                                                for i in range(1, self.kafka.brokers + 1))

    @property
    def topic_replication(self) -> int:
        """Replication of the topics the app creates: the configured one, else min(3, brokers) on
        the managed cluster and 1 on an external one."""
        return self.kafka.replication or (1 if self.kafka.bootstrap else min(3, self.kafka.brokers))

    @property
    def topic_configs(self) -> dict[str, str]:
        """Settings of the topics the app creates on the managed cluster: min.insync.replicas = 2 once
        there are 3 replicas (an external cluster's own defaults apply there)."""
        return {"min.insync.replicas": "2"} if not self.kafka.bootstrap and self.topic_replication >= 3 else {}

    @property
    def dfs_replication(self) -> int:
        """Replication of the files the app and the job write: min(3, DataNodes) on the managed HDFS."""
        return 1 if self.hdfs.namenode else min(3, self.hdfs.datanodes)

    @property
    def spark_master(self) -> str:
        """The master the job is submitted to: the managed one when there are workers."""
        return f"spark://127.0.0.1:{self.ports.spark_master()[0]}" if self.spark.workers else self.spark.master

    @property
    def namenode_address(self) -> tuple[str, int]:
        """The one NameNode, or the first of an HA nameservice's."""
        return self.namenode_addresses[0]

    @property
    def namenode_addresses(self) -> list[tuple[str, int]]:
        if self.hdfs.namenodes:
            return [_host_port(a) for a in self.hdfs.namenodes.split(",")]
        if self.hdfs.namenode:
            return [_host_port(self.hdfs.namenode)]
        return [("127.0.0.1", self.ports.namenode_rpc)]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("paths")
        # TOML has no null: leave unset optional values out.
        return {s: {k: v for k, v in sec.items() if v is not None} for s, sec in data.items()}

    def save(self, path: Path | None = None) -> Path:
        path = path or self.paths.config_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(self.to_dict()))
        tmp.replace(path)
        return path


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    return host, int(port)


def _addresses(value, key: str) -> str:
    """A TOML array or a comma string of host:port, as one comma string; each checked."""
    items = value if isinstance(value, list) else str(value).split(",") if value else []
    if not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{key} must be a list of \"host:port\" strings, got {value!r}")
    items = [i.strip() for i in items]
    for item in items:
        host, sep, port = item.rpartition(":")
        if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{key}: {item!r} is not host:port")
    return ",".join(items)


def _spark_masters(value) -> str:
    """A list of spark://host:port masters (HA) as the one URL Spark takes: spark://h1:p1,h2:p2."""
    if not isinstance(value, list):
        return value
    if not value or not all(isinstance(m, str) and m.startswith("spark://") for m in value):
        raise ConfigError(f"[spark] master: a list must hold spark://host:port URLs, got {value!r}")
    return "spark://" + ",".join(m.removeprefix("spark://") for m in value)


def _normalize(data: dict) -> dict:
    """The settings that take a list or a comma string, turned into the comma string kept in Config."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, key in (("kafka", "bootstrap"), ("hdfs", "namenodes")):
        if isinstance(data.get(section), dict) and key in data[section]:
            data[section][key] = _addresses(data[section][key], f"[{section}] {key}")
    if isinstance(data.get("spark"), dict) and "master" in data["spark"]:
        data["spark"]["master"] = _spark_masters(data["spark"]["master"])
    return data


def _check_kafka(k: Kafka) -> None:
    """The security settings that only make sense together (docs/CLUSTERS.md)."""
    if k.security_protocol not in PROTOCOLS:
        raise ConfigError(f"[kafka] security_protocol must be one of {', '.join(PROTOCOLS)}, "
                          f"got {k.security_protocol!r}")
    if k.security_protocol != "PLAINTEXT" and not k.bootstrap:
        raise ConfigError("[kafka] security_protocol applies to an external cluster: set [kafka] bootstrap too")
    if k.security_protocol.startswith("SASL_"):
        if k.sasl_mechanism not in MECHANISMS:
            raise ConfigError(f"[kafka] sasl_mechanism must be one of {', '.join(MECHANISMS)} with "
                              f"{k.security_protocol}, got {k.sasl_mechanism!r}")
        if not k.username:
            raise ConfigError(f"[kafka] username is needed with {k.security_protocol}")
        if bool(k.password_env) == bool(k.password_file):
            raise ConfigError(f"[kafka] set one of password_env or password_file with {k.security_protocol}")
    elif k.sasl_mechanism or k.username or k.password_env or k.password_file:
        raise ConfigError(f"[kafka] sasl_mechanism, username and password_* need a SASL security_protocol, "
                          f"not {k.security_protocol}")
    if k.ca_file and not k.security_protocol.endswith("SSL"):
        raise ConfigError(f"[kafka] ca_file needs an SSL security_protocol, not {k.security_protocol}")


def _check_hdfs(h: Hdfs) -> None:
    """A NameNode is host:port, or an HA nameservice's id with its NameNodes' addresses."""
    if h.namenodes and (not h.namenode or ":" in h.namenode):
        raise ConfigError("[hdfs] namenodes lists an HA nameservice's NameNodes: [hdfs] namenode must then be "
                          "the nameservice id (no port), e.g. namenode = \"mycluster\"")
    if h.namenode and ":" not in h.namenode and not h.namenodes:
        raise ConfigError(f"[hdfs] namenode {h.namenode!r}: expected host:port, or a nameservice id with "
                          "[hdfs] namenodes")
    if h.namenode and ":" in h.namenode:
        _addresses(h.namenode, "[hdfs] namenode")


def _check_spark(s: Spark) -> None:
    """What the app can submit the job to: a local or a standalone master, in client mode."""
    if s.deploy_mode not in ("client", "cluster"):
        raise ConfigError(f"[spark] deploy_mode must be client or cluster, got {s.deploy_mode!r}")
    if s.deploy_mode == "cluster":
        raise ConfigError("[spark] deploy_mode = \"cluster\" is not supported: Spark standalone runs no Python "
                          "application in cluster mode, and the app reads the job's progress from the "
                          "driver's output; use \"client\" (docs/CLUSTERS.md)")
    if not (s.master.startswith(("local", "spark://"))):
        raise ConfigError(f"[spark] master {s.master!r}: expected local[N], spark://host:port or a list of "
                          "spark:// masters (docs/CLUSTERS.md says why not yarn yet)")


def _section(cls, values: dict, section: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}")
    obj = cls()
    for key, value in values.items():
        default = getattr(obj, key)
        expected = type(default) if default is not None else int
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(
                f"[{section}] {key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        low, high = known[key].metadata.get("range", (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"[{section}] {key} must be between {low:g} and {high:g}, got {value!r}")
        setattr(obj, key, value)
    return obj


def from_dict(data: dict, paths: Paths | None = None) -> Config:
    data = _normalize(data)
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name != "paths"}
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, f in sections.items():
        values = data.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table")
        kwargs[name] = _section(f.default_factory, values, name)
    config = Config(**kwargs, paths=paths or app_paths())
    if config.producer.profile not in PRODUCER_PROFILES:
        raise ConfigError(f"[producer] profile must be one of {', '.join(PRODUCER_PROFILES)}, "
                          f"got {config.producer.profile!r}")
    check_cluster(config)
    _check_kafka(config.kafka)
    _check_hdfs(config.hdfs)
    _check_spark(config.spark)
    config.restart.policy_for("")  # reject a bad [restart] now, not when a service first fails
    for service in config.restart.services:
        config.restart.policy_for(service)
    return config


MAX_MEMBERS = 9  # per kind: the port block (Ports.cluster) has room for this many


def check_cluster(config: Config) -> None:
    """The managed cluster's sizes: within bounds, and not mixed with the external cluster they replace."""
    k, h, s = config.kafka, config.hdfs, config.spark
    for section, key, value, low in (("kafka", "brokers", k.brokers, 1), ("hdfs", "datanodes", h.datanodes, 1),
                                     ("spark", "workers", s.workers, 0)):
        if not low <= value <= MAX_MEMBERS:
            raise ConfigError(f"[{section}] {key} must be between {low} and {MAX_MEMBERS}, got {value}")
    if k.brokers > 1 and k.bootstrap:
        raise ConfigError("[kafka] brokers sizes the managed cluster; it cannot be combined with bootstrap "
                          "(an external cluster)")
    if h.datanodes > 1 and h.namenode:
        raise ConfigError("[hdfs] datanodes sizes the managed HDFS; it cannot be combined with namenode "
                          "(an external cluster)")
    if s.workers and not s.master.startswith("local"):
        raise ConfigError(f"[spark] workers starts a managed master; it cannot be combined with master = "
                          f"{s.master!r} (leave master at local[N], or set workers = 0)")
    block = range(config.ports.cluster, config.ports.cluster + CLUSTER_BLOCK)
    fixed = {k: v for k, v in dataclasses.asdict(config.ports).items() if k != "cluster" and v in block}
    if (k.brokers > 1 or h.datanodes > 1 or s.workers) and (fixed or block.stop > 65536):
        raise ConfigError(f"[ports] cluster = {config.ports.cluster}: the managed cluster takes ports "
                          f"{block.start}-{block.stop - 1}, which must be free of the other ports and below 65536"
                          + (f" ({', '.join(fixed)} in it)" if fixed else ""))
    if s.worker_cores < 1:
        raise ConfigError(f"[spark] worker_cores must be at least 1, got {s.worker_cores}")
    if k.replication < 0 or (not k.bootstrap and k.replication > k.brokers):
        raise ConfigError(f"[kafka] replication must be between 1 and brokers ({k.brokers}), or 0 for "
                          f"min(3, brokers); got {k.replication}")


def load(paths: Paths | None = None) -> Config:
    """Read the config file of this home, or the defaults when there is none."""
    paths = paths or app_paths()
    if not paths.config_file.exists():
        return Config(paths=paths)
    try:
        data = tomllib.loads(paths.config_file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{paths.config_file}: {exc}") from exc
    try:
        return from_dict(data, paths)
    except ConfigError as exc:
        raise ConfigError(f"{paths.config_file}: {exc}") from exc
