"""The foreachBatch handler on Kafka-shaped batch DataFrames, written to a local dir and read back
through the data contract: quarantine reasons, exact aggregates across batches, crash + replay."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.fs as pafs
import pytest
from spark_local import random_events

from ecomdesk.data import contract as C
from ecomdesk.pipeline import job_args
from ecomdesk.pipeline import one_pass as one_pass_module
from ecomdesk.pipeline.batch import BatchProcessor
from ecomdesk.pipeline.commit import PENDING, Committer
from ecomdesk.pipeline.one_pass import OnePass
from ecomdesk.pipeline.parse import parse_records
from ecomdesk.pipeline.store import ArrowStore
from ecomdesk.testing.reference import aggregates, assert_same

DELAY_US = 10 * 60 * 1_000_000
INVALID = [
    ("orders", "{not json", "malformed_json"),
    ("orders", json.dumps({"event_type": "purchase", "timestamp": "2024-03-01T23:50:00Z"}), "missing_user_id"),
    ("page_views", json.dumps({"user_id": 1, "timestamp": "2024-03-01T23:50:00Z"}), "missing_event_type"),
    ("cart_events", json.dumps({"user_id": 1, "event_type": "add_to_cart"}), "missing_timestamp"),
    ("page_views", json.dumps({"user_id": 1, "event_type": "click", "timestamp": "2024-03-01T23:50:00"}),
     "unknown_event_type"),
    ("orders", json.dumps({"user_id": 1, "product_id": 100, "event_type": "purchase", "price": -3,
                           "timestamp": "2024-03-01T23:50:00Z"}), "negative_price"),
    ("orders", json.dumps({"user_id": 1, "product_id": 100, "event_type": "purchase", "price": "ten",
                           "timestamp": "2024-03-01T23:50:00Z"}), "non_numeric_price"),
    ("orders", json.dumps({"user_id": 1, "product_id": 100, "event_type": "purchase", "price": 3,
                           "timestamp": "yesterday"}), "unparseable_timestamp"),
    ("orders", json.dumps({"user_id": 1, "product_id": 100, "event_type": "page_view", "category": "Tech",
                           "timestamp": "2024-03-01T23:50:00Z"}), "wrong_topic"),
]


def _json(row) -> str:
    """Alternate the two producers' styles: ints vs strings, offset vs naive-UTC timestamps."""
    ts = row.event_time
    stamp = ts.isoformat() if row.offset % 2 else ts.tz_convert(None).isoformat()
    ids = (int(row.user_id), int(row.product_id)) if row.offset % 3 else (row.user_id, row.product_id)
    return json.dumps({"user_id": ids[0], "product_id": ids[1], "category": row.category,
                       "event_type": row.event_type, "price": row.price, "timestamp": stamp,
                       "store_id": row.store_id, "store_type": row.store_type, "city": row.city,
                       "province": row.province, "location": {"lat": row.lat, "lon": row.lon}})


@pytest.fixture(scope="module")
def events():
    return random_events(800, seed=11)


def kafka_batches(spark, events, n_batches: int):
    rows = [(r.topic, int(r.partition), int(r.offset), _json(r)) for r in events.itertuples()]
    rows += [(t, 0, 10_000 + i, v) for i, (t, v, _) in enumerate(INVALID)]
    df = pd.DataFrame(rows, columns=["topic", "partition", "offset", "value"])
    df["timestamp"] = pd.Timestamp("2024-03-02T00:00:00Z")
    # Arrival roughly in event-time order (out of order within a batch), as the watermark assumes.
    order = events.sort_values("event_time")["offset"].tolist() + [10_000 + i for i in range(len(INVALID))]
    df = df.set_index("offset").loc[order].reset_index()[["topic", "partition", "offset", "value", "timestamp"]]
    size = -(-len(df) // n_batches)
    chunks = [df.iloc[i * size:(i + 1) * size].sample(frac=1, random_state=i) for i in range(n_batches)]
    schema = "topic string, partition int, offset long, value string, timestamp timestamp"
    # three input partitions each, as a Kafka batch has one per topic partition
    rows = [[(t, int(p), int(o), v, ts.to_pydatetime()) for t, p, o, v, ts in c.itertuples(index=False, name=None)]
            for c in chunks]
    frames = [spark.createDataFrame(spark.sparkContext.parallelize(r, 3), schema=schema) for r in rows]
    return [parse_records(f.withColumn("value", spark_col_binary("value"))) for f in frames]


def spark_col_binary(name):
    from pyspark.sql import functions as F

    return F.col(name).cast("binary")


def check_against(base: str, events) -> None:
    fs = pafs.LocalFileSystem()
    want = aggregates(events)
    with C.CurrentReader(fs, base) as reader:  # whole-table aggregates from the manifest's inline copy
        kept = reader.read_all()
    inline = set(C.current_manifest(fs, base)["inline"])
    assert {"views_by_category", "conversion_overall", C.QUARANTINE_COUNTS} <= inline
    for name in C.AGGREGATES:
        assert_same(name, C.read_current(fs, name, base), want[name], C.AGGREGATE_KEYS[name])
        assert_same(name, kept[name], want[name], C.AGGREGATE_KEYS[name])
    counts = C.quarantine_counts(fs, base)
    assert dict(zip(counts.reason, counts["count"], strict=True)) == {r: 1 for _, _, r in INVALID}
    bad = C.read_quarantine(fs, base)
    assert sorted(bad.reason) == sorted(r for _, _, r in INVALID)
    assert set(bad.raw) == {v for _, v, _ in INVALID}
    raw = pd.concat([C.read_events(fs, k, base) for k in C.RAW_DIRS])
    assert sorted(raw["offset"]) == sorted(events["offset"])


@pytest.mark.parametrize("mode", ["one pass", "one pass, small batches", "driver writes events",
                                  "Spark writes events"])
def test_batches_give_exact_aggregates(spark, events, tmp_path, monkeypatch, mode):
    """The job's one pass: Spark writes each batch's events while its tasks compute the partials, in one
    task per core when the batch is small (`OnePass.events`; these batches are not Kafka's, so their
    size is given) and one per input partition otherwise. The union's path (a benchmark's baseline): small
    batches' events come home with the partials (the funnel's columns taken from them) and are written by
    the driver; batches of more than driver_rows records are written by Spark and the funnel's columns are
    a branch of the union."""
    store = ArrowStore(pafs.LocalFileSystem(), str(tmp_path))
    committer = Committer(store, DELAY_US)
    one_pass = OnePass.on(spark) if mode.startswith("one pass") else None
    if mode == "one pass, small batches":
        monkeypatch.setattr(one_pass_module, "kafka_records", lambda batch: job_args.SMALL_BATCH)
    proc = BatchProcessor(committer, committer.load(), DELAY_US, driver_rows=50 if mode.startswith("Spark") else
                          20_000, one_pass=one_pass)
    for i, b in enumerate(kafka_batches(spark, events, 3)):
        proc(b, i)
        # the batch's parsed records are freed when it ends: nothing stays persisted in the JVM
        assert spark.sparkContext._jsc.getPersistentRDDs().isEmpty()
    proc.flush()
    # Spark jobs per batch. One pass: the raw write. The union: the local checkpoint's count and the
    # partials' collect, Spark's write of a large batch's events, and the quarantine's write in the
    # batch that has rejected records (the last)
    large = mode != "driver writes events"
    jobs = {b: work.jobs for b, work in proc.spark_work.items()}
    assert jobs == ({0: 1, 1: 1, 2: 1} if one_pass else {0: 2 + large, 1: 2 + large, 2: 3 + large})
    if one_pass:  # a small batch's one job runs one task per core (local[1]), the others one per partition
        tasks = {work.tasks for work in proc.spark_work.values()}
        assert tasks == ({1} if mode.endswith("small batches") else {3}), proc.spark_work
    files = [f for k in C.RAW_DIRS for f in pafs.LocalFileSystem().get_file_info(
        pafs.FileSelector(f"{tmp_path}/{k}", recursive=True)) if f.path.endswith(".parquet")]
    assert all(f.base_name.endswith("-driver.parquet") == (not large) for f in files) and files
    # the funnel state is never written: a restart derives it from the raw events of the batches the
    # manifest names, at or after its horizon
    manifest = C.current_manifest(pafs.LocalFileSystem(), str(tmp_path))
    assert "state" not in manifest and not store.exists(f"{C.AGGREGATES_DIR}/_funnel")
    assert [b for b, _ in manifest["funnel_batches"]] == [0, 1, 2]
    restarted = Committer(store, DELAY_US).load()
    assert restarted.funnel.horizon_us == proc.snapshot.funnel.horizon_us == manifest["funnel_horizon_us"]
    assert restarted.funnel_batches == proc.snapshot.funnel_batches
    live, loaded = proc.snapshot.funnel.saved(), restarted.funnel.saved()
    for kind, df in live.items():
        assert len(df) > 0
        pd.testing.assert_frame_equal(_sorted(loaded[kind]), _sorted(df))
    check_against(str(tmp_path), events)
    manifest = C.current_manifest(pafs.LocalFileSystem(), str(tmp_path))
    assert manifest["batch_id"] == 2 and manifest["quarantined"] == len(INVALID)
    # per-minute aggregates are stored one file per UTC day: the data spans midnight
    assert len(manifest["aggregates"]["sales_per_minute"]) == 2


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


class Crash(RuntimeError):
    pass


def _dying_manifest(store: ArrowStore) -> None:
    real_rename = store.rename

    def dying_rename(src, dst):
        if dst.startswith(C.MANIFESTS_DIR):
            raise Crash("killed before the manifest")
        real_rename(src, dst)

    store.rename = dying_rename


def _started(base: str, one_pass: OnePass) -> tuple[ArrowStore, BatchProcessor, list[int]]:
    """The job's start: load, publish the pending records (the batches it gives), sweep."""
    store = ArrowStore(pafs.LocalFileSystem(), base)
    committer = Committer(store, DELAY_US)
    proc = BatchProcessor(committer, committer.load(), DELAY_US, one_pass=one_pass)
    recovered = proc.recover()
    committer.sweep()
    return store, proc, recovered


@pytest.mark.parametrize("spark_committed", [False, True], ids=["Spark replays it", "Spark committed it"])
def test_crash_before_manifest_then_replay(spark, events, tmp_path, spark_committed):
    """A batch whose publish dies before its manifest is invisible, and the next start publishes it from
    its pending record, exactly once: whether Spark then replays it (it died before Spark's commit) or not
    (Spark had committed it), and with the replay of an already committed batch skipped."""
    base, one_pass = str(tmp_path), OnePass.on(spark)
    batches = kafka_batches(spark, events, 4)
    store, proc, _ = _started(base, one_pass)
    proc(batches[0], 0)
    proc(batches[1], 1)
    proc.flush()
    before = C.read_current(pafs.LocalFileSystem(), "sales_per_minute", base)
    _dying_manifest(store)
    proc(batches[2], 2)  # returns once its pending record is durable: Spark would commit it now
    with pytest.raises(Crash):
        proc.flush()
    after = C.read_current(pafs.LocalFileSystem(), "sales_per_minute", base)
    pd.testing.assert_frame_equal(before, after)  # nothing of batch 2 is visible
    assert C.current_manifest(pafs.LocalFileSystem(), base)["batch_id"] == 1

    _, proc, recovered = _started(base, one_pass)
    assert recovered == [2] and C.current_manifest(pafs.LocalFileSystem(), base)["batch_id"] == 2
    assert not store.exists(C.STAGING_DIR)
    # Spark replays the batches whose commit it did not record: skipped
    for i in (1, 2) if not spark_committed else (1,):
        proc(batches[i], i)
    proc(batches[3], 3)
    proc.flush()
    check_against(base, events)


def test_a_pending_record_cut_short_is_not_published(spark, events, tmp_path):
    """A batch that dies before its pending record is whole is not published by the next start: Spark
    replays it."""
    base, one_pass = str(tmp_path), OnePass.on(spark)
    batches = kafka_batches(spark, events, 3)
    store, proc, _ = _started(base, one_pass)
    proc(batches[0], 0)
    proc.flush()
    real_write = store.write_bytes

    def dying_write(rel, data):
        if rel.endswith(PENDING) and "batch-1/" in rel:
            real_write(rel, data[: len(data) - 16])  # all but the footer's end
            raise Crash("killed while writing the pending record")
        real_write(rel, data)

    store.write_bytes = dying_write
    with pytest.raises(Crash):
        proc(batches[1], 1)
    _, proc, recovered = _started(base, one_pass)
    assert recovered == [] and C.current_manifest(pafs.LocalFileSystem(), base)["batch_id"] == 0
    for i in (1, 2):
        proc(batches[i], i)
    proc.flush()
    check_against(base, events)


def test_parse_keeps_coordinates_and_raw_of_rejected_only(spark):
    base = {"user_id": 1, "product_id": 2, "event_type": "page_view", "category": "Tech", "price": 9.5,
            "timestamp": "2024-03-01T10:00:00Z"}
    values = [
        json.dumps({**base, "location": {"lat": 41.5, "lon": -3.25}}),
        json.dumps({**base, "location": {"lat": "40.1", "lon": None}}),
        json.dumps({**base, "location": "somewhere"}),  # not an object: a valid event without coordinates
        json.dumps(base),
        json.dumps({**base, "event_type": "click"}),
    ]
    df = pd.DataFrame({"topic": "page_views", "partition": 0, "offset": range(len(values)), "value": values,
                       "timestamp": pd.Timestamp("2024-03-02T00:00:00Z")})
    schema = "topic string, partition int, offset long, value string, timestamp timestamp"
    kafka = spark.createDataFrame(df, schema=schema).withColumn("value", spark_col_binary("value"))
    got = parse_records(kafka).orderBy("offset").toPandas()
    assert got["lat"].tolist()[:2] == [41.5, 40.1] and got["lat"].iloc[2:].isna().all()
    assert got["lon"].iloc[0] == -3.25 and got["lon"].iloc[1:].isna().all()
    assert got["reason"].tolist() == [None, None, None, None, "unknown_event_type"]
    assert got["raw"].tolist() == [None, None, None, None, values[4]]


def test_the_job_refuses_data_of_another_format(tmp_path):
    """Format 1 had no view funnel (no open views in its state): the job says what to do instead of
    resuming from a state it cannot continue."""
    (tmp_path / C.MANIFESTS_DIR).mkdir()
    (tmp_path / C.MANIFESTS_DIR / C.manifest_name(3)).write_text(json.dumps({"format": 1, "batch_id": 3}))
    with pytest.raises(C.ContractError, match="format 1.*move it away"):
        Committer(ArrowStore(pafs.LocalFileSystem(), str(tmp_path)), DELAY_US).load()
