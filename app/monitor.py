"""All scheduling of the laptop app, Qt-free and clocked: checks, the confirmation re-check,
slow-downs, triggers, wake detection, feed polls, outbox flushes and state pushes to the hub.

A company runs thousands of these against one mail server, so every rule here is also a rule
about the fleet: nothing that many laptops see at once (a VPN reconnect, an office Wi-Fi flap,
09:00 resume, a failing server) may make them probe together.

The seam. The tray (app/ui/tray.py) and benchmarks/fleet.py drive exactly this, nothing else:

    mon = Monitor(interval_s, confirm_after_s, *, feed_interval_s=120, flush_interval_s=300,
                  share_state=False, clock=time.monotonic, wall=time.time, rng=random.Random())
    mon.next_due()           monotonic time of the next job: arm one timer for it
    mon.due()                the jobs due now, each returned once: "check", "feed", "flush",
                             "state"; a returned "check" already counts as started
    mon.finished(diagnosis)  a check ended -> Transition when the confirmed verdict changed
    mon.failed()             a check crashed without a diagnosis (the confirmed state stands)
    mon.feed_finished(changed=False)  a feed read ended (changed: IT's incidents changed)
    mon.flush_finished()     an outbox flush ended
    mon.state_finished(ok, retry_after_s=None)  a state push ended
    mon.trigger(reason)      "check_now" | "network_change" | "wake"
    mon.tick()               call every TICK_S: wake detection (due() does it as well)
    mon.running              a check is in flight
    mon.state_transition     the Transition the last returned "state" job is to send
    mon.flush_urgent         the last returned "flush" should ignore each report's backoff
    mon.share_state          settable: push confirmed verdict changes ("state" jobs)
    mon.set_feed_interval(s) start, change or stop the feed schedule (config read again)

The rules:
- Checks follow a per-laptop grid: nominal slots `interval_s` apart from a random first phase,
  each slot jittered by +-JITTER of the interval, so the gap between two regular checks stays
  within +-10 % and the grid never drifts. A fleet that starts together is spread within one
  interval, and an extra check (a trigger, a confirmation) never moves the grid: the slots
  stay where their random phase put them, so a group that checked together falls apart at once.
  A slot closer than MIN_GAP intervals after the previous check is skipped.
- The first check runs at start. "check_now" (a person asking) runs at once. "network_change"
  and "wake" run one check after a random delay (NETWORK_DELAY_S, WAKE_DELAY_S): triggers
  while that check is pending join it, a trigger during a check re-runs once after it (again
  after a random delay), and a wake that a check already covered (one started after the
  resume) adds nothing: one check per resume, however the wake and the network change line up.
- A worse pass is re-checked once after confirm_after_s (+-10 %, at least MIN_BACKOFF_S, and
  no sooner than a Retry-After the server sent); then the normal grid, never faster while
  broken, so recovery is seen within one interval. Slower when the server says it is
  overloaded (SMTP 421 / "too many connections", HTTP 429 or 503, Retry-After honoured): the
  gap doubles per overloaded pass up to MAX_SLOWDOWN x interval; and after LONG_OUTAGE_S of a
  confirmed problem the gap doubles per further hour up to the same cap. While slowed, a change
  in IT's feed brings a (spread) check, so an announced fix is seen without waiting.
- The feed has its own grid (`feed_interval_s`, random first phase) and is not read by the
  tray's checks; after the first confirmed problem it is read soon if it never was.
- Outbox flushes: soon after start, every flush_interval_s on a grid, and soon (spread, urgent)
  when the connection comes back from "local".
- State pushes (share_state): after each confirmed transition one pending push after a spread
  delay; a newer transition replaces a pending one (at most one pending per laptop); a failed
  push retries with exponential backoff and jitter, honouring retry_after_s.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.diagnosis.model import Diagnosis
from app.words import staff

SEVERITY = {"ok": 0, "degraded": 1, "unknown": 2, "local": 3, "down": 4}

# confirmed verdicts that count as a problem (slow-down after hours, feed read soon)
BROKEN = ("degraded", "local", "down")

TRIGGERS = ("check_now", "network_change", "wake")

TICK_S = 20.0  # how often the caller runs tick(); a wake is noticed within this

JITTER = 0.05  # each grid slot moves by up to this fraction of the interval either way
CONFIRM_JITTER = 0.10
MIN_GAP = 0.5  # a slot closer than this many intervals after the previous check is skipped

# a trigger's check waits a random time in this range: spread over tens of seconds, a VPN
# concentrator that reconnects thousands of laptops at once adds less than the steady rate
NETWORK_DELAY_S = (2.0, 45.0)
# a wake waits at least as long as a Wi-Fi rejoin usually takes, so the rejoin's network change
# joins the same check instead of making a second one
WAKE_DELAY_S = (10.0, 45.0)

# the first outage re-check never comes sooner than this, even with confirm_after_s = 0:
# a refusing server answers in microseconds and must not be probed in a tight loop
MIN_BACKOFF_S = 1.0
MAX_SLOWDOWN = 10.0
LONG_OUTAGE_S = 3600.0

FLUSH_INTERVAL_S = 300.0
FLUSH_START_S = (0.5, 5.0)  # reports left from the last session go soon after start
FLUSH_NETWORK_BACK_S = (1.0, 15.0)
FEED_SOON_S = (1.0, 15.0)  # first confirmed problem and the feed was never read yet
STATE_DELAY_S = (1.0, 20.0)
STATE_RETRY_BASE_S = 30.0
STATE_RETRY_MAX_S = 1800.0

_TOO_MANY = re.compile(r"\b421\b|too many|try again later|overload", re.IGNORECASE)


@dataclass
class Transition:
    previous: str  # confirmed verdict before ("checking" at start)
    current: str  # confirmed verdict now
    diagnosis: Diagnosis  # the diagnosis that confirmed it
    previous_since: datetime | None  # UTC, when the previous confirmed state began
    duration_s: float | None  # how long the previous state lasted


def overload_of(diagnosis: Diagnosis) -> tuple[bool, float | None]:
    """Whether a server in this diagnosis said it is overloaded, and the Retry-After it gave
    (seconds) if any: SMTP 421 or "too many connections", HTTP 429 or 503."""
    overloaded, retry_after = False, None
    for check in diagnosis.checks:
        data = check.data or {}
        if check.code == "service_unavailable":
            said = " ".join(str(x) for x in (data.get("reply_code", ""), data.get("greeting", ""), check.detail))
            if data.get("reply_code") == 421 or _TOO_MANY.search(said):
                overloaded = True
        elif check.code == "http_status" and data.get("http_status") in (429, 503):
            overloaded = True
        seconds = _seconds(data.get("retry_after"))
        if overloaded and seconds is not None:
            retry_after = max(retry_after or 0.0, seconds)
    return overloaded, retry_after


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip())
    return None


class _Grid:
    """Nominal slots `period` apart from a random phase; each slot jittered once."""

    __slots__ = ("period", "jitter", "rng", "nominal", "due")

    def __init__(self, period: float, jitter: float, rng: random.Random, start: float) -> None:
        self.period, self.jitter, self.rng = period, jitter, rng
        self.nominal = start + rng.uniform(0.0, period)
        self.due = self._jittered()

    def _jittered(self) -> float:
        return self.nominal + self.period * self.rng.uniform(-self.jitter, self.jitter)

    def skip_before(self, t: float) -> None:
        """Move to the first slot due at or after t."""
        if self.due >= t:
            return
        behind = t - self.nominal
        if behind > self.period:  # long sleeps or big slow-downs: jump, don't loop
            self.nominal += math.floor(behind / self.period) * self.period
        while True:
            self.nominal += self.period
            self.due = self._jittered()
            if self.due >= t:
                return


class Monitor:
    """Decides when each job is due and when a pass becomes the shown verdict."""

    def __init__(
        self,
        interval_s: float,
        confirm_after_s: float,
        *,
        feed_interval_s: float | None = None,
        flush_interval_s: float | None = FLUSH_INTERVAL_S,
        share_state: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        wake_jump_s: float = 30.0,
    ) -> None:
        self.interval_s = float(interval_s)
        self.confirm_after_s = float(min(confirm_after_s, interval_s))
        self.wake_jump_s = float(wake_jump_s)
        self.share_state = share_state
        self.feed_interval_s = float(feed_interval_s) if feed_interval_s else None
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()

        self.confirmed: Diagnosis | None = None
        self.confirmed_verdict: str = "checking"
        self.confirmed_since: datetime | None = self._wall_dt()
        self.latest: Diagnosis | None = None
        self.running: bool = False
        self.state_transition: Transition | None = None
        self.flush_urgent = False
        self.feed_reads = 0

        now = self._clock()
        self._slots = _Grid(self.interval_s, JITTER, self._rng, now)
        self._extra: float | None = now  # the first check runs at start
        self._trigger_pending = False  # _extra is a trigger's spread check
        self._rerun: str | None = None  # "now" or "spread": a trigger arrived during a check
        self._started_at: float | None = None
        self._last_start: float | None = None
        self._last_start_offset: float | None = None  # wall - mono when the last check began
        self._awaiting_confirmation = False
        self._overload_level = 0
        self._problem_since: float | None = None  # monotonic, start of a confirmed problem
        self._tick_mono = now
        self._tick_wall = self._wall()
        self._switches = 0
        self._restored: tuple[str, datetime] | None = None

        self._feed: _Grid | None = None
        self._feed_soon: float | None = None
        self.feed_running = False
        if feed_interval_s:
            self._feed = _Grid(float(feed_interval_s), JITTER, self._rng, now)

        self._flush: _Grid | None = None
        self._flush_soon: float | None = None
        self.flush_running = False
        if flush_interval_s:
            self._flush = _Grid(float(flush_interval_s), JITTER, self._rng, now)
            self._flush_soon = now + self._rng.uniform(*FLUSH_START_S)

        self._state_pending: Transition | None = None
        self._state_due = 0.0
        self._state_not_before = 0.0
        self._state_attempts = 0
        self.state_running = False

    # -- the schedule --------------------------------------------------------------------

    def _check_due(self) -> float:
        due = self._slots.due
        return due if self._extra is None else min(due, self._extra)

    def next_due(self) -> float:
        """Monotonic time at which the next job is due (the caller arms one timer for it)."""
        if self.running:
            # a check that never reports back must not stop monitoring for good
            assert self._started_at is not None
            due = self._started_at + self._stuck_after()
        else:
            due = self._check_due()
        if self._feed is not None and not self.feed_running:
            due = min(due, self._feed_due())
        if self._flush is not None and not self.flush_running:
            due = min(due, self._flush_due())
        if self._state_pending is not None and not self.state_running:
            due = min(due, self._state_due)
        return due

    def seconds_until_due(self) -> float:
        return max(0.0, self.next_due() - self._clock())

    def seconds_until_check(self) -> float:
        """Until the next mail check alone (other jobs, such as an outbox flush, may come first)."""
        return max(0.0, self._check_due() - self._clock())

    def _stuck_after(self) -> float:
        return 2 * self.interval_s + 60.0

    def _feed_due(self) -> float:
        assert self._feed is not None
        return self._feed.due if self._feed_soon is None else min(self._feed.due, self._feed_soon)

    def _flush_due(self) -> float:
        assert self._flush is not None
        return self._flush.due if self._flush_soon is None else min(self._flush.due, self._flush_soon)

    def due(self) -> list[str]:
        """The jobs due now, each returned once; a returned "check" counts as started."""
        now = self._clock()
        self.tick()
        jobs: list[str] = []
        if self.running and self._started_at is not None and now - self._started_at >= self._stuck_after():
            self.failed()  # lost: the probes are bounded, so this one will never report back
        if not self.running and now >= self._check_due():
            self.started()
            jobs.append("check")
        if self._feed is not None and not self.feed_running and now >= self._feed_due():
            self.feed_running = True
            self._feed_soon = None
            self._feed.skip_before(now + MIN_GAP * self._feed.period)
            jobs.append("feed")
        if self._flush is not None and not self.flush_running and now >= self._flush_due():
            self.flush_running = True
            self._flush_soon = None
            self._flush.skip_before(now + MIN_GAP * self._flush.period)
            jobs.append("flush")
        if self._state_pending is not None and not self.state_running and now >= self._state_due:
            self.state_running = True
            self.state_transition, self._state_pending = self._state_pending, None
            jobs.append("state")
        return jobs

    def _spread(self, window: tuple[float, float]) -> float:
        return self._rng.uniform(*window)

    def trigger(self, reason: str) -> bool:
        """A person asked ("check_now": at once), or the network changed or the laptop woke
        (one check after a random delay). Returns False when the trigger joined a check that
        was already coming."""
        if reason not in TRIGGERS:
            raise ValueError(f"unknown trigger {reason!r}; expected one of {', '.join(TRIGGERS)}")
        now = self._clock()
        if reason == "check_now":
            if self.running:
                self._rerun = "now"  # the pass in flight may predate what the person fixed
            else:
                self._extra = now
                self._trigger_pending = False
            return True
        if self.running:
            if self._rerun is not None:
                return False
            self._rerun = "spread"  # the pass in flight may predate the change
            return True
        if self._trigger_pending:
            return False  # that check has not started, so it sees this change too
        self._schedule_spread(now, WAKE_DELAY_S if reason == "wake" else NETWORK_DELAY_S)
        return True

    def _schedule_spread(self, now: float, window: tuple[float, float]) -> None:
        at = now + self._spread(window)
        self._extra = at if self._extra is None else min(self._extra, at)
        self._trigger_pending = True

    def tick(self) -> None:
        """Detect a wake from sleep: the monotonic clock stands still while the machine
        sleeps but the wall clock does not, so a wall jump beyond the monotonic step is one."""
        mono, wall = self._clock(), self._wall()
        jump = (wall - self._tick_wall) - (mono - self._tick_mono)
        self._tick_mono, self._tick_wall = mono, wall
        if jump <= self.wake_jump_s:
            return
        offset = wall - mono
        if self._last_start_offset is not None and abs(self._last_start_offset - offset) < self.wake_jump_s / 2:
            return  # a check already began after the resume (a network change brought it)
        self.trigger("wake")

    def restore(self, verdict: str, since: datetime) -> None:
        """What the history says held before this start. When the first confirmed verdict is
        the same one, it has held since then, so "since 17:02" survives a restart."""
        since = min(_aware(since), self._wall_dt())
        if self._switches == 0:
            self._restored = (verdict, since)
        elif self._switches == 1 and self.confirmed_verdict == verdict:
            # the history was read after the first verdict came in
            self.confirmed_since = since

    # -- checks --------------------------------------------------------------------------

    def started(self) -> None:
        """A check began (due() calls this for each "check" it returns)."""
        now = self._clock()
        self.running = True
        self._started_at = now
        self._last_start = now
        self._last_start_offset = self._wall() - now
        self._extra = None
        self._trigger_pending = False
        self._slots.skip_before(now + MIN_GAP * self.interval_s)

    def _end_pass(self) -> float:
        now = self._clock()
        self.running = False
        self._started_at = None
        return now

    def finished(self, diagnosis: Diagnosis) -> Transition | None:
        """Take a pass's result; returns the Transition when the confirmed verdict changed."""
        started_at = self._started_at
        now = self._end_pass()
        if started_at is None:
            started_at = now
        self.latest = diagnosis
        transition = self._judge(diagnosis, now)

        overloaded, retry_after = overload_of(diagnosis)
        self._overload_level = self._overload_level + 1 if overloaded else 0
        if self._awaiting_confirmation:
            delay = max(self._jittered(self.confirm_after_s, CONFIRM_JITTER), MIN_BACKOFF_S)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.interval_s))
            self._extra = now + delay
        factor = self._slowdown(now)
        if factor > 1.0 or retry_after is not None:
            earliest = started_at + factor * self.interval_s
            if retry_after is not None:
                earliest = max(earliest, now + min(retry_after, MAX_SLOWDOWN * self.interval_s))
            # the slot nearest to that time: the grid keeps its random phase
            self._slots.skip_before(earliest - self.interval_s / 2)
        self._after_pass(now)
        if transition is not None:
            self._on_transition(transition, now)
        return transition

    def _slowdown(self, now: float) -> float:
        factor = 1.0
        if self._overload_level:
            factor = 2.0**self._overload_level
        if self._problem_since is not None and now - self._problem_since >= LONG_OUTAGE_S:
            hours = int((now - self._problem_since) // LONG_OUTAGE_S)
            factor = max(factor, 2.0 ** min(hours, 8))
        return min(factor, MAX_SLOWDOWN)

    def _after_pass(self, now: float) -> None:
        rerun, self._rerun = self._rerun, None
        if rerun == "now":
            self._extra = now
            self._trigger_pending = False
        elif rerun == "spread":
            self._schedule_spread(now, NETWORK_DELAY_S)

    def failed(self) -> None:
        """The pass itself crashed and produced no diagnosis. That says nothing about mail, so
        the confirmed state stands (an outage must not flip to grey and notify again later);
        retry after the confirmation delay."""
        now = self._end_pass()
        self._extra = now + self._jittered(max(self.confirm_after_s, MIN_BACKOFF_S), CONFIRM_JITTER)
        self._after_pass(now)

    def _jittered(self, seconds: float, fraction: float) -> float:
        return seconds * self._rng.uniform(1.0 - fraction, 1.0 + fraction)

    def _judge(self, diagnosis: Diagnosis, now: float) -> Transition | None:
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
        return self._switch(diagnosis, now)

    def _switch(self, diagnosis: Diagnosis, now: float) -> Transition:
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
        if diagnosis.verdict in BROKEN:
            if self._problem_since is None:
                self._problem_since = now
        else:
            self._problem_since = None
        return Transition(
            previous=previous,
            current=diagnosis.verdict,
            diagnosis=diagnosis,
            previous_since=previous_since,
            duration_s=duration,
        )

    def _on_transition(self, transition: Transition, now: float) -> None:
        if self.share_state:
            # a newer change replaces one not yet sent: the hub needs the latest, once
            self._state_pending = transition
            self._state_due = max(now + self._spread(STATE_DELAY_S), self._state_not_before)
        if transition.previous == "local" and transition.current != "local" and self._flush is not None:
            # the connection is back: what waited for it goes soon, whatever its backoff says
            at = now + self._spread(FLUSH_NETWORK_BACK_S)
            self._flush_soon = at if self._flush_soon is None else min(self._flush_soon, at)
            self.flush_urgent = True
        if transition.current in BROKEN and self._feed is not None and self.feed_reads == 0:
            # "is IT aware?" is the first question once a problem is confirmed
            at = now + self._spread(FEED_SOON_S)
            self._feed_soon = at if self._feed_soon is None else min(self._feed_soon, at)

    # -- feed, outbox, state -----------------------------------------------------------

    def set_feed_interval(self, interval_s: float | None) -> None:
        """Start, change or stop the feed schedule (the configuration was read again); a new
        schedule gets a new random phase."""
        interval = float(interval_s) if interval_s else None
        if interval == self.feed_interval_s:
            return
        self.feed_interval_s = interval
        self._feed = _Grid(interval, JITTER, self._rng, self._clock()) if interval else None
        self._feed_soon = None

    def feed_finished(self, changed: bool = False) -> None:
        """A feed read ended; `changed`: IT's incidents differ from the last read."""
        now = self._clock()
        self.feed_running = False
        self.feed_reads += 1
        if changed and self.confirmed_verdict in BROKEN and self._slowdown(now) > 1.0 and not self.running:
            # slowed down, and IT says something new (often "fixed"): look again, spread
            self._schedule_spread(now, NETWORK_DELAY_S)

    def flush_finished(self) -> None:
        self.flush_running = False
        self.flush_urgent = False

    def state_finished(self, ok: bool, retry_after_s: float | None = None) -> None:
        """A state push ended. On failure the same change is retried with backoff, unless a
        newer one is already pending (it waits for the same backoff)."""
        now = self._clock()
        sent, self.state_transition = self.state_transition, None
        self.state_running = False
        if ok:
            self._state_attempts = 0
            self._state_not_before = 0.0
            return
        self._state_attempts += 1
        base = min(STATE_RETRY_MAX_S, STATE_RETRY_BASE_S * 2.0 ** min(self._state_attempts - 1, 16))
        delay = base * self._rng.uniform(0.5, 1.5)
        wait = _seconds(retry_after_s)
        if wait is not None:
            delay = max(delay, min(wait, STATE_RETRY_MAX_S))
        self._state_not_before = now + delay
        if self._state_pending is None:
            self._state_pending = sent
        self._state_due = max(self._state_due, self._state_not_before)

    def _wall_dt(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)


# the duration phrase lives in the text catalogue; the name stays for the monitor's callers
format_duration = staff.format_duration


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


