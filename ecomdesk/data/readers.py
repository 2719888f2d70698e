"""What the window shows from the data sources, read without Qt so it can run in any thread.

`DataReader` is the boundary between the GUI and HDFS/Kafka: the window only calls its four
methods from worker threads. A source that cannot be reached raises `Unreachable` (a banner in
the window) instead of hanging: HDFS is probed with a short TCP connect before pyarrow's
HadoopFileSystem is used, because libhdfs retries a dead NameNode for a long time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from ecomdesk.data import contract
from ecomdesk.data.chart_views import Business, ChartShaper
from ecomdesk.data.hdfs import check_namenode
from ecomdesk.data.time_range import ChartView
from ecomdesk.kafka_client import ErrorTrap, KafkaSecurityError, list_topics

if TYPE_CHECKING:
    from confluent_kafka import Consumer


class Unreachable(RuntimeError):
    """A data source (\"hdfs\" or \"kafka\") did not answer; `reason` says what happened."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source} unreachable: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class DirStats:
    path: str
    files: int
    bytes: int
    modified: float | None  # newest file modification time (epoch seconds), None when empty


@dataclass(frozen=True)
class TopicStats:
    name: str
    partitions: int
    end_offsets: dict[int, int]
    messages_per_second: float | None  # None on the first sample of a topic

    @property
    def total_messages(self) -> int:
        return sum(self.end_offsets.values())


@dataclass(frozen=True)
class KafkaMessage:
    partition: int
    offset: int
    timestamp: float | None
    key: str | None
    value: str


class DataReader:
    """Reads aggregates and inspection data; every method may be called from a worker thread."""

    def __init__(
        self,
        connect_fs: Callable[[], pafs.FileSystem],
        base_path: str,
        kafka_bootstrap: str,
        namenode: tuple[str, int] | list[tuple[str, int]] | None = None,
        timeout: float = 3.0,
        kafka_security: dict | None = None,
    ):
        self._connect_fs = connect_fs
        self._fs: pafs.FileSystem | None = None
        self.base_path = base_path.rstrip("/") or "/"
        self._namenode = namenode
        self._timeout = timeout
        self._bootstrap = kafka_bootstrap
        self._kafka_security = kafka_security or {}  # ecomdesk.kafka_client.security_conf
        self._trap = ErrorTrap()
        self._fs_lock = threading.Lock()
        self._kafka_lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._last_totals: dict[str, tuple[float, int]] = {}
        self._current: contract.CurrentReader | None = None
        self._shaper = ChartShaper()

    # ----- HDFS --------------------------------------------------------------------------
    def _filesystem(self) -> pafs.FileSystem:
        if self._namenode:
            try:
                check_namenode(self._namenode, self._timeout)
            except ConnectionError as exc:
                self._fs = None
                raise Unreachable("hdfs", str(exc)) from exc
        if self._fs is None:
            try:
                self._fs = self._connect_fs()
            except OSError as exc:
                raise Unreachable("hdfs", str(exc)) from exc
        return self._fs

    def _with_fs(self, fn):
        with self._fs_lock:
            fs = self._filesystem()
            try:
                return fn(fs)
            except OSError as exc:
                self._fs = None  # reconnect next time: the NameNode may have restarted
                raise Unreachable("hdfs", str(exc)) from exc

    def business(self, top_n: int, user_sort: str = "avg_ticket", view: ChartView | None = None) -> Business:
        """The business charts' data from the current aggregates, shaped for drawing."""

        def read(fs):
            # kept across refreshes: each refresh fetches and shapes only the files new since the last
            if self._current is None or self._current.fs is not fs:
                if self._current is not None:
                    self._current.close()
                self._current, self._shaper = contract.CurrentReader(fs, self.base_path), ChartShaper()
            return self._shaper.shape(self._current.read_parts(), top_n, user_sort, view)

        return self._with_fs(read)

    def hdfs_listing(self) -> list[DirStats]:
        """Every directory under the base path with the files and bytes of its whole subtree."""
        return self._with_fs(lambda fs: directory_stats(fs, self.base_path))

    # ----- Kafka -------------------------------------------------------------------------
    def _kafka_consumer(self):
        if self._consumer is None:
            from confluent_kafka import Consumer

            self._trap = ErrorTrap()
            self._consumer = Consumer(
                {
                    **self._kafka_security,
                    "error_cb": self._trap,
                    "bootstrap.servers": self._bootstrap,
                    "group.id": "ecomdesk-inspector",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    # failures surface as Unreachable in the window; keep librdkafka's retry chatter quiet
                    "log_level": 2,
                }
            )
        return self._consumer

    def _drop_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def kafka_topics(self) -> list[TopicStats]:
        """User topics with partitions, end offsets and messages/s since the previous call."""
        from confluent_kafka import KafkaException, TopicPartition

        with self._kafka_lock:
            try:
                consumer = self._kafka_consumer()
                meta = list_topics(consumer, self._trap, self._timeout)
                now = time.monotonic()
                result = []
                for name in sorted(t for t in meta.topics if not t.startswith("__")):
                    ends = {
                        p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=self._timeout)[1]
                        for p in sorted(meta.topics[name].partitions)
                    }
                    total = sum(ends.values())
                    prev = self._last_totals.get(name)
                    rate = (total - prev[1]) / (now - prev[0]) if prev and now > prev[0] else None
                    self._last_totals[name] = (now, total)
                    result.append(TopicStats(name, len(ends), ends, rate))
                return result
            except (KafkaException, KafkaSecurityError) as exc:
                reason = self._trap.explain(exc)
                self._drop_consumer()
                raise Unreachable("kafka", reason) from exc

    def kafka_peek(self, topic: str, n: int) -> list[KafkaMessage]:
        """The last `n` messages of `topic` across its partitions, oldest first."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        if n <= 0:
            raise ValueError("the number of messages to peek must be positive")
        with self._kafka_lock:
            try:
                consumer = self._kafka_consumer()
                meta = list_topics(consumer, self._trap, self._timeout, topic).topics.get(topic)
                if meta is None or meta.error is not None:
                    raise ValueError(f"no topic named {topic!r}")
                assignment, pending = [], set()
                for p in meta.partitions:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=self._timeout
                    )
                    if high > low:
                        assignment.append(TopicPartition(topic, p, max(low, high - n)))
                        pending.add(p)
                messages: list[KafkaMessage] = []
                consumer.assign(assignment)
                try:
                    deadline = time.monotonic() + self._timeout
                    while pending and time.monotonic() < deadline:
                        msg = consumer.poll(0.2)
                        if msg is None:
                            continue
                        if msg.error():
                            if msg.error().code() == KafkaError._PARTITION_EOF:
                                pending.discard(msg.partition())
                                continue
                            raise KafkaException(msg.error())
                        messages.append(_message(msg))
                finally:
                    consumer.unassign()
                if pending:
                    raise Unreachable("kafka", f"timed out reading partitions {sorted(pending)} of {topic}")
                messages.sort(key=lambda m: (m.timestamp or 0.0, m.partition, m.offset))
                return messages[-n:]
            except (KafkaException, KafkaSecurityError) as exc:
                reason = self._trap.explain(exc)
                self._drop_consumer()
                raise Unreachable("kafka", reason) from exc

    def close(self) -> None:
        with self._kafka_lock:
            self._drop_consumer()
        with self._fs_lock:
            if self._current is not None:
                self._current.close()


def _message(msg) -> KafkaMessage:
    kind, ts = msg.timestamp()
    key = msg.key()
    return KafkaMessage(
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp=ts / 1000.0 if kind and ts >= 0 else None,
        key=key.decode("utf-8", "replace") if key is not None else None,
        value=(msg.value() or b"").decode("utf-8", "replace"),
    )


def directory_stats(fs: pafs.FileSystem, base_path: str) -> list[DirStats]:
    """Files and bytes per directory (subtree included), base path first, then sorted by path."""
    base = base_path.rstrip("/") or "/"
    root = fs.get_file_info(base)
    if root.type == pafs.FileType.NotFound:
        return []
    if root.type != pafs.FileType.Directory:
        raise NotADirectoryError(base)
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    totals: dict[str, list] = {base: [0, 0, None]}
    for info in infos:
        if info.type == pafs.FileType.Directory:
            totals.setdefault(_path_only(info.path).rstrip("/"), [0, 0, None])
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else None
        parent = _path_only(info.path).rsplit("/", 1)[0]
        while True:
            entry = totals.setdefault(parent, [0, 0, None])
            entry[0] += 1
            entry[1] += info.size or 0
            if mtime is not None and (entry[2] is None or mtime > entry[2]):
                entry[2] = mtime
            if parent == base or len(parent) <= len(base):
                break
            parent = parent.rsplit("/", 1)[0] or "/"
    ordered = [base] + sorted(p for p in totals if p != base)
    return [DirStats(p, *totals[p]) for p in ordered]


def _path_only(path: str) -> str:
    """HadoopFileSystem may answer with full hdfs://host:port/... URIs; keep the path part."""
    if "://" in path:
        path = "/" + path.split("://", 1)[1].split("/", 1)[1]
    return path
