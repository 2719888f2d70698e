"""A short chaos run (`scripts/bench chaos`): the whole stack through the Supervisor and its restart
policy, one fault on each of the five services, the job SIGKILLed once more after the recovery, then
the end check against the producer's ledger.

It holds what the end-to-end run with two SIGKILLs asserted (that file is gone): events produced
before the job first ran are read (earliest offsets), the job is SIGKILLed twice, the second time
from a checkpoint its recovered run wrote, and every aggregate and the quarantine equal the ledger."""

from __future__ import annotations

import sys

import pytest

from ecomdesk.bench import chaos

pytestmark = [pytest.mark.stack, pytest.mark.quiet_neighbour]


@pytest.mark.timeout(600)
def test_short_chaos_run_loses_nothing_and_doubles_nothing(tmp_path):
    # seed 35 draws: SIGKILL spark-job, SIGKILL hdfs-datanode, SIGSTOP hdfs-namenode, SIGKILL kafka,
    # SIGKILL producer. The faults come 1-2 s apart, each once its target is up, so they overlap (as in
    # the full run): the pipeline recovers from all of them together, which costs one restart of the job
    # instead of five recoveries in a row. Then the job is SIGKILLed once more, after a batch of its
    # recovered run. Restarts wait 0.25 s instead of 1 s (the policy's backoff has tests of its own).
    opts = chaos.Options(minutes=0, faults=5, rate=200, seed=35, gap=(1, 2), pause=(2, 3), warmup=0.5,
                         restart_backoff=0.25, target_timeout=240, settle_timeout=300, drain_timeout=180,
                         final_job_kill=True, home=tmp_path / "home")
    result = chaos.run(opts)
    chaos.report(result, sys.stderr)
    assert {f.service for f in result.faults} == set(chaos.SERVICES)
    assert [(f.service, f.kind) for f in result.faults].count((chaos.JOB, "SIGKILL")) == 2
    assert result.faults[-1].service == chaos.JOB and result.faults[-1].recovery is not None
    assert result.before_job > 0  # read only if the first run starts from the earliest offsets
    assert result.ok, result.problems
    assert result.truth["producer processes"] >= 2 and result.truth["processes killed (no summary)"] >= 1
    assert result.events["lost"] == 0 and result.events["doubled"] == 0 and result.events["unexpected"] == 0
    assert set(result.aggregates.values()) == {"equal"} and len(result.aggregates) == 7
    assert sum(result.duplicate_keys.values()) == 0
    assert result.quarantine["quarantine rows"] == result.truth["truth invalid"] > 0
    assert all(f.recovery is not None for f in result.faults)
    assert result.orphans == [] and result.tracked_processes > 5
