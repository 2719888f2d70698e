"""A short chaos run (`scripts/bench chaos`): the whole stack through the Supervisor and its restart
policy, one fault on each of the five services, then the end check against the producer's ledger."""

from __future__ import annotations

import sys

import pytest

from ecomdesk.bench import chaos

pytestmark = pytest.mark.stack


@pytest.mark.timeout(840)  # ~4 min; its own waits add up to 720 s at the most
def test_short_chaos_run_loses_nothing_and_doubles_nothing(tmp_path):
    # seed 35 draws: SIGKILL spark-job, SIGKILL hdfs-datanode, SIGSTOP hdfs-namenode, SIGKILL kafka,
    # SIGKILL producer. The intervals are shortened so the run fits a test, and each fault
    # waits for the previous one's recovery (overlapping faults are the full run's business).
    opts = chaos.Options(minutes=0, faults=5, rate=200, seed=35, gap=(3, 5), pause=(4, 8), warmup=5,
                         after_recovery=True, target_timeout=240, settle_timeout=300, drain_timeout=180,
                         home=tmp_path / "home")
    result = chaos.run(opts)
    chaos.report(result, sys.stderr)
    assert {f.service for f in result.faults} == set(chaos.SERVICES)
    assert result.ok, result.problems
    assert result.truth["producer processes"] >= 2 and result.truth["processes killed (no summary)"] >= 1
    assert result.events["lost"] == 0 and result.events["doubled"] == 0 and result.events["unexpected"] == 0
    assert set(result.aggregates.values()) == {"equal"} and len(result.aggregates) == 7
    assert sum(result.duplicate_keys.values()) == 0
    assert result.quarantine["quarantine rows"] == result.truth["truth invalid"] > 0
    assert all(f.recovery is not None for f in result.faults)
    assert result.orphans == [] and result.tracked_processes > 5
