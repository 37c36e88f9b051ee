"""The clock of a protocol run: which phase, how long it has run, pause, extend, skip.

Pure state and arithmetic (no store, no widgets) so that every rule is tested directly. Time is
given by the caller in seconds (the server's clock, the same for every kernel on one machine).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

NOT_STARTED, RUNNING, PAUSED, FINISHED = "not_started", "running", "paused", "finished"
MAX_EXTRA_MINUTES = 60


@dataclass(frozen=True)
class Clock:
    phase_index: int = 0
    status: str = NOT_STARTED
    # When the clock last started running in this phase (None unless running).
    running_since: float | None = None
    # Seconds this phase ran before running_since (sums the stretches between pauses).
    elapsed_before: float = 0.0
    # Seconds added to this phase by "extend".
    extra_seconds: int = 0

    def elapsed(self, now: float) -> float:
        running = now - self.running_since if self.running_since is not None else 0.0
        return self.elapsed_before + max(0.0, running)

    def remaining(self, phase_minutes: int, now: float) -> float:
        """Seconds left in the phase; negative once it has overrun."""
        return phase_minutes * 60 + self.extra_seconds - self.elapsed(now)


def start(clock: Clock, now: float) -> Clock:
    if clock.status != NOT_STARTED:
        return clock
    return replace(clock, status=RUNNING, running_since=now)


def pause(clock: Clock, now: float) -> Clock:
    if clock.status != RUNNING:
        return clock
    return replace(clock, status=PAUSED, running_since=None, elapsed_before=clock.elapsed(now))


def resume(clock: Clock, now: float) -> Clock:
    if clock.status != PAUSED:
        return clock
    return replace(clock, status=RUNNING, running_since=now)


def extend(clock: Clock, minutes: int) -> Clock:
    if clock.status in (NOT_STARTED, FINISHED) or not 1 <= minutes <= MAX_EXTRA_MINUTES:
        return clock
    return replace(clock, extra_seconds=clock.extra_seconds + minutes * 60)


def next_phase(clock: Clock, from_index: int, phase_count: int, now: float) -> Clock:
    """Move on from `from_index` only: a second click sent for the same phase does nothing."""
    if clock.phase_index != from_index or clock.status in (NOT_STARTED, FINISHED):
        return clock
    if from_index + 1 >= phase_count:
        return replace(
            clock, status=FINISHED, running_since=None, elapsed_before=clock.elapsed(now)
        )
    keep_paused = clock.status == PAUSED
    return Clock(
        phase_index=from_index + 1,
        status=PAUSED if keep_paused else RUNNING,
        running_since=None if keep_paused else now,
    )


def format_remaining(seconds: float) -> str:
    """'4:05' left, or '+1:30' over time."""
    over = seconds < 0
    whole = int(abs(seconds) + (0 if over else 0.999))
    text = f"{whole // 60}:{whole % 60:02d}"
    return f"+{text}" if over else text
