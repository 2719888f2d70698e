"""The restart policy's bookkeeping for one service: attempts in a sliding window, and backoff."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ecomdesk.core.spec import RestartPolicy


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based, within the window
    of: int
    delay: float


class RestartBudget:
    def __init__(self, policy: RestartPolicy):
        self.policy = policy
        self._times: deque[float] = deque()

    def reset(self) -> None:
        self._times.clear()

    def next_attempt(self, now: float) -> Attempt | None:
        """Book the next restart, or None when the policy says give up (or never restart)."""
        if not self.policy.enabled:
            return None
        while self._times and now - self._times[0] > self.policy.window:
            self._times.popleft()
        if len(self._times) >= self.policy.attempts:
            return None
        self._times.append(now)
        n = len(self._times)
        return Attempt(n, self.policy.attempts, self.policy.delay(n))

    def gave_up_reason(self) -> str:
        p = self.policy
        if not p.enabled:
            return "restart policy is 'no'"
        return f"gave up after {p.attempts} restart(s) within {p.window:.0f} s"
