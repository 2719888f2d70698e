"""The producer's control channel: one text command per line on stdin.

Commands (case-insensitive, surrounding blanks ignored):
  rate N        target events/s (0 = as fast as possible)
  pause         stop sending; telemetry keeps coming
  resume        continue at the current target rate
  invalid F     fraction (0..1) of deliberately invalid events
  campaign N M  a campaign: N times the rate for M minutes (M = 0 ends one)
  status        emit a telemetry line now
  stop          flush and exit, as on SIGTERM
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

HELP = "commands: rate N | pause | resume | invalid F | campaign N M | status | stop"


class ControlError(ValueError):
    """A command line that is not understood; the message says what is expected."""


@dataclass(frozen=True)
class Command:
    verb: str
    value: float | None = None
    minutes: float | None = None  # campaign only: how long it lasts


def parse(line: str) -> Command | None:
    """A command, or None for a blank line."""
    words = line.split()
    if not words:
        return None
    verb, args = words[0].lower(), words[1:]
    if verb in ("pause", "resume", "status", "stop"):
        if args:
            raise ControlError(f"{verb!r} takes no argument; {HELP}")
        return Command(verb)
    if verb in ("rate", "invalid"):
        if len(args) != 1:
            raise ControlError(f"{verb!r} takes one number; {HELP}")
        value = _float(verb, args[0])
        check = check_rate if verb == "rate" else check_fraction
        return Command(verb, check(value))
    if verb == "campaign":
        if len(args) != 2:
            raise ControlError(f"'campaign' takes a factor and minutes, e.g. 'campaign 3 10'; {HELP}")
        factor, minutes = (_float(verb, a) for a in args)
        if not math.isfinite(factor) or factor <= 0:
            raise ControlError(f"campaign factor must be a finite number > 0, got {factor}")
        if not math.isfinite(minutes) or minutes < 0:
            raise ControlError(f"campaign minutes must be a finite number >= 0, got {minutes}")
        return Command(verb, factor, minutes)
    raise ControlError(f"unknown command {verb!r}; {HELP}")


def _float(verb: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ControlError(f"{verb!r} needs a number, got {text!r}") from None


def check_rate(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ControlError(f"rate must be a finite number >= 0 (0 = unlimited), got {value}")
    return value


def check_fraction(value: float) -> float:
    if not 0 <= value <= 1:
        raise ControlError(f"invalid fraction must be between 0 and 1, got {value}")
    return value


def start_reader(
    stream: IO[str], put: Callable[[Command], None], log: Callable[[str], None]
) -> threading.Thread:
    """Read commands from `stream` on a daemon thread until it ends; bad lines are logged, not fatal."""

    def loop() -> None:
        for line in stream:
            try:
                cmd = parse(line)
            except ControlError as exc:
                log(f"control: {exc}")
                continue
            if cmd is not None:
                put(cmd)

    thread = threading.Thread(target=loop, name="producer-control", daemon=True)
    thread.start()
    return thread
