"""The producer's target rate over time: the configured rate shaped by the hour of day (realistic
profile) and multiplied during a campaign (`campaign N M` on the control channel).

The configured rate is the daily average: the hourly multipliers average 1, so a day sends what a
flat rate would. Time is passed in (epoch seconds), so tests need no clock.
"""

from __future__ import annotations

SHOP_UTC_OFFSET_HOURS = -5  # the simulated shop is in Ecuador
# Relative traffic by local hour (quiet at night, a lunch bump, the evening peak), scaled to average 1.
_SHAPE = (0.35, 0.25, 0.2, 0.18, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0, 1.1, 1.15,
          1.2, 1.15, 1.1, 1.1, 1.15, 1.25, 1.4, 1.6, 1.75, 1.7, 1.3, 0.8)
HOURLY = tuple(w * len(_SHAPE) / sum(_SHAPE) for w in _SHAPE)


def diurnal(epoch_s: float) -> float:
    """The hour-of-day multiplier at `epoch_s`, linear between the hours' values (a smooth rate)."""
    hour = (epoch_s / 3600 + SHOP_UTC_OFFSET_HOURS) % 24
    i = int(hour)
    frac = hour - i
    return HOURLY[i] * (1 - frac) + HOURLY[(i + 1) % 24] * frac


class Traffic:
    """The multiplier of the configured rate at a given time."""

    def __init__(self, daily: bool):
        self.daily = daily
        self.factor = 1.0
        self.until = float("-inf")  # the running campaign's end, epoch seconds

    def campaign(self, factor: float, minutes: float, now: float) -> None:
        """A burst: the rate times `factor` for `minutes` from `now` (0 minutes ends a campaign)."""
        self.factor, self.until = factor, now + minutes * 60

    def multiplier(self, now: float) -> float:
        m = diurnal(now) if self.daily else 1.0
        return m * self.factor if now < self.until else m
