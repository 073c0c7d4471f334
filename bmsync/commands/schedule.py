"""When a watched project syncs next: after a local change, at each poll, after a failure.

Pure: no clock, no I/O, no asyncio. Every method takes `now` (seconds of a monotonic clock), so
the rules below are unit-tested with plain numbers, and one `Schedule` per project lets a
multi-project watch keep each project on its own timetable.

- The first run is due at once (a watch starts with a sync).
- A local change is debounced: its run is due once the folder has been quiet for `debounce`
  seconds, and at the latest `2 * debounce` after the first change not yet synced, so an editor
  that autosaves every half second still syncs within about two seconds.
- The remote is polled `interval` seconds after the end of the last run (any run lists the
  remote, so a run for a local change also counts as a poll).
- After a failed run (network down, project locked) the next one waits `retry_first` seconds,
  doubling with each failure in a row up to `retry_max`; until then neither a local change nor
  a poll starts a run, since it would fail the same way. A run that works ends the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bmsync.errors import ConfigError

Trigger = Literal["start", "local change", "poll", "retry"]


@dataclass(frozen=True, slots=True)
class Timing:
    """How often a watched project syncs; see the module docstring for the rules."""

    interval: float = 60.0
    """Seconds between polls of the remote (a run that finds no change only lists)."""
    debounce: float = 1.0
    """Quiet seconds after a local change before its run starts (at most twice this)."""
    retry_first: float = 1.0
    """Seconds before the first retry of a failed run; doubled for each failure in a row."""
    retry_max: float = 300.0
    """The longest wait between retries."""

    def __post_init__(self) -> None:
        for name in ("interval", "retry_first", "retry_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if not self.debounce >= 0:
            raise ConfigError("debounce must be zero or a positive number of seconds")

    def backoff(self, failures: int) -> float:
        """The wait after `failures` failed runs in a row (1, 2, 4, ... capped)."""
        return min(self.retry_max, self.retry_first * 2.0 ** min(failures - 1, 64))


@dataclass(slots=True)
class Schedule:
    """One project's timetable: what is pending, and when the next run is due."""

    timing: Timing
    poll_at: float
    """When the remote is polled next (at the start: the first run)."""
    first_change: float | None = None
    """When the oldest local change not yet synced arrived."""
    last_change: float | None = None
    failures: int = 0
    """Failed runs in a row."""
    retry_at: float | None = None
    """Set while backing off: no run before this."""
    started: bool = False

    @classmethod
    def starting(cls, timing: Timing, now: float) -> Schedule:
        return cls(timing, poll_at=now)

    def changed(self, now: float) -> None:
        """A local change arrived (one or many paths: the debounce does not count them)."""
        if self.first_change is None:
            self.first_change = now
        self.last_change = now

    def forget_changes(self) -> None:
        """The pending changes are handled: a run is starting, or they were bmsync's own."""
        self.first_change = self.last_change = None

    def due_at(self) -> float:
        """When the next run is due (it may be in the past: then now)."""
        if self.retry_at is not None:
            return self.retry_at
        change = self._change_due()
        return self.poll_at if change is None else min(self.poll_at, change)

    def due(self, now: float) -> Trigger | None:
        """Why a run is due at `now`, or None when none is."""
        if now < self.due_at():
            return None
        if not self.started:
            return "start"
        if self.retry_at is not None:
            return "retry"
        change = self._change_due()
        return "local change" if change is not None and now >= change else "poll"

    def succeeded(self, now: float) -> None:
        """A run ended with a report (an aborted or partial one too): back to the timetable."""
        self.started = True
        self.failures, self.retry_at = 0, None
        self.poll_at = now + self.timing.interval

    def failed(self, now: float) -> float:
        """A run raised; returns how long until the retry."""
        self.started = True
        self.failures += 1
        delay = self.timing.backoff(self.failures)
        self.retry_at = now + delay
        return delay

    def _change_due(self) -> float | None:
        if self.first_change is None or self.last_change is None:
            return None
        debounce = self.timing.debounce
        return min(self.last_change + debounce, self.first_change + 2 * debounce)
