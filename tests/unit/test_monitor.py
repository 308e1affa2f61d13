"""The monitor's schedule and confirmation rules, driven through its seam (next_due / due /
finished / trigger / tick) step by step on a fake clock. Rules and bounds, never timings."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from app import monitor as mod
from app.diagnosis.model import Check, Diagnosis
from app.monitor import Monitor, Transition, format_duration

INTERVAL = 60.0
CONFIRM = 5.0
FEED = 120.0
HEADLINES = {
    "ok": "Mail works",
    "degraded": "Mail works, but slowly",
    "down": "Mail server not answering",
    "local": "No network connection",
    "unknown": "Cannot tell",
}


def diag(verdict: str, *, code: str | None = None, detail: str = "", data: dict | None = None) -> Diagnosis:
    code = code or {"ok": "ok", "degraded": "slow", "down": "tcp_refused", "local": "no_network"}.get(
        verdict, "ok"
    )
    status = {"ok": "ok", "slow": "warn"}.get(code, "fail")
    return Diagnosis(
        verdict=verdict,
        layer="none" if verdict == "ok" else "server",
        headline=HEADLINES[verdict],
        advice="",
        checked_at="2024-05-01T10:00:00.000Z",
        duration_ms=12.0,
        checks=[Check("smtp", "smtp", "mail.example.com:587", status, code, detail, data=data or {})],
    )


OVERLOADED = diag("down", code="service_unavailable", detail="The mail server refuses service (421 4.7.0 Too many connections).",
                  data={"reply_code": 421})


class Clock:
    """Monotonic and wall clocks that only move when told; sleep moves the wall alone."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_t

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_t += seconds

    def to(self, mono: float) -> None:
        self.advance(max(0.0, mono - self.mono))

    def sleep(self, seconds: float) -> None:
        self.wall_t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, seed: int = 1, **kw) -> Monitor:
    kw.setdefault("flush_interval_s", None)  # the outbox has tests of its own below
    return Monitor(INTERVAL, CONFIRM, clock=clock, wall=clock.wall, rng=random.Random(seed), **kw)


def next_check(mon: Monitor, clock: Clock) -> float:
    """Run the clock to the next "check" the monitor hands out (finishing other jobs at once);
    returns its start time."""
    for _ in range(10_000):
        clock.to(mon.next_due())
        jobs = mon.due()
        for job in jobs:
            if job == "feed":
                mon.feed_finished()
            elif job == "flush":
                mon.flush_finished()
            elif job == "state":
                mon.state_finished(True)
        if "check" in jobs:
            return clock.mono
    raise AssertionError("no check was handed out")


def run_pass(mon: Monitor, clock: Clock, verdict: str | Diagnosis, duration: float = 0.0) -> Transition | None:
    """Wait for the next check, run it for `duration` seconds, hand in the verdict."""
    next_check(mon, clock)
    assert mon.running
    clock.advance(duration)
    return mon.finished(verdict if isinstance(verdict, Diagnosis) else diag(verdict))


def starts(mon: Monitor, clock: Clock, verdict: str | Diagnosis, n: int, duration: float = 0.0) -> list[float]:
    out = []
    for _ in range(n):
        out.append(next_check(mon, clock))
        clock.advance(duration)
        mon.finished(verdict if isinstance(verdict, Diagnosis) else diag(verdict))
    return out


def jobs_until(mon: Monitor, clock: Clock, end: float, verdict: str = "ok") -> list[tuple[float, str]]:
    """Every job handed out until `end`, each finished at once."""
    seen = []
    while mon.next_due() <= end:
        clock.to(mon.next_due())
        for job in mon.due():
            seen.append((clock.mono, job))
            if job == "check":
                mon.finished(diag(verdict))
            elif job == "feed":
                mon.feed_finished()
            elif job == "flush":
                mon.flush_finished()
            elif job == "state":
                mon.state_finished(True)
    clock.to(end)
    return seen


# -- first pass and confirmation -----------------------------------------------------------


def test_the_first_check_is_handed_out_at_start_and_only_once(clock):
    mon = make(clock, flush_interval_s=None)
    assert mon.next_due() == clock.mono
    assert mon.confirmed_verdict == "checking" and mon.confirmed is None
    assert mon.due() == ["check"]
    assert mon.running
    assert "check" not in mon.due()  # counted as started: never handed out twice
    assert mon.next_due() > clock.mono + INTERVAL  # only the lost-check guard while it runs


def test_first_ok_pass_confirms_at_once(clock):
    mon = make(clock)
    t = run_pass(mon, clock, "ok")
    assert t is not None and (t.previous, t.current) == ("checking", "ok")
    assert mon.confirmed_verdict == "ok" and mon.confirmed is t.diagnosis


def test_first_bad_pass_needs_one_confirming_recheck(clock):
    mon = make(clock)
    assert run_pass(mon, clock, "down") is None
    assert mon.confirmed_verdict == "checking" and mon.latest.verdict == "down"
    assert CONFIRM * 0.9 <= mon.seconds_until_due() <= CONFIRM * 1.1
    t = run_pass(mon, clock, "down")
    assert t is not None and (t.previous, t.current) == ("checking", "down")


def test_single_failed_pass_does_not_switch(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    assert run_pass(mon, clock, "down") is None
    assert mon.confirmed_verdict == "ok" and mon.latest.verdict == "down"
    assert CONFIRM * 0.9 <= mon.seconds_until_due() <= CONFIRM * 1.1
    assert run_pass(mon, clock, "ok") is None
    assert mon.confirmed_verdict == "ok"


def test_two_failed_passes_switch_and_a_recheck_confirms_its_own_verdict(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "local")  # still worse than ok, but a different worse
    assert t is not None and (t.previous, t.current) == ("ok", "local")


def test_recovery_switches_at_once(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "degraded")
    assert t is not None and (t.previous, t.current) == ("down", "degraded")
    t = run_pass(mon, clock, "ok")
    assert t is not None and (t.previous, t.current) == ("degraded", "ok")


def test_exactly_one_transition_per_change(clock):
    mon = make(clock, seed=5)
    script = (["ok"] * 5 + ["down"] * 8 + ["ok"] * 3 + ["local"] + ["ok"] * 2
              + ["local"] * 4 + ["degraded"] * 3 + ["ok"])
    transitions = [t for v in script if (t := run_pass(mon, clock, v)) is not None]
    assert [(t.previous, t.current) for t in transitions] == [
        ("checking", "ok"), ("ok", "down"), ("down", "ok"), ("ok", "local"), ("local", "degraded"),
        ("degraded", "ok"),
    ]


def test_transition_carries_previous_since_and_duration(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    ok_since = mon.confirmed_since
    clock.advance(600)
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "down")
    assert t.previous_since == ok_since
    assert t.duration_s == pytest.approx((mon.confirmed_since - ok_since).total_seconds())
    assert t.duration_s > 600
    assert mon.confirmed_since == datetime.fromtimestamp(clock.wall_t, UTC)


# -- the grid: jitter from the nominal slot, random phase, no drift --------------------------


def test_regular_checks_keep_within_ten_percent_of_the_interval_and_are_jittered(clock):
    mon = make(clock, seed=7)
    run_pass(mon, clock, "ok")
    s = starts(mon, clock, "ok", 300)
    gaps = [b - a for a, b in zip(s, s[1:], strict=False)]
    assert all(INTERVAL * 0.9 <= g <= INTERVAL * 1.1 for g in gaps)
    assert max(gaps) - min(gaps) > INTERVAL * 0.05 and min(gaps) < INTERVAL < max(gaps)


def test_the_grid_does_not_drift_or_walk_even_with_slow_checks(clock):
    mon = make(clock, seed=3)
    run_pass(mon, clock, "ok")
    s = starts(mon, clock, "ok", 500, duration=4.0)
    # every start stays within the jitter of one fixed grid: no random walk away from it
    anchor = s[0]
    offsets = [(t - anchor) - round((t - anchor) / INTERVAL) * INTERVAL for t in s]
    assert max(offsets) - min(offsets) <= 2 * mod.JITTER * INTERVAL + 1e-6
    assert abs((s[-1] - s[0]) / (len(s) - 1) - INTERVAL) < 0.1


def test_laptops_started_together_are_spread_over_a_whole_interval(clock):
    """Random first phase: the second checks of 400 laptops started in the same second fill
    the whole interval, not a +-10 % band."""
    seconds = []
    for seed in range(400):
        c = Clock()
        mon = make(c, seed=seed)
        run_pass(mon, c, "ok")
        seconds.append(next_check(mon, c) - 1000.0)
    slack = 2 * mod.JITTER * INTERVAL
    assert all(INTERVAL * mod.MIN_GAP <= x <= INTERVAL * (1 + mod.MIN_GAP) + slack for x in seconds)
    tenths = {int((x % INTERVAL) // (INTERVAL / 10)) for x in seconds}
    assert tenths == set(range(10))


def test_an_extra_check_does_not_move_the_grid(clock):
    mon = make(clock, seed=4)
    run_pass(mon, clock, "ok")
    before = starts(mon, clock, "ok", 3)
    mon.trigger("check_now")
    run_pass(mon, clock, "ok")
    after = starts(mon, clock, "ok", 3)
    for t in after:  # the regular checks stay on the slots the random phase chose
        k = round((t - before[0]) / INTERVAL)
        assert abs(t - (before[0] + k * INTERVAL)) <= 2 * mod.JITTER * INTERVAL + 1e-6


def test_no_two_checks_closer_than_the_minimum_gap_after_an_extra_check(clock):
    mon = make(clock, seed=9)
    run_pass(mon, clock, "ok")
    for _ in range(30):
        clock.advance(random.Random(len(str(clock.mono))).uniform(0, INTERVAL))
        mon.trigger("check_now")
        extra = next_check(mon, clock)
        mon.finished(diag("ok"))
        assert next_check(mon, clock) - extra >= INTERVAL * mod.MIN_GAP - 1e-6
        mon.finished(diag("ok"))


# -- never faster when broken, slower when the server asks -----------------------------------


def test_while_down_the_normal_interval_after_one_confirmation(clock):
    mon = make(clock, seed=11)
    run_pass(mon, clock, "ok")
    first = next_check(mon, clock)
    mon.finished(diag("down"))
    confirm = next_check(mon, clock)
    assert mon.finished(diag("down")) is not None
    assert CONFIRM * 0.9 <= confirm - first <= CONFIRM * 1.1
    s = starts(mon, clock, "down", 40)
    gaps = [b - a for a, b in zip([confirm, *s], s, strict=False)]
    assert min(gaps) >= INTERVAL * 0.8  # never faster than healthy (old rule: 5, 10, 20 s...)
    assert max(gaps) <= INTERVAL * 1.1  # recovery is still seen within one interval
    assert run_pass(mon, clock, "ok") is not None


def test_confirm_after_0_still_leaves_a_gap(clock):
    mon = Monitor(INTERVAL, 0, clock=clock, wall=clock.wall, rng=random.Random(3))
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    assert mon.seconds_until_due() >= mod.MIN_BACKOFF_S * 0.999


def test_an_overloaded_server_is_probed_more_slowly_up_to_ten_intervals(clock):
    mon = make(clock, seed=12)
    run_pass(mon, clock, "ok")
    s = starts(mon, clock, OVERLOADED, 12)
    gaps = [b - a for a, b in zip(s[1:], s[2:], strict=False)]  # after the confirmation
    assert all(g >= INTERVAL * 1.4 for g in gaps)
    assert gaps[0] < gaps[1] < gaps[2]
    assert max(gaps) <= mod.MAX_SLOWDOWN * INTERVAL * 1.1
    assert max(gaps) >= mod.MAX_SLOWDOWN * INTERVAL * 0.9
    # recovery: back to the normal grid
    run_pass(mon, clock, "ok")
    assert run_pass(mon, clock, "ok") is None
    gap = next_check(mon, clock) - s[-1]
    assert gap > 0
    last = clock.mono
    mon.finished(diag("ok"))
    assert INTERVAL * 0.9 <= next_check(mon, clock) - last <= INTERVAL * 1.1


@pytest.mark.parametrize("retry_after", [200, "200"])
def test_retry_after_is_honoured_for_the_recheck_and_the_next_checks(clock, retry_after):
    busy = diag("down", code="http_status", detail="503", data={"http_status": 503, "retry_after": retry_after})
    mon = make(clock, seed=13)
    run_pass(mon, clock, "ok")
    first = next_check(mon, clock)
    mon.finished(busy)
    confirm = next_check(mon, clock)
    # the re-check waits for Retry-After, but never beyond one interval
    assert INTERVAL * 0.999 <= confirm - first <= INTERVAL * 1.1
    mon.finished(busy)
    assert next_check(mon, clock) - confirm >= 200 * 0.999


def test_a_plain_refusal_is_not_overload():
    assert mod.overload_of(diag("down")) == (False, None)
    assert mod.overload_of(diag("down", code="service_unavailable", detail="(554 no service)")) == (False, None)
    assert mod.overload_of(OVERLOADED)[0] is True
    assert mod.overload_of(diag("down", code="http_status", data={"http_status": 429}))[0] is True
    assert mod.overload_of(diag("down", code="http_status", data={"http_status": 500})) == (False, None)


def test_hours_down_slow_the_checks_and_a_feed_change_looks_again(clock):
    mon = make(clock, seed=14, feed_interval_s=FEED)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    s = starts(mon, clock, "down", 400)
    late = [b - a for a, b in zip(s, s[1:], strict=False) if a - s[0] > 5 * 3600]
    early = [b - a for a, b in zip(s, s[1:], strict=False) if a - s[0] < 3000]
    assert max(early) <= INTERVAL * 1.1
    assert late and min(late) >= INTERVAL * 5 and max(late) <= mod.MAX_SLOWDOWN * INTERVAL * 1.1
    # IT's feed changed (often: "fixed"): one spread check instead of waiting ten minutes
    when = clock.mono
    mon.feed_finished(changed=True)
    assert mod.NETWORK_DELAY_S[0] * 0.999 <= mon.seconds_until_due() <= mod.NETWORK_DELAY_S[1]
    assert next_check(mon, clock) - when <= mod.NETWORK_DELAY_S[1]


# -- triggers ------------------------------------------------------------------------------


def test_check_now_always_runs_at_once(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    for _ in range(3):
        clock.advance(7)
        assert mon.trigger("check_now") is True
        assert mon.seconds_until_due() == 0
        run_pass(mon, clock, "ok")


def test_check_now_during_a_check_reruns_right_after_it(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    next_check(mon, clock)
    assert mon.trigger("check_now") is True
    clock.advance(1)
    mon.finished(diag("ok"))
    assert mon.seconds_until_due() == 0


@pytest.mark.parametrize("reason, window", [("network_change", mod.NETWORK_DELAY_S), ("wake", mod.WAKE_DELAY_S)])
def test_a_fleet_wide_trigger_waits_a_random_bounded_delay(reason, window):
    delays = []
    for seed in range(200):
        c = Clock()
        mon = make(c, seed=seed)
        run_pass(mon, c, "ok")
        c.advance(3)
        at = c.mono
        assert mon.trigger(reason) is True
        delays.append(next_check(mon, c) - at)
    assert all(window[0] * 0.999 <= d <= window[1] * 1.001 for d in delays)
    # spread over the window, not bunched at one end
    width = window[1] - window[0]
    assert min(delays) < window[0] + width * 0.1 and max(delays) > window[1] - width * 0.1


def test_triggers_while_a_check_is_pending_join_it(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(10)
    start = clock.mono
    assert mon.trigger("network_change") is True
    for _ in range(5):
        clock.advance(0.3)
        assert mon.trigger("network_change") is False
    assert mon.trigger("wake") is False
    seen = [t for t, job in jobs_until(mon, clock, start + mod.NETWORK_DELAY_S[1] + 1) if job == "check"]
    assert len(seen) == 1


def test_a_trigger_during_a_check_reruns_once_after_it_spread(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(5)
    mon.trigger("network_change")
    next_check(mon, clock)
    clock.advance(0.5)
    assert mon.trigger("network_change") is True
    assert mon.trigger("network_change") is False  # one re-run, however many changes
    clock.advance(0.5)
    end = clock.mono
    mon.finished(diag("ok"))
    assert mod.NETWORK_DELAY_S[0] * 0.999 <= mon.seconds_until_due() <= mod.NETWORK_DELAY_S[1]
    seen = [t for t, job in jobs_until(mon, clock, end + mod.NETWORK_DELAY_S[1] + 0.5) if job == "check"]
    assert len(seen) == 1


def test_unknown_trigger_is_refused(clock):
    with pytest.raises(ValueError):
        make(clock).trigger("lunch")


def test_wake_detected_from_wall_clock_jump(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(20)
    mon.tick()
    assert mon.seconds_until_due() > 25  # an ordinary tick changes nothing
    clock.sleep(3600)  # the laptop slept an hour: wall moved, monotonic did not
    clock.advance(1)
    mon.tick()
    assert mod.WAKE_DELAY_S[0] * 0.999 <= mon.seconds_until_due() <= mod.WAKE_DELAY_S[1]
    run_pass(mon, clock, "ok")
    mon.tick()  # the jump is counted once
    assert mon.seconds_until_due() > 25


def test_small_wall_adjustment_is_not_a_wake(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(15)
    clock.sleep(5)  # an NTP nudge
    mon.tick()
    assert mon.seconds_until_due() > 25


@pytest.mark.parametrize("slot_after", [10, 40])
@pytest.mark.parametrize("rejoin_after, tick_after", [(3, 15), (8, 1), (2, 19), (6, 6)])
def test_one_check_per_resume_whatever_order_wake_and_network_change_come(rejoin_after, tick_after, slot_after):
    for seed in range(30):
        clock = Clock()
        mon = make(clock, seed=seed)
        run_pass(mon, clock, "ok")
        clock.to(mon.next_due() - slot_after)  # asleep some time before the next slot
        clock.sleep(8 * 3600)
        resume = clock.mono
        events = sorted([(resume + rejoin_after, "net"), (resume + tick_after, "tick")])
        checks = []
        for at, what in events:
            checks += [t for t, job in jobs_until(mon, clock, at) if job == "check"]
            if what == "net":
                mon.trigger("network_change")
            else:
                mon.tick()
        checks += [t for t, job in jobs_until(mon, clock, resume + 60) if job == "check"]
        # the regular slot (due slot_after s after the resume) may run, and then the resume
        # needs nothing more; either way the resume adds at most one check, never two
        assert 1 <= len(checks) <= 2, (seed, checks)
        assert len([t for t in checks if abs(t - (resume + slot_after)) > 1e-6]) <= 1, (seed, checks)


def test_a_wake_after_a_check_that_ran_before_the_sleep_still_checks(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(5)
    mon.trigger("network_change")  # the lid closes: Wi-Fi drops
    run_pass(mon, clock, "local")  # and the check runs before the sleep
    clock.sleep(3600)
    clock.advance(1)
    mon.tick()
    assert mon.seconds_until_due() <= mod.WAKE_DELAY_S[1]


def test_a_lost_check_does_not_stop_monitoring(clock):
    mon = make(clock)
    assert mon.due() == ["check"]
    clock.to(mon.next_due())
    assert mon.due()[:1] == ["check"]  # given up on the first, a new one starts


def test_a_crashed_pass_keeps_the_confirmed_state_and_retries_soon(clock):
    mon = make(clock)
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    assert mon.confirmed_verdict == "down"
    next_check(mon, clock)
    mon.failed()
    assert mon.confirmed_verdict == "down" and not mon.running
    assert 0 < mon.seconds_until_due() <= max(CONFIRM, 1.0) * 1.1
    assert run_pass(mon, clock, "down") is None  # still the same outage: no new transition


# -- the feed, the outbox, state pushes ----------------------------------------------------


def test_the_feed_has_its_own_jittered_schedule_and_is_not_read_per_check(clock):
    mon = make(clock, seed=21, feed_interval_s=FEED)
    seen = jobs_until(mon, clock, clock.mono + 3600)
    feeds = [t for t, job in seen if job == "feed"]
    checks = [t for t, job in seen if job == "check"]
    assert 25 <= len(feeds) <= 31 and len(checks) >= 55
    gaps = [b - a for a, b in zip(feeds, feeds[1:], strict=False)]
    assert all(FEED * 0.9 <= g <= FEED * 1.1 for g in gaps)
    assert max(gaps) - min(gaps) > 1.0


def test_the_feed_starts_at_a_random_phase(clock):
    firsts = []
    for seed in range(300):
        c = Clock()
        mon = make(c, seed=seed, feed_interval_s=FEED)
        firsts.append(next(t for t, job in jobs_until(mon, c, c.mono + 2 * FEED) if job == "feed") - 1000.0)
    assert all(-FEED * mod.JITTER <= x <= FEED * (1 + mod.JITTER) for x in firsts)
    assert {int(x // (FEED / 10)) for x in firsts if 0 <= x < FEED} == set(range(10))


def test_a_feed_read_still_running_is_not_started_twice(clock):
    mon = make(clock, seed=22, feed_interval_s=FEED)
    handed = 0
    end = clock.mono + 10 * FEED
    while mon.next_due() <= end:
        clock.to(mon.next_due())
        for job in mon.due():
            handed += job == "feed"
            if job == "check":
                mon.finished(diag("ok"))
    assert handed == 1 and mon.feed_running  # never finished: no second read on top
    mon.feed_finished()
    assert any(job == "feed" for _, job in jobs_until(mon, clock, clock.mono + FEED * 1.2))


def test_the_first_confirmed_problem_reads_a_feed_never_read_soon(clock):
    mon = make(clock, seed=23, feed_interval_s=3600)
    mon._feed.due = mon._feed.nominal = clock.mono + 3000  # make the random phase a late one
    run_pass(mon, clock, "down")
    when = clock.mono
    assert run_pass(mon, clock, "down") is not None
    feeds = [t for t, job in jobs_until(mon, clock, when + 60) if job == "feed"]
    assert len(feeds) == 1 and feeds[0] - when <= mod.FEED_SOON_S[1] + CONFIRM * 1.1


def test_outbox_flushes_soon_after_start_then_every_five_minutes(clock):
    mon = make(clock, seed=24, flush_interval_s=mod.FLUSH_INTERVAL_S)
    start = clock.mono
    flushes = [t for t, job in jobs_until(mon, clock, start + 3600) if job == "flush"]
    assert mod.FLUSH_START_S[0] <= flushes[0] - start <= mod.FLUSH_START_S[1]
    gaps = [b - a for a, b in zip(flushes[1:], flushes[2:], strict=False)]
    assert 10 <= len(flushes) <= 14
    assert all(mod.FLUSH_INTERVAL_S * 0.9 <= g <= mod.FLUSH_INTERVAL_S * 1.1 for g in gaps)


def test_network_back_flushes_soon_and_urgently(clock):
    mon = make(clock, seed=25, flush_interval_s=mod.FLUSH_INTERVAL_S)
    jobs_until(mon, clock, clock.mono + 40)
    run_pass(mon, clock, "local")
    run_pass(mon, clock, "local")
    assert not mon.flush_urgent
    back = clock.mono
    run_pass(mon, clock, "ok")
    back = clock.mono
    clock.to(mon.next_due())
    jobs = mon.due()
    assert "flush" in jobs and mon.flush_urgent
    assert clock.mono - back <= mod.FLUSH_NETWORK_BACK_S[1]
    mon.flush_finished()
    assert not mon.flush_urgent


def test_no_state_jobs_unless_sharing(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    assert not [j for _, j in jobs_until(mon, clock, clock.mono + 600) if j == "state"]


def test_each_confirmed_change_is_pushed_once_after_a_spread_delay(clock):
    mon = make(clock, share_state=True)
    t = run_pass(mon, clock, "ok")
    at = clock.mono
    clock.to(mon.next_due())
    jobs = mon.due()
    assert jobs == ["state"] and mon.state_transition is t
    assert mod.STATE_DELAY_S[0] <= clock.mono - at <= mod.STATE_DELAY_S[1]
    mon.state_finished(True)
    assert mon.state_transition is None
    assert not [j for _, j in jobs_until(mon, clock, clock.mono + 300) if j == "state"]


def test_a_newer_change_replaces_the_pending_push(clock):
    mon = make(clock, share_state=True)
    mon.started()
    mon.finished(diag("ok"))
    mon.started()
    mon.finished(diag("down"))
    mon.started()
    newer = mon.finished(diag("down"))
    assert newer is not None
    seen = []
    end = clock.mono + 120
    while mon.next_due() <= end:
        clock.to(mon.next_due())
        for job in mon.due():
            if job == "state":
                seen.append(mon.state_transition)
                mon.state_finished(True)
            elif job == "check":
                mon.finished(diag("down"))
    assert seen == [newer]  # one push, of the latest change


def test_a_failed_push_retries_with_growing_jittered_backoff_and_retry_after(clock):
    gaps_by_seed = []
    for seed in range(20):
        c = Clock()
        mon = make(c, seed=seed, share_state=True, flush_interval_s=None)
        mon.started()
        t = mon.finished(diag("ok"))
        attempts = []
        while len(attempts) < 6:
            c.to(mon.next_due())
            for job in mon.due():
                if job == "state":
                    assert mon.state_transition is t  # the same change, again
                    attempts.append(c.mono)
                    mon.state_finished(False, retry_after_s=400 if len(attempts) == 5 else None)
                elif job == "check":
                    mon.finished(diag("ok"))
        gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
        base = mod.STATE_RETRY_BASE_S
        for i, g in enumerate(gaps[:4]):
            assert base * 2**i * 0.5 <= g <= base * 2**i * 1.5
        assert gaps[4] >= 400
        gaps_by_seed.append(round(gaps[0], 3))
    assert len(set(gaps_by_seed)) > 10  # laptops do not retry in step


def test_a_successful_push_resets_the_backoff(clock):
    mon = make(clock, share_state=True, flush_interval_s=None)
    mon.started()
    mon.finished(diag("ok"))
    for ok in (False, False, True):
        while "state" not in mon.due():
            clock.to(mon.next_due())
        mon.state_finished(ok)
        if mon.running:
            mon.finished(diag("ok"))
    mon.started()
    mon.finished(diag("down"))
    mon.started()
    at = clock.mono
    mon.finished(diag("down"))
    while "state" not in mon.due():
        clock.to(mon.next_due())
        if mon.running:
            mon.finished(diag("down"))
    assert clock.mono - at <= mod.STATE_DELAY_S[1]


# -- restarts ------------------------------------------------------------------------------


def test_restored_since_carries_over_a_restart(clock):
    earlier = datetime.fromtimestamp(clock.wall_t - 7200, UTC)
    mon = make(clock)
    mon.restore("down", earlier)
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "down")
    assert t is not None and t.current == "down"
    assert mon.confirmed_since == earlier
    clock.advance(300)
    t = run_pass(mon, clock, "ok")
    assert 7200 + 300 < t.duration_s < 7200 + 300 + INTERVAL * 2


def test_restored_since_arriving_after_the_first_verdict_still_applies(clock):
    earlier = datetime.fromtimestamp(clock.wall_t - 7200, UTC)
    mon = make(clock)
    run_pass(mon, clock, "ok")
    mon.restore("ok", earlier)
    assert mon.confirmed_since == earlier


def test_restored_since_of_another_verdict_is_ignored(clock):
    earlier = datetime.fromtimestamp(clock.wall_t - 7200, UTC)
    mon = make(clock)
    mon.restore("down", earlier)
    run_pass(mon, clock, "ok")
    assert mon.confirmed_since == datetime.fromtimestamp(clock.wall_t, UTC)
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    assert mon.confirmed_since == datetime.fromtimestamp(clock.wall_t, UTC)
    mon.restore("down", earlier)
    assert mon.confirmed_since != earlier


# -- wording --------------------------------------------------------------------------------


def test_format_duration():
    assert format_duration(20) == "under 1 min"
    assert format_duration(47 * 60 + 5) == "47 min"
    assert format_duration(2 * 3600 + 5 * 60) == "2 h 5 min"
    assert format_duration(3 * 3600) == "3 h"
    assert format_duration(26 * 3600) == "1 day 2 h"






def test_a_feed_set_up_later_gets_its_own_schedule(clock):
    mon = make(clock, seed=31)
    assert not [j for _, j in jobs_until(mon, clock, clock.mono + 300) if j == "feed"]
    mon.set_feed_interval(FEED)
    feeds = [t for t, j in jobs_until(mon, clock, clock.mono + 10 * FEED) if j == "feed"]
    assert 9 <= len(feeds) <= 11
    mon.set_feed_interval(None)
    assert not [j for _, j in jobs_until(mon, clock, clock.mono + 600) if j == "feed"]


def test_seconds_until_check_is_the_checks_own_wait_beside_other_jobs():
    clock = [1000.0]
    mon = mod.Monitor(60, 30, clock=lambda: clock[0], flush_interval_s=300, rng=random.Random(3))
    mon.started()
    mon.failed()  # the pass crashed: the check comes back after the confirmation delay (30 s ± 10 %)
    assert 27 <= mon.seconds_until_check() <= 33
    assert mon.seconds_until_due() <= mod.FLUSH_START_S[1]  # leftover reports go sooner
    clock[0] += mod.FLUSH_START_S[1]
    assert mon.due() == ["flush"]
    assert 27 - mod.FLUSH_START_S[1] <= mon.seconds_until_check() <= 33 - mod.FLUSH_START_S[1]
