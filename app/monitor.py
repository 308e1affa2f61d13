"""When to check and which verdict to show: interval with jitter, confirmation before an
outage, backoff while broken, and immediate re-checks on triggers. Qt-free and clocked."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from app.diagnosis.model import Diagnosis
from app.words import staff

SEVERITY = {"ok": 0, "degraded": 1, "unknown": 2, "local": 3, "down": 4}

# confirmed verdicts that are re-checked with backoff instead of the normal interval
BROKEN = ("degraded", "local", "down")

TRIGGERS = ("check_now", "network_change", "wake")

JITTER = 0.10

# the first outage re-check never comes sooner than this, even with confirm_after_s = 0:
# a refusing server answers in microseconds and must not be probed in a tight loop
MIN_BACKOFF_S = 1.0


@dataclass
class Transition:
    previous: str  # confirmed verdict before ("checking" at start)
    current: str  # confirmed verdict now
    diagnosis: Diagnosis  # the diagnosis that confirmed it
    previous_since: datetime | None  # UTC, when the previous confirmed state began
    duration_s: float | None  # how long the previous state lasted


class Monitor:
    """Decides when the next check is due and when a pass becomes the shown verdict.

    The caller owns the timer and the worker: it asks `seconds_until_due()`, calls `started()`
    when it begins a check and `finished(diagnosis)` with the result, and `tick()` now and then.
    """

    def __init__(
        self,
        interval_s: float,
        confirm_after_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        debounce_s: float = 2.0,
        wake_jump_s: float = 30.0,
    ) -> None:
        self.interval_s = float(interval_s)
        self.confirm_after_s = float(min(confirm_after_s, interval_s))
        self.debounce_s = float(debounce_s)
        self.wake_jump_s = float(wake_jump_s)
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()

        self.confirmed: Diagnosis | None = None
        self.confirmed_verdict: str = "checking"
        self.confirmed_since: datetime | None = self._wall_dt()
        self.latest: Diagnosis | None = None
        self.running: bool = False

        now = self._clock()
        self._due = now  # the first check is due at start
        self._started_at: float | None = None
        self._awaiting_confirmation = False  # the last pass was worse and waits for a re-check
        self._backoff_step = 0
        self._last_trigger: float | None = None
        self._rerun_after_finish = False
        self._tick_mono = now
        self._tick_wall = self._wall()
        self._switches = 0
        self._restored: tuple[str, datetime] | None = None

    # -- schedule ------------------------------------------------------------------------

    def next_due(self) -> float:
        """Monotonic time at which the next check should start."""
        return self._due

    def seconds_until_due(self) -> float:
        return max(0.0, self._due - self._clock())

    def _jittered(self, seconds: float) -> float:
        return seconds * self._rng.uniform(1.0 - JITTER, 1.0 + JITTER)

    def trigger(self, reason: str) -> bool:
        """Make a check due now. Network changes and wake-ups come in bursts, so a trigger
        within debounce_s of the previous accepted one is dropped; "check_now" is a person
        asking and always counts."""
        if reason not in TRIGGERS:
            raise ValueError(f"unknown trigger {reason!r}; expected one of {', '.join(TRIGGERS)}")
        now = self._clock()
        if (
            reason != "check_now"
            and self._last_trigger is not None
            and now - self._last_trigger < self.debounce_s
        ):
            # part of a burst: the check the burst started may predate this change, so one
            # more check runs when the burst's window closes (never more than one)
            if self.running:
                self._rerun_after_finish = True
            else:
                self._due = min(self._due, self._last_trigger + self.debounce_s)
            return False
        self._last_trigger = now
        if self.running:
            # the pass in flight may predate the change; run another as soon as it ends
            self._rerun_after_finish = True
        else:
            self._due = min(self._due, now)
        return True

    def restore(self, verdict: str, since: datetime) -> None:
        """What the history says held before this start. When the first confirmed verdict is
        the same one, it has held since then, so "since 17:02" survives a restart."""
        since = min(_aware(since), self._wall_dt())
        if self._switches == 0:
            self._restored = (verdict, since)
        elif self._switches == 1 and self.confirmed_verdict == verdict:
            # the history was read after the first verdict came in
            self.confirmed_since = since

    def tick(self) -> None:
        """Detect a wake from sleep: the monotonic clock stands still while the machine
        sleeps but the wall clock does not, so a wall jump beyond the monotonic step is one."""
        mono, wall = self._clock(), self._wall()
        jump = (wall - self._tick_wall) - (mono - self._tick_mono)
        self._tick_mono, self._tick_wall = mono, wall
        if jump > self.wake_jump_s:
            self.trigger("wake")

    # -- passes --------------------------------------------------------------------------

    def started(self) -> None:
        """A check began. Until it finishes the next one is due a full interval later, so a
        check that never reports back does not stop monitoring."""
        now = self._clock()
        self.running = True
        self._started_at = now
        self._due = now + self.interval_s

    def finished(self, diagnosis: Diagnosis) -> Transition | None:
        """Take a pass's result; returns the Transition when the confirmed verdict changed."""
        now = self._clock()
        started_at = self._started_at if self._started_at is not None else now
        self.running = False
        self._started_at = None
        self.latest = diagnosis

        transition = self._judge(diagnosis)

        if self._awaiting_confirmation:
            delay_from_now: float | None = self._jittered(self.confirm_after_s)
        elif self.confirmed_verdict in BROKEN:
            first = max(self.confirm_after_s, MIN_BACKOFF_S)
            base = min(first * (2**self._backoff_step), self.interval_s)
            if base < self.interval_s:
                # stop counting at the cap: days of outage must not grow 2**step past a float
                self._backoff_step += 1
            delay_from_now = self._jittered(base)
        else:
            delay_from_now = None

        if delay_from_now is not None:
            # short re-checks count from the end of the pass, so a slow (timed-out) pass still
            # leaves a real gap before the next try
            self._due = now + delay_from_now
        else:
            # the normal interval counts from the start of the previous pass: no drift
            self._due = max(now, started_at + self._jittered(self.interval_s))

        if self._rerun_after_finish:
            self._rerun_after_finish = False
            self._due = now
        return transition

    def failed(self) -> None:
        """The pass itself crashed and produced no diagnosis. That says nothing about mail, so
        the confirmed state stands (an outage must not flip to grey and notify again later);
        retry after the confirmation delay."""
        now = self._clock()
        self.running = False
        self._started_at = None
        self._due = now + self._jittered(max(self.confirm_after_s, MIN_BACKOFF_S))
        if self._rerun_after_finish:
            self._rerun_after_finish = False
            self._due = now

    def _judge(self, diagnosis: Diagnosis) -> Transition | None:
        verdict = diagnosis.verdict
        current = self.confirmed_verdict
        if current == "checking":
            worse = verdict != "ok"
        else:
            worse = SEVERITY.get(verdict, SEVERITY["unknown"]) > SEVERITY.get(current, 0)

        if worse and not self._awaiting_confirmation:
            self._awaiting_confirmation = True
            return None
        self._awaiting_confirmation = False

        if verdict == current:
            self.confirmed = diagnosis
            return None
        return self._switch(diagnosis)

    def _switch(self, diagnosis: Diagnosis) -> Transition:
        now_wall = self._wall_dt()
        previous, previous_since = self.confirmed_verdict, self.confirmed_since
        duration = None
        if previous_since is not None:
            duration = max(0.0, (now_wall - previous_since).total_seconds())
        self.confirmed = diagnosis
        self.confirmed_verdict = diagnosis.verdict
        self.confirmed_since = now_wall
        if previous == "checking" and self._restored and self._restored[0] == diagnosis.verdict:
            self.confirmed_since = self._restored[1]
        self._restored = None
        self._switches += 1
        self._backoff_step = 0
        return Transition(
            previous=previous,
            current=diagnosis.verdict,
            diagnosis=diagnosis,
            previous_since=previous_since,
            duration_s=duration,
        )

    def _wall_dt(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)


# -- tooltip wording ---------------------------------------------------------------------


# the phrases live in the text catalogue; these names stay for the monitor's callers
format_duration = staff.format_duration
_since_clock = staff.since_clock


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def status_since_text(
    diagnosis: Diagnosis | None,
    since: datetime | None,
    now: datetime | None = None,
    *,
    tz: tzinfo | None = None,
) -> str:
    """'Mail server not answering since 17:02 (47 min)' in local time (tz=None: the
    system's); 'since yesterday 17:02' across midnight."""
    headline = (diagnosis.headline if diagnosis else "Checking mail").strip().rstrip(".")
    if since is None:
        return headline
    since = _aware(since)
    now = _aware(now) if now is not None else datetime.now(UTC)
    elapsed = (now - since).total_seconds()
    return f"{headline} since {_since_clock(since, now, tz)} ({format_duration(elapsed)})"


_WAS = {
    "down": "it was down",
    "local": "your connection was down",
    "degraded": "it had problems",
    "unknown": "its state was unknown",
    "checking": "it was being checked",
}


def recovery_text(transition: Transition) -> str:
    """'Mail works again — it was down 47 min' for a change to a better verdict."""
    if transition.current == "ok":
        head = "Mail works again"
    elif transition.current == "degraded":
        head = "Mail works again, with problems"
    else:
        return transition.diagnosis.headline
    was = _WAS.get(transition.previous)
    if was is None or transition.duration_s is None:
        return head
    return f"{head} — {was} {format_duration(transition.duration_s)}"

