"""The data reader on real storage: contract files on local disk, and HDFS + Kafka of the real stack."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pyarrow.fs as pafs
import pytest

from ecomdesk.data.readers import DataReader, Unreachable
from ecomdesk.testing.contract_data import publish, sample_frames


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_business_reads_the_current_version_through_the_contract(tmp_path):
    fs = pafs.LocalFileSystem()
    base = str(tmp_path / "ecommerce")
    frames = sample_frames(1, 4, users=30)
    publish(fs, base, frames, batch_id=1)
    newer = {k: v.copy() for k, v in frames.items()}
    newer["views_by_category"]["views"] = newer["views_by_category"]["views"] + 1
    publish(fs, base, newer, batch_id=2)
    reader = DataReader(pafs.LocalFileSystem, base, "127.0.0.1:1")
    got = reader.business(top_n=3, user_sort="orders")
    views = got.views
    assert len(views["sales_per_minute"]) == 1440
    assert views["sales_per_minute"]["total_sales"].sum() == pytest.approx(
        frames["sales_per_minute"]["total_sales"].sum()
    )
    assert sorted(views["views_by_category"]["views"]) == sorted(newer["views_by_category"]["views"])
    assert list(views["avg_ticket_per_user"]["orders"]) == sorted(frames["avg_ticket_per_user"]["orders"])[-3:][::-1]
    assert len(got.users) == 30
    assert got.quarantine.set_index("reason")["count"].to_dict() == {"malformed_json": 12, "negative_price": 3}


def test_listing_counts_files_and_bytes_per_directory(tmp_path):
    fs = pafs.LocalFileSystem()
    base = str(tmp_path / "ecommerce")
    publish(fs, base, sample_frames(2, 3, users=10))
    listing = {d.path: d for d in DataReader(pafs.LocalFileSystem, base, "x:1").hdfs_listing()}
    expected_files, expected_bytes = 0, 0
    for root, _, files in os.walk(base):
        expected_files += len(files)
        expected_bytes += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert (listing[base].files, listing[base].bytes) == (expected_files, expected_bytes)
    spm = listing[f"{base}/aggregates/sales_per_minute"]
    assert spm.files == 2  # one file per day
    assert listing[f"{base}/_manifests"].files == 1
    assert DataReader(pafs.LocalFileSystem, str(tmp_path / "none"), "x:1").hdfs_listing() == []


def test_a_dead_namenode_is_reported_quickly_not_waited_for(tmp_path):
    reader = DataReader(
        lambda: pytest.fail("must not connect"),
        "/ecommerce",
        "x:1",
        namenode=("127.0.0.1", _closed_port()),
        timeout=1.0,
    )
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as err:
        reader.business(10)
    assert err.value.source == "hdfs" and time.monotonic() - t0 < 3


def test_a_dead_broker_is_reported_as_kafka_unreachable():
    reader = DataReader(pafs.LocalFileSystem, "/x", f"127.0.0.1:{_closed_port()}", timeout=1.0)
    try:
        with pytest.raises(Unreachable) as err:
            reader.kafka_topics()
        assert err.value.source == "kafka"
    finally:
        reader.close()


@pytest.mark.stack
def test_hdfs_and_kafka_of_the_real_stack(stack):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from ecomdesk.data.hdfs import hadoop_filesystem

    config = stack.config
    base = f"/ui-readers-{uuid.uuid4().hex[:6]}"
    fs = hadoop_filesystem(config)
    publish(fs, base, sample_frames(1, 3, users=10)).close()
    reader = DataReader(
        lambda: hadoop_filesystem(config), base, config.kafka_bootstrap, namenode=config.namenode_address
    )
    try:
        assert len(reader.business(10).views["sales_per_minute"]) == 1440
        listing = {d.path: d for d in reader.hdfs_listing()}
        assert listing[base].files == sum(d.files for p, d in listing.items() if p.count("/") == 2)
        assert listing[f"{base}/aggregates/sales_per_minute"].files == 1

        topic = f"peek-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
        admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
        producer = Producer({"bootstrap.servers": config.kafka_bootstrap})
        for i in range(30):
            producer.produce(topic, key=str(i).encode(), value=f'{{"n": {i}}}'.encode(), partition=i % 2)
        assert producer.flush(30) == 0
        stats = {t.name: t for t in reader.kafka_topics()}
        assert stats[topic].partitions == 2 and stats[topic].total_messages == 30
        last = reader.kafka_peek(topic, 5)
        assert len(last) == 5 and {m.key for m in last} <= {str(i) for i in range(30)}
        assert all(m.offset >= 10 for m in last)  # the last 5 of 15 per partition at most
    finally:
        reader.close()
        fs.delete_dir(base)
