"""The pure figures of `bench spark` (backlog, bounded verdict, core time, events read, the table), the
soak's backlog slope, the funnel bench run small, and the executor paths of `bench funnel_paths` held
equal to the job's funnel (the per-key funnel in Python; Spark's own joins in a local streaming query)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecomdesk.bench import funnel as funnel_bench
from ecomdesk.bench import soak
from ecomdesk.bench.measure import load, percentiles
from ecomdesk.bench.spark_figures import (
    JobFigures,
    backlog,
    bounded,
    cpu_seconds,
    events_read,
    job_backlog,
    newest_covered_at,
    slope_per_s,
    table,
    verdicts,
)
from ecomdesk.pipeline import funnel

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HIGH = {"orders": {"0": 100, "1": 50}, "page_views": {"0": 500}}


def test_backlog_counts_only_the_topics_a_query_reads_and_never_goes_negative():
    assert backlog(HIGH, {"orders": {"0": 90, "1": 50}}) == 10
    assert backlog(HIGH, {"orders": {"0": 90}}) == 10 + 50  # a partition not read yet counts whole
    assert backlog(HIGH, {"page_views": {"0": 501}}) == 0  # a stale watermark sample
    assert backlog(HIGH, {"cart_events": {"0": 3}}) == 0  # no watermark of that topic yet


def test_a_jobs_backlog_is_its_worst_query():
    reads = {"raw-orders": {"orders": {"0": 100, "1": 50}}, "top_products": {"page_views": {"0": 200}}}
    assert job_backlog(HIGH, reads) == 300
    assert job_backlog(HIGH, {}) == 0


def test_bounded_is_a_backlog_whose_slope_over_the_batches_is_below_one_percent_of_the_rate():
    teeth = [(t * 2.0, 900 * (t % 3)) for t in range(30)]  # batches of uneven size, no trend
    assert bounded(teeth, rate=1000, min_points=5)
    # the case: 145,514 -> 258,968 in a 40 s window, under a batch's worth per batch
    growing = [(t * 2.0, 145_514 + 5_673 * t) for t in range(21)]
    assert not bounded(growing, rate=21_000, min_points=5)
    assert not bounded([(t * 2.0, 25 * t) for t in range(20)], rate=1000, min_points=5)  # 12.5/s > 1 %
    assert bounded([(t * 2.0, 15 * t) for t in range(20)], rate=1000, min_points=5)  # 7.5/s < 1 %
    assert bounded([(t * 2.0, 5000 - 200 * t) for t in range(20)], rate=1000, min_points=5)  # catching up
    assert not bounded(teeth[:4], rate=1000, min_points=5)  # too few batches to tell


def test_events_read_counts_each_event_once_however_many_queries_read_it():
    before = {"raw-orders": {"orders": {"0": 10}}, "sales": {"orders": {"0": 5}}}
    after = {"raw-orders": {"orders": {"0": 110}}, "sales": {"orders": {"0": 100}},
             "raw-views": {"page_views": {"0": 40, "1": 2}}}  # a query whose first batch is in the window
    assert events_read(before, after) == 100 + 42


def test_core_time_counts_new_processes_whole_and_only_the_growth_of_old_ones():
    before = {1: 10.0, 2: 3.0, 3: 7.0}
    after = {1: 12.5, 2: 3.5, 4: 1.0}  # 3 ended (reaped by 1: in 1's figure), 4 started
    assert cpu_seconds(before, after) == 2.5 + 0.5 + 1.0


def test_newest_covered_event_arrived_when_the_last_of_its_partitions_reached_the_end_offset():
    samples = [(10.0, {"orders": {"0": 5, "1": 0}}), (10.5, {"orders": {"0": 9, "1": 3}}),
               (11.0, {"orders": {"0": 12, "1": 3}})]
    assert newest_covered_at(samples, {"orders": {"0": 9, "1": 3}}) == 10.5
    assert newest_covered_at(samples, {"orders": {"0": 12, "1": 0}}) == 11.0
    assert newest_covered_at(samples, {"orders": {"0": 13}}) is None  # not seen yet


def test_percentiles_interpolate_and_load_names_the_three_averages():
    assert percentiles([]) is None
    assert percentiles([1.0, 2.0, 3.0]) == (2.0, 2.9)
    assert percentiles(list(range(11)), (90,)) == (9.0,)  # one definition: the chaos report's p90 too
    assert load().startswith("load ") and len(load().split()[1].split("/")) == 3


def test_table_has_a_row_per_job_the_ratios_against_original_and_ceiling_and_the_targets():
    rows = [JobFigures("ecomdesk", "local[2]", sustained=20_000, read_per_s=19_000, cores_busy=1.5,
                       sustained_load="load 2.0/2.0/2.0", fixed_ms=(800.0, 900.0), core_ms_per_record=0.05),
            JobFigures("original", "local[2]", sustained=5_000, read_per_s=4_750, cores_busy=1.0,
                       fixed_ms=(1600.0, 2000.0), core_ms_per_record=0.2),
            JobFigures("ceiling", "local[2]", sustained=25_000, read_per_s=23_750, fixed_ms=(400.0, 500.0)),
            JobFigures("ecomdesk", "local[1]", sustained=12_000)]  # scaling: not in the ratios
    out = table(rows).splitlines()
    assert len(out) == 1 + 4 + 2 + 4
    assert out[7:] == ["target: ecomdesk/ceiling read rate 0.80 (>= 0.85): NOT met",
                       "target: ecomdesk/ceiling fixed cost p50 2.00 (<= 1.2): NOT met",
                       "target: ecomdesk/original read rate 4.00 (>= 1.5): met",
                       "target: ecomdesk/original cores busy 1.50 (>= 1.0): met"]
    out = out[:4] + out[5:7]
    assert "20,000" in out[1] and "19,000" in out[1] and "1.50" in out[1] and "load 2.0/2.0/2.0" in out[1]
    assert "800/900" in out[1]
    assert out[4] == ("ecomdesk/original: read rate 4.00, cores busy 1.50, fixed cost p50 0.50, "
                      "core time per record 0.25")
    assert out[5] == "ecomdesk/ceiling: read rate 0.80, cores busy n/a, fixed cost p50 2.00, core time per record n/a"


def test_the_soak_calls_a_sawtooth_bounded_and_a_creeping_backlog_growing():
    saw = [(t * 2.0, 5_000 if t % 2 else 0) for t in range(200)]
    creep = [(t * 2.0, (t % 2) * 5_000 + 30 * t) for t in range(200)]  # +15 events/s under the same teeth
    assert abs(slope_per_s(saw)) < 5 and 14 < slope_per_s(creep) < 16
    assert soak.SLOPE_LIMIT * 1000 < 15


def test_the_funnel_bench_runs_and_checks_the_derived_state(capsys):
    """Against a baseline module: here the funnel itself, loaded again from its file."""
    baseline = funnel_bench.module_at(Path(funnel.__file__))
    assert baseline is not funnel and baseline.advance is not funnel.advance
    assert funnel_bench.main(["--rate", "100", "--minutes", "1", "--slice", "0.5", "--baseline", funnel.__file__]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("derive" in line and "this/baseline" in line for line in lines[1:])


def test_the_latency_target_is_judged_on_the_contract_p95_at_1k():
    ours = JobFigures("ecomdesk", "local[2]", latency_1k_s=(1.5, 3.2))
    assert verdicts({"ecomdesk": ours}) == ["ecomdesk latency p95 at 1,000/s 3.20 s (<= 3.0 s): NOT met"]
    assert verdicts({"original": ours}) == []


class _KeyState:
    """What `applyInPandasWithState` hands a key: its state, absent until updated."""

    def __init__(self) -> None:
        self.value: tuple | None = None

    @property
    def exists(self) -> bool:
        return self.value is not None

    @property
    def get(self) -> tuple:
        assert self.value is not None
        return self.value

    def update(self, value: tuple) -> None:
        self.value = value


def _edges() -> list[pd.DataFrame]:
    """Two batches of one view per (user, product) at 0, whose cart and purchase fall on and just past
    the funnel's bounds, some only in the second batch."""
    w = funnel.WINDOW_US
    plan = {  # product: (cart times, purchase times), the view at 0
        "on-bounds": ([w], [w]),  # carted and bought, both at the window's last microsecond
        "cart-late": ([w + 1], [w + 1]),  # not carted; the cart converts (the purchase at its time)
        "buy-late": ([10], [w + 1]),  # carted only; the cart converts
        "buy-before-cart": ([20], [15]),  # carted only; the cart does not convert
        "later-batch": ([5], [6]),  # carted and bought by the second batch
        "two-carts": ([10, 30], [20]),  # bought after the first cart; only the first converts
    }
    rows = [[], []]
    for product, (carts, buys) in plan.items():
        late = product == "later-batch"
        rows[0].append(("u1", product, "page_view", 0))
        rows[late].extend(("u1", product, "add_to_cart", t) for t in carts)
        rows[late].extend(("u1", product, "purchase", t) for t in buys)
    out = []
    for i, batch in enumerate(rows):
        frame = pd.DataFrame(batch, columns=["user_id", "product_id", "event_type", "event_us"])
        frame["event_us"] += T0
        out.append(frame.assign(topic="t", partition=0, offset=range(100 * i, 100 * i + len(frame))))
    return out


def _per_key(batches: list[pd.DataFrame]) -> pd.Series:
    from ecomdesk.bench import funnel_paths

    states: dict[tuple[str, str], _KeyState] = {}
    found = []
    for events in batches:
        for key, rows in events.groupby(["user_id", "product_id"]):
            found.extend(funnel_paths.per_key_funnel(key, iter([rows]), states.setdefault(key, _KeyState())))
    home = pd.concat(found)
    home["minute_us"] = home["event_us"] // funnel.MINUTE_US * funnel.MINUTE_US
    return home.groupby(["kind", "minute_us"]).size()


def test_the_per_key_funnel_of_the_paths_bench_counts_what_the_jobs_funnel_counts():
    """The Python per-key funnel (its Spark path's processor), key by key and batch by batch, against
    `funnel.advance`: on events at the funnel's bounds, then on realistic events."""
    from ecomdesk.bench import funnel_paths

    edges = _edges()
    _, truth = funnel_paths.driver(edges)
    assert dict(truth.groupby(level="kind").sum()) == {"carted": 5, "bought": 3, "converted": 5}
    assert _per_key(edges).astype("int64").equals(truth.astype("int64"))

    realistic = funnel_paths.make_batches(6, 3000, 50.0, seed=3)  # 60 s of event time per batch
    _, truth = funnel_paths.driver(realistic)
    assert truth.sum() > 50 and set(truth.index.get_level_values("kind")) == {"carted", "bought", "converted"}
    assert _per_key(realistic).astype("int64").equals(truth.astype("int64"))


def test_spark_joins_count_what_the_jobs_funnel_counts(spark, tmp_path):
    """Spark's own stream-stream joins (the executor path `bench funnel_paths` measures), batch by batch
    in a streaming query, against `funnel.advance`: realistic events, then the bounds an hour later (the
    joins drop events behind the watermark, which the job's funnel would still count; none is here)."""
    from ecomdesk.bench import funnel_paths

    hour = 3_600_000_000
    batches = funnel_paths.make_batches(3, 1500, 25.0, seed=5)  # 60 s of event time per batch
    batches += [frame.assign(event_us=frame["event_us"] + hour, offset=frame["offset"] + 10_000) for frame in _edges()]
    _, truth = funnel_paths.driver(batches)
    seconds, counts = funnel_paths.run_path(spark, "spark-joins", tmp_path, batches)
    assert len(seconds) == len(batches) and truth.sum() > 50
    assert counts.astype("int64").equals(truth.astype("int64"))
