"""Readers of the data contract on files written by the job's own writer."""

from __future__ import annotations

import pandas as pd
import pyarrow.fs as pafs
import pytest

from ecomdesk.data import contract
from ecomdesk.testing.contract_data import publish, sample_frames


@pytest.fixture
def published(tmp_path):
    fs = pafs.LocalFileSystem()
    base = str(tmp_path / "ecommerce")
    frames = sample_frames(days=2, products=5, users=50)
    publish(fs, base, frames, batch_id=3)
    return fs, base, frames


def read_all(fs, base: str) -> dict[str, pd.DataFrame]:
    with contract.CurrentReader(fs, base) as reader:
        return reader.read_all()


def test_read_all_equals_reading_each_aggregate(published):
    fs, base, frames = published
    everything = read_all(fs, base)
    assert set(everything) == {*contract.AGGREGATES, contract.QUARANTINE_COUNTS}
    for name in contract.AGGREGATES:
        pd.testing.assert_frame_equal(everything[name], contract.read_current(fs, name, base))
    pd.testing.assert_frame_equal(everything[contract.QUARANTINE_COUNTS], contract.quarantine_counts(fs, base))
    assert len(everything["sales_per_minute"]) == len(frames["sales_per_minute"]) == 2 * 24 * 60


def test_nothing_committed_gives_empty_frames_with_the_contract_columns(tmp_path):
    everything = read_all(pafs.LocalFileSystem(), str(tmp_path / "empty"))
    for name, schema in contract.AGGREGATE_SCHEMAS.items():
        assert everything[name].empty and list(everything[name].columns) == schema.names
