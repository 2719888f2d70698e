"""`contract.CurrentReader`: refreshes return exactly the current version and fetch only new files."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.fs as pafs

from ecomdesk.data import contract
from ecomdesk.pipeline.commit import KEEP
from ecomdesk.testing.contract_data import publish, publish_next, sample_frames


class CountingHandler(pafs.FileSystemHandler):
    """The local filesystem, counting the files opened for reading (manifests apart)."""

    def __init__(self):
        self.local = pafs.LocalFileSystem()
        self.opened: list[str] = []

    def _count(self, path):
        if f"/{contract.MANIFESTS_DIR}/" not in path:
            self.opened.append(path)

    def open_input_file(self, path):
        self._count(path)
        return self.local.open_input_file(path)

    def open_input_stream(self, path):
        self._count(path)
        return self.local.open_input_stream(path)

    def get_type_name(self):
        return "counting-local"

    def equals(self, other):
        return self is other

    def normalize_path(self, path):
        return self.local.normalize_path(path)

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("not needed")

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        self.local.copy_file(src, dest)

    def open_output_stream(self, path, metadata):
        return self.local.open_output_stream(path)

    def open_append_stream(self, path, metadata):
        return self.local.open_append_stream(path)


def _listed(manifest: dict) -> set[str]:
    return {f for files in manifest["aggregates"].values() for f in files}


def _inlined(manifest: dict) -> set[str]:
    return {manifest["aggregates"][name][0] for name in manifest.get("inline", {})}


def test_a_manifest_without_inline_tables_is_read_from_its_files(tmp_path):
    handler = CountingHandler()
    fs = pafs.PyFileSystem(handler)
    base = str(tmp_path / "ecommerce")
    v1 = sample_frames(days=2, products=4, users=300)  # more users than INLINE_MAX_ROWS: never inline
    m1 = publish(fs, base, v1).manifest
    assert "avg_ticket_per_user" not in m1["inline"] and "top_products" in m1["inline"]
    path = contract.join(base, contract.MANIFESTS_DIR, contract.manifest_name(1))
    with fs.open_output_stream(path) as f:  # as a writer that does not inline would have written it
        f.write(json.dumps({k: v for k, v in m1.items() if k != "inline"}).encode())
    with contract.CurrentReader(fs, base) as reader:
        _assert_frames(reader.read_all(), v1)
    assert sorted(handler.opened) == sorted(contract.join(base, f) for f in _listed(m1))


def _assert_frames(got: dict[str, pd.DataFrame], frames: dict[str, pd.DataFrame]) -> None:
    for name, want in frames.items():
        keys = list(contract.AGGREGATE_KEYS.get(name, ("reason",)))
        a, b = got[name], want.astype(got[name].dtypes.to_dict())
        if keys:
            a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b[a.columns], check_dtype=False, obj=name)


def test_a_new_version_is_read_exactly_and_only_its_new_files_are_fetched(tmp_path):
    handler = CountingHandler()
    fs = pafs.PyFileSystem(handler)
    base = str(tmp_path / "ecommerce")
    v1 = sample_frames(days=3, products=4, users=40)
    pub1 = publish(fs, base, v1)
    m1 = pub1.manifest
    reader = contract.CurrentReader(fs, base)

    _assert_frames(reader.read_all(), v1)
    # the small whole-table aggregates come inline with the manifest: only the per-day files are opened
    assert set(m1["inline"]) == {n for n in contract.TABLE_SCHEMAS if n not in contract.WINDOWED}
    assert sorted(handler.opened) == sorted(contract.join(base, f) for f in _listed(m1) - _inlined(m1))

    today = v1["sales_per_minute"]["window_start"].max().strftime("%Y-%m-%d")
    pub2 = publish_next(pub1, step=5, days={today})
    v2, m2 = pub2.frames, pub2.manifest
    new_files = _listed(m2) - _listed(m1)
    assert 0 < len(new_files) < len(_listed(m2))  # older days' files are shared by both versions
    # the writer keeps the last KEEP versions: v1's replaced files are still there (and are not fetched)
    assert KEEP > 1
    assert all(fs.get_file_info(contract.join(base, f)).is_file for f in _listed(m1) - _listed(m2))
    handler.opened.clear()

    got = reader.read_all()
    _assert_frames(got, v2)
    assert sorted(handler.opened) == sorted(contract.join(base, f) for f in new_files - _inlined(m2))
    spm = got["sales_per_minute"].sort_values("window_start")
    new = spm["total_orders"].to_numpy()
    old = v1["sales_per_minute"].sort_values("window_start")["total_orders"].to_numpy()
    changed = (spm["window_start"].dt.strftime("%Y-%m-%d") == today).to_numpy()
    assert (new[changed] == old[changed] + 5).all() and (new[~changed] == old[~changed]).all()

    handler.opened.clear()
    _assert_frames(reader.read_all(), v2)  # nothing committed since: no aggregate file opened
    assert handler.opened == []
    assert set(reader._files) == _listed(m2)  # the cache holds the current version's files only


def _published(tmp_path, days: int, batch_id: int):
    """A local base holding one version of sample data, that version, and a reader of it."""
    fs = pafs.LocalFileSystem()
    base = str(tmp_path / "ecommerce")
    pub = publish(fs, base, sample_frames(days=days, products=3, users=10), batch_id=batch_id)
    return fs, base, pub, contract.CurrentReader(fs, base)


def test_frames_returned_are_the_callers_to_change(tmp_path):
    _, _, pub, reader = _published(tmp_path, days=2, batch_id=1)
    v1 = pub.frames
    first = reader.read_all()
    first["sales_per_minute"]["total_sales"] = -1.0
    first["views_by_category"].loc[0, "views"] = -1
    _assert_frames(reader.read_all(), v1)


def test_data_written_again_from_scratch_is_not_served_from_the_cache(tmp_path):
    fs, base, pub, reader = _published(tmp_path, days=2, batch_id=4)
    _assert_frames(reader.read_all(), pub.frames)
    fs.delete_dir(base)
    assert all(df.empty for df in reader.read_all().values())
    # a new job (another query id) writes other rows under the very same paths
    again = publish(fs, base, sample_frames(days=2, products=3, users=10, seed=8), batch_id=4, query_id="job-2")
    assert _listed(again.manifest) == _listed(pub.manifest)
    _assert_frames(reader.read_all(), again.frames)
    # wiped and written again unseen: a third job's version 5 lists its first day's file under a path
    # the reader holds other rows for
    fs.delete_dir(base)
    third = publish(fs, base, sample_frames(days=2, products=3, users=10, seed=9), batch_id=4, query_id="job-3")
    third = publish_next(third)
    assert _listed(third.manifest) & set(reader._files)
    _assert_frames(reader.read_all(), third.frames)
