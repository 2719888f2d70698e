"""The chaos run (`scripts/bench chaos`) in two tests on one stack: the whole stack through the
Supervisor and its restart policy, (1) one fault on each of the five services together, and (2) the job
SIGKILLed while it runs from a checkpoint that a recovered run wrote; each ends with the end check
against the producer's ledgers.

They hold what the end-to-end run with two SIGKILLs asserted (that file is gone): events produced
before the job first ran are read (earliest offsets), the job is SIGKILLed twice, the second time
from a checkpoint its recovered run wrote, and every aggregate and the quarantine equal the ledger.
The stack is the module's (its start is the first test's setup); each test starts from a whole
pipeline with the producer running and passes alone as well as after the other. Closing the run
must leave no process behind (checked at the module's teardown)."""

from __future__ import annotations

import sys

import pytest

from ecomdesk.bench import chaos

pytestmark = [pytest.mark.stack, pytest.mark.quiet_neighbour]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # seed 35 draws: SIGKILL spark-job, SIGKILL hdfs-datanode, SIGSTOP hdfs-namenode, SIGKILL kafka,
    # SIGKILL producer. The faults come 1-2 s apart, each once its target is up, so they overlap (as in
    # the full run): the pipeline recovers from all of them together, which costs one restart of the job
    # instead of five recoveries in a row. Restarts wait 0.25 s instead of 1 s (the policy's backoff has
    # tests of its own).
    opts = chaos.Options(minutes=0, faults=5, rate=200, seed=35, gap=(1, 2), pause=(2, 3), warmup=0.5,
                         restart_backoff=0.25, target_timeout=240, settle_timeout=300, drain_timeout=180,
                         home=tmp_path_factory.mktemp("chaos") / "home")
    run = chaos.ChaosRun(opts)
    try:
        run.start()
        yield run
    finally:
        run.close()
        chaos.report(run.result, sys.stderr)
    assert run.result.orphans == [] and run.result.tracked_processes > 5


def assert_exact(result: chaos.Result) -> None:
    assert result.events["lost"] == 0 and result.events["doubled"] == 0 and result.events["unexpected"] == 0
    assert set(result.aggregates.values()) == {"equal"} and len(result.aggregates) == 7
    assert sum(result.duplicate_keys.values()) == 0
    assert result.quarantine["quarantine rows"] == result.truth["truth invalid"] > 0


@pytest.mark.timeout(600)
def test_five_faults_together_lose_nothing_and_double_nothing(run):
    r = run.result
    assert r.before_job > 0  # read only if the first run starts from the earliest offsets
    run.resume()
    first, problems = len(r.faults), len(r.problems)
    run.faults()
    run.end_check()
    faults = r.faults[first:]
    assert r.problems[problems:] == []
    assert {f.service for f in faults} == set(chaos.SERVICES) and len(faults) == 5
    assert all(f.recovery is not None for f in faults)
    assert r.truth["producer processes"] >= 2 and r.truth["processes killed (no summary)"] >= 1
    assert_exact(r)


@pytest.mark.timeout(600)
def test_the_job_sigkilled_from_a_checkpoint_its_recovered_run_wrote(run):
    r = run.result
    run.resume()
    first, problems = len(r.faults), len(r.problems)
    if run.sup.status(chaos.JOB).restarts == 0:  # its first run: kill it once to have a recovered one
        run.final_job_kill()
    run.final_job_kill()  # a recovered run, which has committed a batch (the pipeline was whole since)
    run.end_check()
    faults = r.faults[first:]
    assert r.problems[problems:] == []
    assert run.sup.status(chaos.JOB).restarts >= 2
    assert {(f.service, f.kind) for f in faults} == {(chaos.JOB, "SIGKILL")}
    assert all(f.recovery is not None for f in faults)
    assert_exact(r)
