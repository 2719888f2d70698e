"""Publishing a micro-batch atomically: data files first, then the manifest that makes them current.

Order for batch N: Spark's raw and quarantine files are written into the batch's staging directory,
then its pending record (the partials, `write_pending`); Spark commits the batch in its checkpoint
once that record is durable. Then, off the batch's critical path, the raw + quarantine files are
moved from staging into `.../batch_id=N`, the changed aggregate parts are written as new immutable
files, and last `_manifests/vN.json` is written under a temporary name and renamed (atomic). A start
first publishes the pending records newer than the last manifest (`pending`); a replay of a batch
that has a manifest or a pending record is skipped, any other replay redoes the same work from
snapshot N-1. Versions older than the last KEEP manifests are deleted with their unshared files.
The files of one step are written concurrently: each is a round trip to the NameNode and DataNode,
and a batch has a dozen of them. Expired versions are deleted in the background, off the batch's
critical path (what a crash leaves undeleted, `sweep` removes at the next start).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomdesk.data import contract as C
from ecomdesk.pipeline.funnel import EVENT_COLUMNS, WINDOW_US, FunnelState, empty_frame
from ecomdesk.pipeline.snapshot import ALL, TABLES, Snapshot, utc
from ecomdesk.pipeline.store import Store

log = logging.getLogger(__name__)

KEEP = 5
_BATCH_DIR = re.compile(r"^batch_id=(\d+)$")
_STAGED = re.compile(r"^batch-(\d+)$")  # a batch's staging directory under C.STAGING_DIR
PENDING = "pending.arrow"  # a batch's partials, durable before Spark commits the batch (BatchProcessor)


def staging_dir(batch_id: int) -> str:
    """Where a batch's files wait for its manifest: Spark's writes, and its pending record."""
    return f"{C.STAGING_DIR}/batch-{batch_id}"


def _suffix(batch_id: int, generation: int) -> str:
    """A version's file names; a rebuilt one's never collide with those of the version it replaces."""
    return f"v{batch_id:012d}" + (f"-g{generation}" if generation else "")


def data_path(name: str, part: str, batch_id: int, generation: int = 0) -> str:
    folder = f"{C.AGGREGATES_DIR}/{name}" + ("" if part == ALL else f"/day={part}")
    return f"{folder}/{_suffix(batch_id, generation)}.parquet"


def part_of(path: str) -> str:
    m = re.search(r"/day=([0-9-]+)/", path)
    return m.group(1) if m else ALL


def to_parquet(df: pd.DataFrame, schema: pa.Schema) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False), buf)
    return buf.getvalue()


def from_parquet(data: bytes) -> pd.DataFrame:
    df = pq.read_table(io.BytesIO(data)).to_pandas(ignore_metadata=True)
    for c in ("window_start", "window_end"):
        if c in df.columns:
            df[c] = utc(df[c])
    return df


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat().replace("+00:00", "Z")


class Committer:
    """Owns the job's output directory: load the current snapshot, publish the next, clean up."""

    def __init__(self, store: Store, delay_us: int):
        self.store, self.delay_us = store, delay_us
        self.manifests: list[dict] = []  # retained manifests, oldest first
        self.io = ThreadPoolExecutor(max_workers=8, thread_name_prefix="commit-io")
        self.cleaner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit-expire")

    def _all(self, fn, *args_lists) -> None:
        """fn over every argument tuple, concurrently; re-raises the first failure."""
        for f in [self.io.submit(fn, *args) for args in zip(*args_lists, strict=True)]:
            f.result()

    def _manifest_names(self) -> list[str]:
        versions = [(v, n) for n in self.store.listdir(C.MANIFESTS_DIR) if (v := C.manifest_version(n)) is not None]
        return [n for _, n in sorted(versions)]  # oldest first; a rebuilt version after its batch's

    def _read_all(self, paths: list[str]) -> list[bytes]:
        """The files' bytes, read concurrently (each read is a few round trips to the NameNode and a
        DataNode: read one after another, a restart's load took 2.3 s for a few dozen files)."""
        return list(self.io.map(self.store.read_bytes, paths))

    def load(self) -> Snapshot:
        """The snapshot of the last committed batch (an empty one before the first)."""
        names = self._manifest_names()
        self.manifests = [json.loads(b) for b in self._read_all([f"{C.MANIFESTS_DIR}/{n}" for n in names])]
        if not self.manifests:
            return Snapshot()
        m = self.manifests[-1]
        if m.get("format") != C.FORMAT_VERSION:
            raise C.ContractError(f"the data under {self.store.uri('')} has format {m.get('format')!r}, this job "
                                  f"writes {C.FORMAT_VERSION}: move it away (or delete it) to start afresh")
        parts = [(name, path) for name, paths in m["aggregates"].items() for path in paths]
        data = self._read_all([path for _, path in parts])
        tables: dict[str, dict[str, pd.DataFrame]] = {n: {} for n in TABLES}
        for (name, path), raw in zip(parts, data, strict=True):
            tables[name][part_of(path)] = from_parquet(raw)
        horizon, batches = self._funnel_source(m)
        events = self._raw_events(batches, horizon)
        newest = events.groupby("batch", sort=True)["event_us"].max()
        return Snapshot(batch_id=m["batch_id"], max_event_us=m["max_event_us"], quarantined=m["quarantined"],
                        tables=tables, funnel=FunnelState.derived(events[EVENT_COLUMNS], horizon),
                        funnel_batches=tuple(zip(newest.index.tolist(), newest.tolist(), strict=True)))

    def _funnel_source(self, m: dict) -> tuple[int | None, set[int] | None]:
        """The funnel's horizon in manifest `m` and the batches that may hold events at or after it
        (None: every committed one). A manifest of an earlier version of the job names neither: its
        horizon is then taken from the batch before, as the stream took it."""
        if "funnel_batches" in m:
            return m["funnel_horizon_us"], {int(b) for b, _ in m["funnel_batches"]}
        before = [p["max_event_us"] for p in self.manifests if p["batch_id"] < m["batch_id"]]
        newest = before[-1] if before else None
        return (None if newest is None else newest - self.delay_us - WINDOW_US), None

    def _raw_events(self, batches: set[int] | None, horizon: int | None) -> pd.DataFrame:
        """The funnel's columns and the batch id of the committed valid events of `batches` at or after
        `horizon`, read concurrently from the days from the horizon's on."""
        empty = empty_frame(EVENT_COLUMNS).assign(batch=pd.Series(dtype="int64"))
        if batches is not None and not batches:
            return empty
        from_day = None if horizon is None else _iso(horizon)[:10]  # type: ignore[index]
        batch_dirs = []
        for kind in C.RAW_DIRS:
            for day_dir in self.store.listdir(kind):
                if from_day is None or day_dir.split("=", 1)[-1] >= from_day:
                    for batch_dir in self.store.listdir(f"{kind}/{day_dir}"):
                        b = _BATCH_DIR.match(batch_dir)
                        if b and int(b.group(1)) <= self.committed and (batches is None or int(b.group(1)) in batches):
                            batch_dirs.append((int(b.group(1)), f"{kind}/{day_dir}/{batch_dir}"))
        listings = self.io.map(self.store.listdir, [d for _, d in batch_dirs])
        files = [(batch, f"{d}/{f}") for (batch, d), names in zip(batch_dirs, listings, strict=True) for f in names
                 if f.endswith(".parquet")]
        if not files:
            return empty
        events = pd.concat([from_parquet(raw).assign(batch=batch) for (batch, _), raw
                            in zip(files, self._read_all([p for _, p in files]), strict=True)], ignore_index=True)
        events["event_us"] = utc(events["event_time"]).astype("int64")
        if horizon is not None:
            events = events[events["event_us"] >= horizon]
        return events.astype({"partition": "int64", "offset": "int64"})[[*EVENT_COLUMNS, "batch"]].reset_index(
            drop=True)

    @property
    def committed(self) -> int:
        return self.manifests[-1]["batch_id"] if self.manifests else -1

    def sweep(self) -> None:
        """Remove what an interrupted batch left behind: staging, uncommitted raw batches, orphan files
        (after `BatchProcessor.recover` has published the pending records)."""
        self.store.delete(C.STAGING_DIR)
        for top, _ in (*[(d, "event_date") for d in C.RAW_DIRS], (C.QUARANTINE_DIR, "ingest_date")):
            for date_dir in self.store.listdir(top):
                for b in self.store.listdir(f"{top}/{date_dir}"):
                    m = _BATCH_DIR.match(b)
                    if m and int(m.group(1)) > self.committed:
                        self.store.delete(f"{top}/{date_dir}/{b}")
        live = self._referenced(self.manifests)
        for name in self.store.listdir(C.AGGREGATES_DIR):
            for path in self._files_under(f"{C.AGGREGATES_DIR}/{name}"):
                if path not in live:
                    self.store.delete(path)

    def _files_under(self, rel: str) -> list[str]:
        out = []
        for n in self.store.listdir(rel):
            path = f"{rel}/{n}"
            out.extend([path] if n.endswith(".parquet") else self._files_under(path))
        return out

    @staticmethod
    def _referenced(manifests: list[dict]) -> set[str]:
        refs: set[str] = set()
        for m in manifests:
            for paths in m["aggregates"].values():
                refs.update(paths)
            refs.update(m.get("state", {}).values())  # an earlier version's saved funnel state
        return refs

    def move_staged(self, batch_id: int, staging: str) -> None:
        """Move a batch's staged raw and quarantine partitions to their `batch_id=N` directories."""
        moves = []
        for kind_dir in self.store.listdir(f"{staging}/events"):
            if kind_dir.startswith("kind="):
                kind = kind_dir.split("=", 1)[1]
                for date_dir in self.store.listdir(f"{staging}/events/{kind_dir}"):
                    if date_dir.startswith("event_date="):
                        moves.append((f"{staging}/events/{kind_dir}/{date_dir}", f"{kind}/{date_dir}"))
        for date_dir in self.store.listdir(f"{staging}/quarantine"):
            if date_dir.startswith("ingest_date="):
                moves.append((f"{staging}/quarantine/{date_dir}", f"{C.QUARANTINE_DIR}/{date_dir}"))
        for src, dst_parent in moves:
            dst = f"{dst_parent}/batch_id={batch_id}"
            self.store.delete(dst)
            self.store.rename(src, dst)

    def write_pending(self, staging: str, table: pa.Table) -> None:
        """Make a batch's partials durable in its staging directory: an Arrow IPC file (zstd), whose footer
        is written last, so a record a crash cut short does not open (`pending` leaves it to the sweep)
        and needs no rename to be whole or absent."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as f:
            f.write_table(table)
        self.store.write_bytes(f"{staging}/{PENDING}", sink.getvalue().to_pybytes())

    def pending(self) -> list[tuple[int, str, pa.Table]]:
        """The whole pending records of batches after the last manifest, oldest first: (batch id, its
        staging directory, the partials' table)."""
        found = sorted((int(m.group(1)), f"{C.STAGING_DIR}/{d}") for d in self.store.listdir(C.STAGING_DIR)
                       if (m := _STAGED.match(d)) and int(m.group(1)) > self.committed)
        found = [(b, d) for b, d in found if self.store.exists(f"{d}/{PENDING}")]
        out = []
        for (batch_id, staging), raw in zip(found, self._read_all([f"{d}/{PENDING}" for _, d in found]), strict=True):
            try:
                out.append((batch_id, staging, pa.ipc.open_file(pa.py_buffer(raw)).read_all()))
            except pa.ArrowInvalid as exc:  # cut short: the batch had not ended, Spark gives it again
                log.warning("batch %d's pending record is not whole (%s): Spark replays the batch", batch_id, exc)
        return out

    def write_events(self, batch_id: int, events: pa.Table) -> None:
        """Write a batch's valid events (EVENT_SCHEMA plus `kind` and `event_date`) from the driver into
        the layout Spark's partitioned writer gives them: one file per kind and day, concurrently."""
        self._write_partitioned(batch_id, events, ["kind", "event_date"], C.EVENT_SCHEMA,
                                lambda key: f"{key['kind']}/event_date={key['event_date']}")

    def write_quarantine(self, batch_id: int, rejected: pa.Table) -> None:
        """Write a batch's rejected records (QUARANTINE_SCHEMA plus `ingest_date`) from the driver, one
        file per day, in the layout of Spark's partitioned writer."""
        self._write_partitioned(batch_id, rejected, ["ingest_date"], C.QUARANTINE_SCHEMA,
                                lambda key: f"{C.QUARANTINE_DIR}/ingest_date={key['ingest_date']}")

    def _write_partitioned(self, batch_id: int, rows: pa.Table, keys: list[str], schema: pa.Schema,
                           folder_of) -> None:
        files = {}
        for key in rows.group_by(keys).aggregate([]).to_pylist():
            mask = functools.reduce(pc.and_, [pc.equal(rows[k], key[k]) for k in keys])
            buf = io.BytesIO()
            pq.write_table(rows.filter(mask).select(schema.names).cast(schema), buf)
            files[f"{folder_of(key)}/batch_id={batch_id}"] = buf.getvalue()
        self._all(self._replace_folder, list(files), list(files.values()))

    def _replace_folder(self, folder: str, data: bytes) -> None:
        """A folder holding one file, whatever an earlier attempt left in it."""
        self.store.delete(folder)
        self.store.write_bytes(f"{folder}/part-00000-driver.parquet", data)

    def publish(self, snap: Snapshot, changed: set[tuple[str, str]], query_id: str | None = None,
                generation: int = 0, inherit: bool = True) -> dict:
        """Write the changed parts, then commit the manifest of `snap`; the parts not changed are the
        previous version's (unless `inherit` is off: a rebuild lists all its own). `generation` > 0:
        a version of the same batch rebuilt from the raw events, which supersedes it. The funnel
        state is not written: the manifest names its horizon and the batches it is derived from
        (`load`). Writing it, half an hour of events, cost more than the rest of a batch, and more
        as the state grew."""
        prev = self.manifests[-1]["aggregates"] if self.manifests and inherit else {}
        aggregates = {name: {part_of(p): p for p in prev.get(name, [])} for name in TABLES}
        files: dict[str, bytes] = {}
        for name, part in sorted(changed):
            path = data_path(name, part, snap.batch_id, generation)
            files[path] = to_parquet(snap.tables[name][part], C.TABLE_SCHEMAS[name])
            aggregates[name][part] = path
        self._all(self.store.write_bytes, list(files), list(files.values()))
        manifest = {
            "format": C.FORMAT_VERSION,
            "batch_id": snap.batch_id,
            "generation": generation,
            "query_id": query_id,
            "committed_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "max_event_us": snap.max_event_us,
            "max_event_time": _iso(snap.max_event_us),
            "watermark": _iso(snap.watermark_us(self.delay_us)),
            "quarantined": snap.quarantined,
            "state_rows": snap.funnel.rows,
            "aggregates": {n: [parts[k] for k in sorted(parts)] for n, parts in aggregates.items() if parts},
            "inline": C.inline_tables({n: parts[ALL] for n, parts in snap.tables.items() if ALL in parts}),
            "funnel_horizon_us": snap.funnel.horizon_us,
            "funnel_batches": [list(b) for b in snap.funnel_batches],
        }
        name = C.manifest_name(snap.batch_id, generation)
        tmp = f"{C.MANIFESTS_DIR}/.{name}.tmp"
        self.store.write_bytes(tmp, json.dumps(manifest, indent=1).encode())
        self.store.rename(tmp, f"{C.MANIFESTS_DIR}/{name}")
        self.manifests.append(manifest)
        self._expire()
        return manifest

    def _expire(self) -> None:
        expired = []
        while len(self.manifests) > KEEP:
            expired.append(self.manifests.pop(0))
        if expired:
            # files of the retained (and so of any later) manifests are never among these
            unshared = sorted(self._referenced(expired) - self._referenced(self.manifests))
            manifests = [f"{C.MANIFESTS_DIR}/{C.manifest_name(m['batch_id'], m.get('generation', 0))}"
                         for m in expired]
            self.cleaner.submit(self._delete, manifests + unshared).add_done_callback(_log_failure)

    def _delete(self, paths: list[str]) -> None:
        self._all(self.store.delete, paths)


def _log_failure(future) -> None:
    if future.exception() is not None:
        log.warning("deleting expired versions failed (the next start sweeps them): %s", future.exception())
