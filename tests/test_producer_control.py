"""Control commands and the rate pacer (pure logic, driven by an explicit clock)."""

from __future__ import annotations

import io
import queue

import pytest

from ecomdesk.producer.control import Command, ControlError, parse, start_reader
from ecomdesk.producer.pacer import MAX_DEBT, Pacer


@pytest.mark.parametrize("line, expected", [
    ("rate 5000", Command("rate", 5000.0)),
    ("  RATE 0 \n", Command("rate", 0.0)),
    ("pause", Command("pause")),
    ("resume", Command("resume")),
    ("invalid 0.05", Command("invalid", 0.05)),
    ("status", Command("status")),
    ("stop", Command("stop")),
    ("   ", None),
])
def test_commands_parse(line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("line, message", [
    ("rate", "one number"),
    ("rate fast", "needs a number"),
    ("rate -1", ">= 0"),
    ("rate inf", "finite"),
    ("invalid 1.5", "between 0 and 1"),
    ("pause now", "no argument"),
    ("explode", "unknown command"),
])
def test_bad_commands_say_why(line, message):
    with pytest.raises(ControlError, match=message):
        parse(line)


def test_reader_passes_commands_and_logs_bad_lines():
    got: queue.SimpleQueue = queue.SimpleQueue()
    logged: list[str] = []
    thread = start_reader(io.StringIO("rate 10\nbogus\n\npause\n"), got.put, logged.append)
    thread.join(5)
    assert not thread.is_alive()
    assert [got.get_nowait(), got.get_nowait()] == [Command("rate", 10.0), Command("pause")]
    assert got.empty()
    assert len(logged) == 1 and "unknown command 'bogus'" in logged[0]


def _simulate(pacer: Pacer, start: float, seconds: float, step: float) -> int:
    sent, now = 0, start
    while now < start + seconds:
        n = pacer.due(now)
        pacer.sent(n)
        sent += n
        now += step
    return sent


@pytest.mark.parametrize("rate, step", [(1000, 0.001), (1000, 0.013), (7, 0.05), (250000, 0.02)])
def test_pacer_keeps_the_rate(rate, step):
    sent = _simulate(Pacer(rate, 100.0, max_batch=10**9), 100.0, 10.0, step)
    assert abs(sent - rate * 10) <= rate * step + 1


def test_pacer_caps_batches_and_unlimited_rate():
    assert Pacer(1000, 0.0, max_batch=50).due(10.0) == 50
    assert Pacer(0, 0.0, max_batch=64).due(0.0) == 64
    assert Pacer(0, 0.0).wait(5.0) == 0.0


def test_pacer_waits_until_the_next_event():
    p = Pacer(100, 0.0)
    assert p.due(0.0) == 0
    assert p.wait(0.0) == pytest.approx(0.01)
    p.sent(p.due(0.055))
    assert p.wait(0.055) == pytest.approx(0.005)


def test_a_stall_does_not_turn_into_a_burst():
    p = Pacer(1000, 0.0, max_batch=10**9)
    stalled = p.due(30.0)  # nothing sent for 30 s
    assert stalled <= 1000 * MAX_DEBT
    p.sent(stalled)
    assert _simulate(p, 30.0, 1.0, 0.001) == pytest.approx(1000, abs=2)


def test_rate_change_starts_a_new_schedule():
    p = Pacer(10, 0.0, max_batch=10**9)
    p.sent(p.due(1.0))
    p.reset(1000, 1.0)
    assert p.due(1.5) == 500

