"""The pure figures of `bench spark`: backlog, the bounded verdict, core time, the comparison table.

Offsets are topic -> partition -> offset: Kafka's high watermarks (polled by the bench) or the
offsets a query's last finished batch read up to (BatchReport.end_offsets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Offsets = Mapping[str, Mapping[str, int]]


def backlog(high: Offsets, read: Offsets) -> int:
    """Events in Kafka that a query has not read: over the topics it reads, per partition,
    the high watermark minus the offset its last finished batch read up to."""
    return sum(max(0, hw - read[t].get(p, 0)) for t in read for p, hw in high.get(t, {}).items())


def job_backlog(high: Offsets, reads: Mapping[str, Offsets]) -> int:
    """A job's backlog is its worst query's (every query must keep up)."""
    return max((backlog(high, r) for r in reads.values()), default=0)


GROWTH_LIMIT = 0.01  # a sustained rate's backlog grows by less than this fraction of the rate per second


def slope_per_s(points: Sequence[tuple[float, int]]) -> float:
    """Least-squares slope of (time s, backlog) points, events per second (nan under 3 points)."""
    if len(points) < 3:
        return float("nan")
    t, y = np.array([p[0] for p in points]), np.array([p[1] for p in points], dtype=float)
    return float(np.polyfit(t - t[0], y, 1)[0])


def bounded(points: Sequence[tuple[float, int]], rate: float, min_points: int) -> bool:
    """The backlog right after each batch of the window (time s, events; the bottoms of the sawtooth
    batches draw) does not grow: over at least `min_points` batches, its least-squares slope is below
    GROWTH_LIMIT of the rate. (Growth from the first to the last batch below one batch's worth, the
    test before, passed a job that read 1 - 1/N of the rate over N batches.)"""
    return len(points) >= min_points and slope_per_s(points) < GROWTH_LIMIT * rate


def events_read(before: Mapping[str, Offsets], after: Mapping[str, Offsets]) -> int:
    """Events a job read between two moments, each event once however many queries read it:
    per topic, the most any of its queries advanced."""
    per_topic: dict[str, int] = {}
    for query, read in after.items():
        for topic, parts in read.items():
            was = before.get(query, {}).get(topic, {})
            moved = sum(o - was.get(p, 0) for p, o in parts.items())
            per_topic[topic] = max(per_topic.get(topic, 0), moved)
    return sum(per_topic.values())


def cpu_seconds(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """Core time a process tree spent between two samples (pid -> user+system seconds, its reaped
    children's included). A process born in between counts whole; one that died unreaped is lost."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def newest_covered_at(high: Sequence[tuple[float, Offsets]], end: Offsets) -> float | None:
    """When the newest event a batch read had arrived in Kafka: per partition the first sampled
    time its high watermark reached the batch's end offset; the latest of those."""
    latest = None
    for topic, parts in end.items():
        for p, off in parts.items():
            first = next((t for t, hw in high if hw.get(topic, {}).get(p, -1) >= off), None)
            if first is None:
                return None
            latest = first if latest is None else max(latest, first)
    return latest


@dataclass
class JobFigures:
    """One job's row of the table; None where it was not measured. Loads are `os.getloadavg` text."""

    job: str
    master: str
    sustained: float | None = None  # the highest offered rate whose backlog stayed bounded
    read_per_s: float | None = None  # what the job read at that rate (compare jobs on this)
    cores_busy: float | None = None  # its process tree's CPU seconds per second at that rate
    sustained_load: str = ""
    batch_ms: tuple[float, ...] | None = None  # p50, p95 at the sustained rate
    fixed_ms: tuple[float, ...] | None = None  # p50, p95 of batches of a few records
    fixed_load: str = ""
    core_ms_per_record: float | None = None
    wall_ms_per_record: float | None = None
    latency_1k_s: tuple[float, ...] | None = None
    latency_1k_load: str = ""
    latency_top_s: tuple[float, ...] | None = None


def _pair(v: tuple[float, ...] | None, fmt: str) -> str:
    return "n/a" if v is None else f"{v[0]:{fmt}}/{v[1]:{fmt}}"


def _num(v: float | None, fmt: str) -> str:
    return "n/a" if v is None else f"{v:{fmt}}"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or not b else f"{a / b:.2f}"


# the job's targets against the other jobs of the same run: (what, other job, figure, bound, at least?)
TARGETS = (
    ("read rate", "ceiling", lambda f: f.read_per_s, 0.85, True),
    ("fixed cost p50", "ceiling", lambda f: f.fixed_ms[0] if f.fixed_ms else None, 1.2, False),
    ("read rate", "original", lambda f: f.read_per_s, 1.5, True),
    ("cores busy", "original", lambda f: f.cores_busy, 1.0, True),
)
LATENCY_P95_S = 3.0  # at 1,000 events/s, after the warm-up, through the contract


def verdicts(by: Mapping[str, JobFigures]) -> list[str]:
    """Each target the run can judge: the ratio, its bound, met or not."""
    ours, out = by.get("ecomdesk"), list[str]()
    if ours is None:
        return out
    for what, other, figure, bound, at_least in TARGETS:
        them = by.get(other)
        a, b = figure(ours), figure(them) if them is not None else None
        if a is None or not b:
            continue
        met = a / b >= bound if at_least else a / b <= bound
        out.append(f"ecomdesk/{other} {what} {a / b:.2f} ({'>=' if at_least else '<='} {bound}): "
                   f"{'met' if met else 'NOT met'}")
    if ours.latency_1k_s is not None:
        p95 = ours.latency_1k_s[1]
        out.append(f"ecomdesk latency p95 at 1,000/s {p95:.2f} s (<= {LATENCY_P95_S} s): "
                   f"{'met' if p95 <= LATENCY_P95_S else 'NOT met'}")
    return out


def table(rows: Sequence[JobFigures]) -> str:
    """One line per job, then the ratios ecomdesk/original and ecomdesk/ceiling, then the targets."""
    out = [f"{'job':9s} {'master':9s} {'sustained/s':>11s} {'read/s':>8s} {'cores':>5s} {'batch p50/p95 ms':>17s} "
           f"{'fixed p50/p95 ms':>17s} "
           f"{'core ms/rec':>11s} {'wall ms/rec':>11s} {'lat@1k p50/p95 s':>17s} {'lat@top p50/p95 s':>18s}  loads"]
    for r in rows:
        out.append(f"{r.job:9s} {r.master:9s} {_num(r.sustained, ',.0f'):>11s} {_num(r.read_per_s, ',.0f'):>8s} "
                   f"{_num(r.cores_busy, '.2f'):>5s} {_pair(r.batch_ms, '.0f'):>17s} "
                   f"{_pair(r.fixed_ms, '.0f'):>17s} {_num(r.core_ms_per_record, '.4f'):>11s} "
                   f"{_num(r.wall_ms_per_record, '.4f'):>11s} {_pair(r.latency_1k_s, '.2f'):>17s} "
                   f"{_pair(r.latency_top_s, '.2f'):>18s}  sustained: {r.sustained_load or 'n/a'}; "
                   f"fixed: {r.fixed_load or 'n/a'}; lat@1k: {r.latency_1k_load or 'n/a'}")
    by: dict[str, JobFigures] = {}
    for r in rows:  # the ratios compare the jobs on the same master: the first row of each job
        by.setdefault(r.job, r)
    ours = by.get("ecomdesk")
    for other in ("original", "ceiling", "ecomdesk-inline", "ecomdesk-union", "ecomdesk-wide"):
        them = by.get(other)
        if ours is None or them is None:
            continue
        fixed = (ours.fixed_ms[0] if ours.fixed_ms else None, them.fixed_ms[0] if them.fixed_ms else None)
        out.append(f"ecomdesk/{other}: read rate {ratio(ours.read_per_s, them.read_per_s)}, "
                   f"cores busy {ratio(ours.cores_busy, them.cores_busy)}, "
                   f"fixed cost p50 {ratio(*fixed)}, "
                   f"core time per record {ratio(ours.core_ms_per_record, them.core_ms_per_record)}")
    out += [f"target: {v}" for v in verdicts(by)]
    return "\n".join(out)
