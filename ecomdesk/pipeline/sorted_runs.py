"""Rows sorted by an int64 key, in a few immutable runs of geometric sizes (a log-structured merge).

The funnel state holds about half an hour of events, and a batch touches only the (user, product)
pairs of its own events. Kept this way, a batch finds the rows of its keys by binary search in each
run, adds its rows as a new run, and merges runs only when the newest is as large as the one before
it (up to a cap): each row is merged about log2(cap / batch) times in its life, so the cost per batch
stays flat however large the state, instead of several passes over the whole state. A run is never changed:
an update copies the one column it changes, so the state a batch started from stays whole (a
replayed batch starts from it again). Rows that `keep` rejects (dropped by the horizon, or done) stay
until their run is merged, or go with the whole run once its newest row is older than the horizon;
runs hold at most an eighth of the rows each, so about an eighth more is held than kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

Columns = dict[str, np.ndarray]
RUNS = 8  # a merge makes a run of at most 1/RUNS of the rows, or MERGE_MIN
MERGE_MIN = 100_000
Keep = Callable[[Columns], np.ndarray]  # boolean per row: still part of the state


@dataclass(frozen=True)
class Run:
    cols: Columns  # equal lengths, sorted by the key column
    newest: int  # the largest time in the run (what a horizon drops it by)

    def __len__(self) -> int:
        return len(next(iter(self.cols.values())))


def _run(cols: Columns, key: str, time: str) -> Run | None:
    if len(cols[key]) == 0:
        return None
    order = np.argsort(cols[key], kind="stable")  # timsort: linear on two concatenated sorted runs
    return Run({c: v[order] for c, v in cols.items()}, int(cols[time].max()))


@dataclass(frozen=True)
class SortedRuns:
    key: str
    time: str
    columns: tuple[str, ...]
    runs: tuple[Run, ...] = ()

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for r in self.runs for v in r.cols.values())

    def take(self, keys: np.ndarray, keep: Keep) -> pd.DataFrame:
        """The kept rows whose key is among `keys` (sorted, unique), with `_run` and `_pos`: where each
        row is, for `updated`."""
        parts = []
        for i, run in enumerate(self.runs):
            codes = run.cols[self.key]
            lo, hi = np.searchsorted(codes, keys, "left"), np.searchsorted(codes, keys, "right")
            n = hi - lo
            total = int(n.sum())
            if not total:
                continue
            pos = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(total)
            found = {c: v[pos] for c, v in run.cols.items()}
            mask = keep(found)
            parts.append(pd.DataFrame({**{c: v[mask] for c, v in found.items()},
                                       "_run": np.full(int(mask.sum()), i), "_pos": pos[mask]}))
        if not parts:  # (take is not called on an empty state: its columns have no types)
            return pd.DataFrame({**{c: pd.Series(dtype=v.dtype) for c, v in self.runs[0].cols.items()},
                                 "_run": pd.Series(dtype="int64"), "_pos": pd.Series(dtype="int64")})
        return pd.concat(parts, ignore_index=True)

    def updated(self, column: str, where: pd.DataFrame, values) -> SortedRuns:
        """`column` set to `values` at the rows `where` (its `_run` and `_pos`, from `take`)."""
        runs = list(self.runs)
        values = np.asarray(values)
        for i in np.unique(where["_run"].to_numpy()):
            at = (where["_run"] == i).to_numpy()
            col = runs[i].cols[column].copy()
            col[where["_pos"].to_numpy()[at]] = values[at]
            runs[i] = Run({**runs[i].cols, column: col}, runs[i].newest)
        return SortedRuns(self.key, self.time, self.columns, tuple(runs))

    def added(self, rows: pd.DataFrame, keep: Keep, horizon: float) -> SortedRuns:
        """These rows added as a new run; runs wholly older than `horizon` dropped; the newest runs
        merged while the one before is at most twice as large and the two hold at most an eighth of
        the rows (dropping the rows `keep` rejects). The cap keeps each run to a stretch of batches,
        so that it goes whole once the horizon passes its newest row, instead of one run that holds
        the oldest rows, dropped or not, until the next merge with as many rows."""
        runs = [r for r in self.runs if r.newest >= horizon]
        new = _run({c: rows[c].to_numpy() for c in self.columns}, self.key, self.time)
        if new is not None:
            runs.append(new)
        cap = max(MERGE_MIN, sum(len(r) for r in runs) // RUNS)
        while len(runs) >= 2 and len(runs[-2]) <= 2 * len(runs[-1]) and len(runs[-2]) + len(runs[-1]) <= cap:
            a, b = runs[-2], runs.pop()
            both = {c: np.concatenate([a.cols[c], b.cols[c]]) for c in self.columns}
            mask = keep(both)
            merged = _run({c: v[mask] for c, v in both.items()}, self.key, self.time)
            runs[-1:] = [merged] if merged is not None else []
        return SortedRuns(self.key, self.time, self.columns, tuple(runs))

    def frame(self, keep: Keep) -> pd.DataFrame:
        """Every kept row (of a state that holds some: an empty one has no column types)."""
        both = {c: np.concatenate([r.cols[c] for r in self.runs]) for c in self.columns}
        mask = keep(both)
        return pd.DataFrame({c: v[mask] for c, v in both.items()})

    def keys(self) -> np.ndarray:
        """Every key held, kept or not."""
        return np.concatenate([r.cols[self.key] for r in self.runs]) if self.runs else np.empty(0, np.int64)

    def rekeyed(self, new_key: Callable[[np.ndarray], np.ndarray]) -> SortedRuns:
        """Keys mapped by an order-preserving function: the runs stay sorted."""
        runs = tuple(Run({**r.cols, self.key: new_key(r.cols[self.key])}, r.newest) for r in self.runs)
        return SortedRuns(self.key, self.time, self.columns, runs)
