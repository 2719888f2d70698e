"""Rate control: how many events are due now to keep a target rate.

The schedule is "event k is due at start + k / rate". A changed rate or a resume starts a
new schedule, and a backlog larger than MAX_DEBT seconds is forgiven: the target is a
ceiling, so a stall (a broker away, a paused run) must not turn into a burst afterwards.
"""

from __future__ import annotations

MAX_DEBT = 1.0
UNLIMITED_BATCH = 16384


class Pacer:
    def __init__(self, rate: float, now: float, max_batch: int = UNLIMITED_BATCH):
        self.max_batch = max_batch
        self.reset(rate, now)

    def reset(self, rate: float, now: float) -> None:
        self.rate = rate
        self._start = now
        self._sent = 0

    def due(self, now: float) -> int:
        """Events to send now (at most max_batch)."""
        if self.rate <= 0:
            return self.max_batch
        owed = int((now - self._start) * self.rate) - self._sent
        if owed > self.rate * MAX_DEBT:
            self.reset(self.rate, now - MAX_DEBT)
            owed = int(self.rate * MAX_DEBT)
        return max(0, min(owed, self.max_batch))

    def sent(self, n: int) -> None:
        self._sent += n

    def wait(self, now: float) -> float:
        """Seconds until the next event is due (0 when unlimited or already due)."""
        if self.rate <= 0:
            return 0.0
        return max(0.0, self._start + (self._sent + 1) / self.rate - now)
