"""The data contract between the Spark job and its readers (GUI, `ecomdesk query`, tests).

Layout under the base path (default `/ecommerce`; the job takes a full URI such as
`hdfs://host:port/ecommerce` or `file:///tmp/x`, readers a pyarrow filesystem plus a path):

    orders/ views/ cart/          raw valid events, event_date=YYYY-MM-DD/batch_id=N/part-*.parquet
    quarantine/                   rejected records, ingest_date=YYYY-MM-DD/batch_id=N/part-*.parquet
    aggregates/<name>/...         immutable snapshot files, each written once and never changed
    _manifests/v<batch>.json      one manifest per committed micro-batch; the highest is current
    _checkpoint/ _staging/        the job's own bookkeeping; never read by readers

A micro-batch becomes visible only when its manifest appears (written to a temporary name and then
renamed, which is atomic). The manifest names every aggregate file of that version, so a reader
sees exactly one row per key, never a half-written state, and reads a number of files that depends
on the number of days of data, not on the number of micro-batches. Raw and quarantine files of a
batch above the manifest's `batch_id` belong to a batch that has not committed and are ignored.
"""

from __future__ import annotations

import json
import posixpath
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

DEFAULT_BASE = "/ecommerce"
FORMAT_VERSION = 2  # 2: the view funnel (viewed, carted, bought) beside the cart conversion

# event_type -> (topic it must arrive on, raw events directory)
EVENT_TYPES = {
    "purchase": ("orders", "orders"),
    "add_to_cart": ("cart_events", "cart"),
    "page_view": ("page_views", "views"),
}
TOPICS = tuple(topic for topic, _ in EVENT_TYPES.values())  # orders, cart_events, page_views
RAW_DIRS = ("orders", "views", "cart")
QUARANTINE_DIR = "quarantine"
AGGREGATES_DIR = "aggregates"
MANIFESTS_DIR = "_manifests"
STAGING_DIR = "_staging"
CHECKPOINT_DIR = "_checkpoint"

FUNNEL_WINDOW_SECONDS = 20 * 60

_TS = pa.timestamp("us", tz="UTC")
# The view funnel (views -> carted -> bought, with the rate of each step and of the whole) and, apart
# from it, the cart conversion (carts bought within the window). Definitions: docs/DATA_CONTRACT.md.
_FUNNEL = [
    ("viewed", pa.int64()), ("carted", pa.int64()), ("bought", pa.int64()), ("view_to_cart", pa.float64()),
    ("cart_to_buy", pa.float64()), ("view_to_buy", pa.float64()), ("carts", pa.int64()),
    ("purchases", pa.int64()), ("converted", pa.int64()), ("cart_conversion_rate", pa.float64()),
]

AGGREGATE_SCHEMAS: dict[str, pa.Schema] = {
    "sales_per_minute": pa.schema(
        [("window_start", _TS), ("window_end", _TS), ("total_sales", pa.float64()),
         ("total_orders", pa.int64())]
    ),
    "avg_ticket_per_user": pa.schema(
        [("user_id", pa.string()), ("avg_ticket", pa.float64()), ("orders", pa.int64()),
         ("total_spent", pa.float64())]
    ),
    "views_by_category": pa.schema([("category", pa.string()), ("views", pa.int64())]),
    "top_products": pa.schema([("product_id", pa.string()), ("views", pa.int64())]),
    "sales_by_product_per_minute": pa.schema(
        [("product_id", pa.string()), ("window_start", _TS), ("window_end", _TS), ("orders", pa.int64()),
         ("revenue", pa.float64())]
    ),
    "conversion_funnel": pa.schema([("window_start", _TS), ("window_end", _TS), *_FUNNEL]),
    "conversion_overall": pa.schema(_FUNNEL),
}
AGGREGATES: tuple[str, ...] = tuple(AGGREGATE_SCHEMAS)

# Key columns of each aggregate: a reader gets exactly one row per key.
AGGREGATE_KEYS: dict[str, tuple[str, ...]] = {
    "sales_per_minute": ("window_start",),
    "avg_ticket_per_user": ("user_id",),
    "views_by_category": ("category",),
    "top_products": ("product_id",),
    "sales_by_product_per_minute": ("product_id", "window_start"),
    "conversion_funnel": ("window_start",),
    "conversion_overall": (),
}

QUARANTINE_COUNTS = "quarantine_counts"
QUARANTINE_COUNTS_SCHEMA = pa.schema([("reason", pa.string()), ("count", pa.int64())])
# every table a manifest lists: the aggregates and the quarantine counts
TABLE_SCHEMAS: dict[str, pa.Schema] = {**AGGREGATE_SCHEMAS, QUARANTINE_COUNTS: QUARANTINE_COUNTS_SCHEMA}
# aggregates per minute of event time: one file per UTC day; the others are one file each
WINDOWED: tuple[str, ...] = tuple(n for n, s in AGGREGATE_SCHEMAS.items() if "window_start" in s.names)

# Raw valid events (orders/, views/, cart/); event_date and batch_id are the partition columns.
EVENT_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("product_id", pa.string()), ("category", pa.string()),
     ("event_type", pa.string()), ("price", pa.float64()), ("event_time", _TS), ("store_id", pa.string()),
     ("store_type", pa.string()), ("city", pa.string()), ("province", pa.string()), ("lat", pa.float64()),
     ("lon", pa.float64()), ("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64())]
)
# Quarantined records (quarantine/); ingest_date (of the Kafka timestamp) and batch_id are partitions.
QUARANTINE_SCHEMA = pa.schema(
    [("raw", pa.string()), ("reason", pa.string()), ("topic", pa.string()), ("partition", pa.int32()),
     ("offset", pa.int64()), ("kafka_timestamp", _TS)]
)

QUARANTINE_REASONS = (
    "malformed_json", "missing_user_id", "missing_event_type", "missing_timestamp", "unknown_event_type",
    "wrong_topic", "missing_product_id", "unparseable_timestamp", "missing_price", "non_numeric_price",
    "negative_price", "missing_category",
)

# see manifest_name: group 1 is the batch id, group 2 the generation of a rebuilt version (none: 0)
MANIFEST_RE = re.compile(r"^v(\d{12})(?:-g(\d+))?\.json$")

# A whole-table aggregate (no window) of at most this many rows is also carried in the manifest
# (`inline`), so a reader that has the manifest needs no extra file round trip for it.
INLINE_MAX_ROWS = 256


class ContractError(RuntimeError):
    """The stored data does not follow this contract (unknown name, unreadable manifest)."""


def manifest_name(batch_id: int, generation: int = 0) -> str:
    """`v<batch>.json`; a version rebuilt from the raw events (`ecomdesk rebuild`) is `v<batch>-g<n>.json`,
    which supersedes the versions of that batch before it."""
    return f"v{batch_id:012d}.json" if not generation else f"v{batch_id:012d}-g{generation}.json"


def manifest_version(name: str) -> tuple[int, int] | None:
    """(batch id, generation) of a manifest's file name; None for any other name. The newest is the max."""
    m = MANIFEST_RE.match(name)
    return None if m is None else (int(m.group(1)), int(m.group(2) or 0))


def join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/") or "/", *parts)


def current_manifest(fs: pafs.FileSystem, base_path: str = DEFAULT_BASE) -> dict | None:
    """The manifest of the last committed micro-batch, or None when nothing is committed yet."""
    path = _newest_manifest_path(fs, base_path)
    return None if path is None else _load_manifest(fs, path)


def _newest_manifest_path(fs: pafs.FileSystem, base_path: str) -> str | None:
    infos = fs.get_file_info(pafs.FileSelector(join(base_path, MANIFESTS_DIR), allow_not_found=True))
    versions = [(v, i.path) for i in infos if (v := manifest_version(i.base_name)) is not None]
    return max(versions)[1] if versions else None


def _load_manifest(fs: pafs.FileSystem, path: str) -> dict:
    with fs.open_input_stream(path) as f:
        manifest = json.loads(f.read())
    if manifest.get("format") != FORMAT_VERSION:
        raise ContractError(f"{path}: unsupported manifest format {manifest.get('format')!r}")
    return manifest


def inline_tables(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, list]]:
    """The manifest's optional `inline` entry: of the given tables, those not windowed and of at
    most INLINE_MAX_ROWS rows, as columns of JSON values (the same rows as their Parquet file)."""
    return {name: pa.Table.from_pandas(df[TABLE_SCHEMAS[name].names], schema=TABLE_SCHEMAS[name],
                                       preserve_index=False).to_pydict()
            for name, df in frames.items() if name not in WINDOWED and len(df) <= INLINE_MAX_ROWS}


def _inline_table(manifest: dict, name: str) -> pa.Table | None:
    columns = (manifest.get("inline") or {}).get(name)
    return None if columns is None else pa.Table.from_pydict(columns, schema=TABLE_SCHEMAS[name])


def _read_file(fs: pafs.FileSystem, path: str, schema: pa.Schema) -> pa.Table:
    """One whole-file read, then Parquet decoding in memory: on HDFS every small positioned read
    that the Parquet reader would make (footer, then each column chunk) is a round trip."""
    with fs.open_input_file(path) as f:
        data = f.read()
    return pq.read_table(pa.BufferReader(data), schema=schema)


def _frame(tables: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return table.to_pandas(ignore_metadata=True)


def _read_files(fs: pafs.FileSystem, base_path: str, files: list[str], schema: pa.Schema) -> pd.DataFrame:
    return _frame([_read_file(fs, join(base_path, f), schema) for f in files], schema)


def _with_retry(read):
    """Old versions are deleted a few batches after they stop being current: retry on a vanished file."""
    for attempt in range(3):
        try:
            return read()
        except FileNotFoundError:
            if attempt == 2:
                raise
            time.sleep(0.05)


def read_current(fs: pafs.FileSystem, name: str, base_path: str = DEFAULT_BASE) -> pd.DataFrame:
    """Current value of aggregate `name`: one row per key; empty (right columns) before the first batch."""
    if name not in AGGREGATE_SCHEMAS:
        raise ContractError(f"unknown aggregate {name!r}; known: {', '.join(AGGREGATES)}")
    schema = AGGREGATE_SCHEMAS[name]

    def read() -> pd.DataFrame:
        manifest = current_manifest(fs, base_path)
        files = manifest["aggregates"].get(name, []) if manifest else []
        return _read_files(fs, base_path, files, schema)

    return _with_retry(read)


class CurrentReader:
    """Reads every current aggregate again and again, fetching only files it has not decoded yet.

    Aggregate files are immutable (a path is written once and never changed), so a decoded file
    is kept by path and reused while the current manifest still lists it; entries the manifest no
    longer lists are dropped, which bounds the cache to one version. A new micro-batch typically
    rewrites only today's per-minute files and the small whole-table aggregates, so a refresh
    costs one listing, one manifest and those few files. When nothing was committed since the
    last read, it costs the listing only. Files are fetched concurrently by a pool kept for the
    reader's life (on HDFS each new thread would attach to libhdfs' JVM again); `close()` ends it.
    Not thread-safe: one reader per thread.
    """

    def __init__(self, fs: pafs.FileSystem, base_path: str = DEFAULT_BASE, max_workers: int = 8):
        self.fs = fs
        self.base_path = base_path
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="contract-read")
        self._manifest_path: str | None = None
        self._manifest: dict | None = None
        self._files: dict[str, pa.Table] = {}  # path relative to base -> decoded file
        self.files_read = 0  # files fetched and decoded so far (the cache's misses)

    def __enter__(self) -> CurrentReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def read_parts(self) -> dict[str, list[tuple[str, pa.Table]]]:
        """Every aggregate plus `quarantine_counts` of the current version, file by file:
        name -> [(path relative to the base, decoded table)] in the manifest's order.

        The parts of all names come from one manifest, so they are consistent with each other.
        A path names immutable content, so callers may cache whatever they derive from it by path.
        """
        return _with_retry(self._read_parts)

    def read_all(self) -> dict[str, pd.DataFrame]:
        """Every aggregate plus `quarantine_counts` of the current version, as new frames."""
        parts = self.read_parts()
        return {name: frame_of(parts, name) for name in TABLE_SCHEMAS}

    def _read_parts(self) -> dict[str, list[tuple[str, pa.Table]]]:
        manifest = self._current()
        listed = {name: (manifest["aggregates"].get(name, []) if manifest else []) for name in TABLE_SCHEMAS}
        schema_of = {f: TABLE_SCHEMAS[name] for name, files in listed.items() for f in files}
        for name, files in listed.items():
            if len(files) == 1 and manifest is not None and files[0] not in self._files:
                table = _inline_table(manifest, name)
                if table is not None:
                    self._files[files[0]] = table  # carried in the manifest: same rows as the file
        missing = sorted(schema_of.keys() - self._files.keys())
        jobs = {f: self._pool.submit(_read_file, self.fs, join(self.base_path, f), schema_of[f]) for f in missing}
        fetched = {f: job.result() for f, job in jobs.items()}
        self.files_read += len(fetched)
        self._files = {f: fetched[f] if f in fetched else self._files[f] for f in schema_of}
        return {name: [(f, self._files[f]) for f in files] for name, files in listed.items()}

    def _current(self) -> dict | None:
        """The newest manifest; loaded only when its path changed (a manifest is never rewritten)."""
        path = _newest_manifest_path(self.fs, self.base_path)
        if path != self._manifest_path:
            manifest = None if path is None else _load_manifest(self.fs, path)
            if not _same_lineage(self._manifest, manifest):
                self._files = {}  # data wiped and written again: the same paths may hold other rows
            self._manifest_path, self._manifest = path, manifest
        return self._manifest


def frame_of(parts: Mapping[str, Sequence[tuple[str | None, pa.Table]]], name: str) -> pd.DataFrame:
    """One frame of table `name` from the parts `CurrentReader.read_parts` gives."""
    return _frame([t for _, t in parts[name]], TABLE_SCHEMAS[name])


def _same_lineage(old: dict | None, new: dict | None) -> bool:
    """Whether `new` follows `old` in the same job's history (batch ids only grow within one)."""
    if old is None or new is None:
        return old is new
    return old.get("query_id") == new.get("query_id") and new["batch_id"] >= old["batch_id"]


def top_products(fs: pafs.FileSystem, n: int, base_path: str = DEFAULT_BASE) -> pd.DataFrame:
    """The n most viewed products (ties broken by product_id so the answer is stable)."""
    df = read_current(fs, "top_products", base_path)
    return df.sort_values(["views", "product_id"], ascending=[False, True]).head(n).reset_index(drop=True)


def quarantine_counts(fs: pafs.FileSystem, base_path: str = DEFAULT_BASE) -> pd.DataFrame:
    """Number of quarantined records per reason, over all committed batches."""

    def read() -> pd.DataFrame:
        manifest = current_manifest(fs, base_path)
        files = manifest["aggregates"].get(QUARANTINE_COUNTS, []) if manifest else []
        return _read_files(fs, base_path, files, QUARANTINE_COUNTS_SCHEMA)

    return _with_retry(read)


def _read_partitioned(fs, base_path: str, directory: str, schema: pa.Schema, date_col: str) -> pd.DataFrame:
    manifest = current_manifest(fs, base_path)
    full = schema.append(pa.field(date_col, pa.string())).append(pa.field("batch_id", pa.int64()))
    root = join(base_path, directory)
    if manifest is None or fs.get_file_info(root).type != pafs.FileType.Directory:
        return full.empty_table().to_pandas()
    partitioning = ds.partitioning(
        pa.schema([(date_col, pa.string()), ("batch_id", pa.int64())]), flavor="hive"
    )
    dataset = ds.dataset(root, filesystem=fs, format="parquet", partitioning=partitioning, schema=full)
    table = dataset.to_table(filter=ds.field("batch_id") <= manifest["batch_id"])
    return table.to_pandas(ignore_metadata=True)


def read_events(fs: pafs.FileSystem, kind: str, base_path: str = DEFAULT_BASE) -> pd.DataFrame:
    """Raw valid events of `kind` (orders, views or cart) of the committed batches only.

    This scans every raw file: meant for checks and exports, not for charts.
    """
    if kind not in RAW_DIRS:
        raise ContractError(f"unknown raw event kind {kind!r}; known: {', '.join(RAW_DIRS)}")
    return _read_partitioned(fs, base_path, kind, EVENT_SCHEMA, "event_date")


def read_quarantine(fs: pafs.FileSystem, base_path: str = DEFAULT_BASE) -> pd.DataFrame:
    """Quarantined records (raw value, reason, Kafka coordinates) of the committed batches only."""
    return _read_partitioned(fs, base_path, QUARANTINE_DIR, QUARANTINE_SCHEMA, "ingest_date")
