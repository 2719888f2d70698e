"""The supervisor's events: what changed, in order, for every consumer (the window, `stack up`'s printer,
`stack events` over the control socket, the alert logic).

Every state change passes one checked transition (`Supervisor._transition`, supervisord's
`_assertInState`) and is published here as a typed event with a sequence number, so a consumer never
diffs snapshots to learn what happened. A snapshot still gives the current figures (CPU, memory,
telemetry); the events say what changed. The stream keeps its last `keep` events, so a consumer that
joins late (the window, a `stack events` client) replays them from a sequence number.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ClassVar

from ecomdesk.core.listeners import Listeners


@dataclass(frozen=True)
class Event:
    seq: int  # 1, 2, ... in publishing order
    at: float  # epoch seconds
    service: str

    KIND: ClassVar[str] = "event"

    def to_dict(self) -> dict:
        return {"kind": self.KIND, **asdict(self)}


@dataclass(frozen=True)
class StateChanged(Event):
    old: str
    new: str
    message: str

    KIND: ClassVar[str] = "state"


@dataclass(frozen=True)
class RestartScheduled(Event):
    """The restart policy booked a restart: attempt `attempt` of `of`, in `delay` s."""

    reason: str
    attempt: int
    of: int
    delay: float

    KIND: ClassVar[str] = "restart_scheduled"


@dataclass(frozen=True)
class GaveUp(Event):
    """The restart policy will not restart the service again (no attempt left, or policy 'no')."""

    reason: str

    KIND: ClassVar[str] = "gave_up"


@dataclass(frozen=True)
class AlertFired(Event):
    key: str
    message: str

    KIND: ClassVar[str] = "alert_fired"


@dataclass(frozen=True)
class AlertResolved(Event):
    key: str
    message: str  # the alert's last message
    started: float

    KIND: ClassVar[str] = "alert_resolved"


Listener = Callable[[Event], None]


class EventStream:
    """Numbers and delivers events, and keeps the last `keep` for late subscribers; thread-safe.

    Listeners are called in sequence order on the publishing thread, under the stream's lock: they must
    return at once (hand the event to a queue, a Qt signal) and never call back into the publisher. One
    that raises is logged and skipped (`Listeners`): a subscriber never breaks the supervisor."""

    def __init__(self, keep: int = 1000):
        self._lock = threading.RLock()  # numbering, keeping and delivering are one step
        self._seq = 0
        self._recent: deque[Event] = deque(maxlen=keep)
        self._listeners: Listeners[Listener] = Listeners("event")

    def publish(self, kind: type[Event], service: str, **fields) -> Event:
        with self._lock:
            self._seq += 1
            event = kind(seq=self._seq, at=time.time(), service=service, **fields)
            self._recent.append(event)
            self._listeners.call(event)
        return event

    def subscribe(self, listener: Listener, since: int | None = None) -> Callable[[], None]:
        """Deliver every event from now on; with `since`, first the kept events after that number (0: all
        kept). Returns the unsubscribe function."""
        with self._lock:
            for event in self.since(since) if since is not None else ():
                self._listeners.call_one(listener, event)
            return self._listeners.add(listener)

    def since(self, seq: int) -> list[Event]:
        """The kept events numbered after `seq`, oldest first."""
        with self._lock:
            return [e for e in self._recent if e.seq > seq]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq
