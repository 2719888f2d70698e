"""What the window reads and where it shows it: the business charts and the quarantine (HDFS), the topics
(Kafka), the clusters' health, the HDFS listing and a topic's last messages, each on the reader threads
(`reads.Reads`: one read of a kind at a time)."""

from __future__ import annotations

import time
from functools import partial

from PySide6.QtCore import QObject

from ecomdesk.data.chart_views import Business
from ecomdesk.data.health.model import ClusterHealth
from ecomdesk.ui import fmt


class DataReads(QObject):
    def __init__(self, window, reads, parent: QObject):
        """`window` lends its panels (kept, not the window: no reference cycle through a Qt object)."""
        super().__init__(parent)
        self.reads, self.reader, self.read_health, self.snapshot = reads, window.reader, window.read_health, \
            window.stack.snapshot
        self.business, self.pipeline, self.kafka, self.hdfs = window.business, window.pipeline, window.kafka, \
            window.hdfs
        self.cluster, self.tabs, self.updated_label = window.cluster, window.tabs, window.updated_label
        self.last_updated: float | None = None

    def poll(self) -> None:
        # read on the UI thread, used in the reader's
        top_n, user_sort, view = self.business.top_n, self.business.user_sort_key(), self.business.chart_view()
        self.reads.read_source("business", "hdfs", lambda: self.reader.business(top_n, user_sort, view),
                               self._show_business)
        self.reads.read_source("topics", "kafka", self.reader.kafka_topics, self.kafka.show_topics)
        states = {s.name: str(s.state) for s in self.snapshot()}
        self.reads.read("health", partial(self.read_health, states), self._show_health, self._health_failed)
        if self.tabs.currentWidget() is self.hdfs:
            self.refresh_hdfs()

    def refresh_hdfs(self) -> None:
        self.reads.read_source("hdfs_listing", "hdfs", self.reader.hdfs_listing, self.hdfs.show_listing)

    def peek(self, topic: str, n: int) -> None:
        def failed(exc: BaseException) -> None:
            self.kafka.show_error(f"Peek failed: {exc}")

        self.reads.jobs.submit(lambda: self.reader.kafka_peek(topic, n), self.kafka.show_messages, failed)

    def tab_changed(self) -> None:
        if self.tabs.currentWidget() is self.hdfs:
            self.refresh_hdfs()

    def _show_business(self, data: Business) -> None:
        self.business.show_data(data)
        self.pipeline.draw_quarantine(data.quarantine)
        self.last_updated = time.time()
        self.updated_label.setText(f"Charts updated {fmt.clock(self.last_updated)}  ")

    def _show_health(self, health: ClusterHealth) -> None:
        self.cluster.show_health(health)
        n = self.cluster.problems
        self.tabs.setTabText(self.tabs.indexOf(self.cluster), f"Cluster ({n})" if n else "Cluster")

    def _health_failed(self, exc: BaseException) -> None:
        self.cluster.show_error(f"{type(exc).__name__}: {exc}")
