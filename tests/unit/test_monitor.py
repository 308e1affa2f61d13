"""The monitor's schedule and confirmation rules, driven step by step on a fake clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.diagnosis.model import Check, Diagnosis
from app.monitor import Monitor, Transition, format_duration, recovery_text, status_since_text

INTERVAL = 60.0
CONFIRM = 5.0
HEADLINES = {
    "ok": "Mail works",
    "degraded": "Mail works, but slowly",
    "down": "Mail server not answering",
    "local": "No network connection",
    "unknown": "Cannot tell",
}


def diag(verdict: str) -> Diagnosis:
    code = {"ok": "ok", "degraded": "slow", "down": "tcp_refused", "local": "no_network"}.get(
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
        checks=[Check("smtp", "smtp", "mail.example.com:587", status, code, "")],
    )


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

    def sleep(self, seconds: float) -> None:
        self.wall_t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, seed: int = 1, **kw) -> Monitor:
    return Monitor(INTERVAL, CONFIRM, clock=clock, wall=clock.wall, rng=random.Random(seed), **kw)


def run_pass(mon: Monitor, clock: Clock, verdict: str, duration: float = 0.0) -> Transition | None:
    """Wait until due, then run one check taking `duration` seconds."""
    clock.advance(mon.seconds_until_due())
    mon.started()
    clock.advance(duration)
    return mon.finished(diag(verdict))


def test_first_check_is_due_at_start(clock):
    mon = make(clock)
    assert mon.seconds_until_due() == 0
    assert mon.confirmed_verdict == "checking"
    assert mon.confirmed is None


def test_first_ok_pass_confirms_at_once(clock):
    mon = make(clock)
    t = run_pass(mon, clock, "ok")
    assert t is not None and (t.previous, t.current) == ("checking", "ok")
    assert mon.confirmed_verdict == "ok"
    assert mon.confirmed is t.diagnosis


def test_first_bad_pass_needs_one_confirming_recheck(clock):
    mon = make(clock)
    assert run_pass(mon, clock, "down") is None
    assert mon.confirmed_verdict == "checking"
    assert mon.latest is not None and mon.latest.verdict == "down"
    assert CONFIRM * 0.9 <= mon.seconds_until_due() <= CONFIRM * 1.1
    t = run_pass(mon, clock, "down")
    assert t is not None and (t.previous, t.current) == ("checking", "down")


def test_interval_within_ten_percent_jitter_and_actually_jittered(clock):
    mon = make(clock, seed=7)
    run_pass(mon, clock, "ok")
    gaps = []
    for _ in range(200):
        clock.advance(mon.seconds_until_due())
        start = clock.mono
        mon.started()
        mon.finished(diag("ok"))
        gaps.append(mon.next_due() - start)
    assert all(INTERVAL * 0.9 <= g <= INTERVAL * 1.1 for g in gaps)
    # jitter spreads laptops out: not all equal, and both halves of the band are used
    assert max(gaps) - min(gaps) > INTERVAL * 0.1
    assert min(gaps) < INTERVAL and max(gaps) > INTERVAL


def test_no_drift_over_many_cycles_even_with_slow_checks(clock):
    mon = make(clock, seed=3)
    run_pass(mon, clock, "ok")
    starts = []
    for _ in range(500):
        clock.advance(mon.seconds_until_due())
        starts.append(clock.mono)
        mon.started()
        clock.advance(4.0)  # each check takes 4 s; the interval counts from its start
        mon.finished(diag("ok"))
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(INTERVAL * 0.9 <= g <= INTERVAL * 1.1 for g in gaps)
    mean = (starts[-1] - starts[0]) / len(gaps)
    assert abs(mean - INTERVAL) < 1.0  # 4 s per check would make it ~64 s if it drifted


def test_single_failed_pass_does_not_switch(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    assert run_pass(mon, clock, "down") is None
    assert mon.confirmed_verdict == "ok"
    assert mon.latest.verdict == "down"
    # re-checked soon, not after a whole interval
    assert CONFIRM * 0.9 <= mon.seconds_until_due() <= CONFIRM * 1.1
    # the packet came back: still ok, no transition
    assert run_pass(mon, clock, "ok") is None
    assert mon.confirmed_verdict == "ok"
    assert INTERVAL * 0.9 - CONFIRM * 1.1 <= mon.seconds_until_due() <= INTERVAL * 1.1


def test_two_failed_passes_switch(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    assert run_pass(mon, clock, "down") is None
    t = run_pass(mon, clock, "down")
    assert t is not None and (t.previous, t.current) == ("ok", "down")
    assert mon.confirmed_verdict == "down"


def test_recheck_confirms_its_own_verdict(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "local")  # still worse than ok, but a different worse
    assert t is not None and t.current == "local"


def test_recovery_switches_at_once(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "degraded")
    assert t is not None and (t.previous, t.current) == ("down", "degraded")
    t = run_pass(mon, clock, "ok")
    assert t is not None and (t.previous, t.current) == ("degraded", "ok")


def test_backoff_while_down_doubles_up_to_interval_with_jitter(clock):
    mon = make(clock, seed=11)
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    assert run_pass(mon, clock, "down") is not None
    expected = [CONFIRM * 2**i for i in range(6)]  # 5, 10, 20, 40, 80->60, ...
    expected = [min(e, INTERVAL) for e in expected] + [INTERVAL] * 4
    delays = []
    for want in expected:
        delay = mon.seconds_until_due()
        assert want * 0.9 <= delay <= want * 1.1, (want, delay)
        delays.append(delay)
        assert run_pass(mon, clock, "down") is None
    assert delays[0] < delays[1] < delays[2] < delays[3]
    # recovery: back to the normal interval
    run_pass(mon, clock, "ok")
    assert INTERVAL * 0.9 <= mon.seconds_until_due() <= INTERVAL * 1.1


def test_backoff_jitter_differs_between_laptops(clock):
    firsts = set()
    for seed in range(20):
        c = Clock()
        mon = make(c, seed=seed)
        run_pass(mon, c, "down")
        run_pass(mon, c, "down")
        firsts.add(round(mon.seconds_until_due(), 3))
    assert len(firsts) > 10


def test_backoff_restarts_after_a_recovery(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    for _ in range(6):
        run_pass(mon, clock, "down")
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    run_pass(mon, clock, "down")
    assert CONFIRM * 0.9 <= mon.seconds_until_due() <= CONFIRM * 1.1


def test_exactly_one_transition_per_change(clock):
    mon = make(clock, seed=5)
    script = (["ok"] * 5 + ["down"] * 8 + ["ok"] * 3 + ["local"] + ["ok"] * 2
              + ["local"] * 4 + ["degraded"] * 3 + ["ok"])
    transitions = [t for v in script if (t := run_pass(mon, clock, v)) is not None]
    assert [(t.previous, t.current) for t in transitions] == [
        ("checking", "ok"),
        ("ok", "down"),
        ("down", "ok"),
        ("ok", "local"),
        ("local", "degraded"),
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


def test_check_now_always_wins(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    for _ in range(3):
        assert mon.trigger("check_now") is True
        assert mon.seconds_until_due() == 0
        clock.advance(0.1)


def test_network_change_is_debounced(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(10)
    assert mon.trigger("network_change") is True
    assert mon.seconds_until_due() == 0
    run_pass(mon, clock, "ok")
    assert mon.seconds_until_due() > 50
    clock.advance(0.5)
    assert mon.trigger("network_change") is False  # same burst: not at once...
    # ...but not lost either: the change came after the check began, so one more follows
    # when the burst's window closes
    assert mon.seconds_until_due() == pytest.approx(1.5)
    clock.advance(0.5)
    assert mon.trigger("network_change") is False
    assert mon.seconds_until_due() == pytest.approx(1.0)  # a burst still makes one check
    clock.advance(1.0)
    assert mon.trigger("network_change") is True
    assert mon.seconds_until_due() == 0


def test_debounced_trigger_during_a_check_reruns_after_it(clock):
    mon = make(clock)
    run_pass(mon, clock, "local")
    assert mon.trigger("wake") is True
    mon.started()  # the wake check begins before the Wi-Fi is back
    clock.advance(0.5)
    assert mon.trigger("network_change") is False
    clock.advance(1.0)
    mon.finished(diag("local"))
    assert mon.seconds_until_due() == 0


def test_a_long_outage_keeps_its_backoff_bounded(clock):
    """Days offline (a weekend at home without VPN) must not overflow the doubling."""
    mon = make(clock)
    run_pass(mon, clock, "local")
    run_pass(mon, clock, "local")
    for _ in range(1500):
        run_pass(mon, clock, "local")
    assert INTERVAL * 0.9 <= mon.seconds_until_due() <= INTERVAL * 1.1
    assert run_pass(mon, clock, "ok") is not None


def test_backoff_never_collapses_to_zero_with_confirm_after_0(clock):
    """confirm_after_s = 0 is a valid setting; the outage re-checks must still back off
    instead of probing a refusing server in a tight loop."""
    mon = Monitor(INTERVAL, 0, clock=clock, wall=clock.wall, rng=random.Random(3))
    run_pass(mon, clock, "ok")
    run_pass(mon, clock, "down")
    assert run_pass(mon, clock, "down") is not None
    delays = []
    for _ in range(8):
        delays.append(mon.seconds_until_due())
        run_pass(mon, clock, "down")
    assert min(delays) >= 0.9
    assert delays[-1] >= INTERVAL * 0.9


def test_restored_since_carries_over_a_restart(clock):
    """After a restart in the same state the tooltip still says since when it holds."""
    earlier = datetime.fromtimestamp(clock.wall_t - 7200, UTC)
    mon = make(clock)
    mon.restore("down", earlier)
    run_pass(mon, clock, "down")
    t = run_pass(mon, clock, "down")
    assert t is not None and t.current == "down"
    assert mon.confirmed_since == earlier
    clock.advance(300)
    t = run_pass(mon, clock, "ok")
    assert 7200 + 300 < t.duration_s < 7200 + 300 + 3 * CONFIRM


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
    assert mon.confirmed_since == datetime.fromtimestamp(clock.wall_t, UTC)  # a new outage
    mon.restore("down", earlier)  # late, and no longer about the first verdict
    assert mon.confirmed_since != earlier


def test_trigger_during_a_check_reruns_after_it(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(mon.seconds_until_due())
    mon.started()
    clock.advance(1)
    assert mon.trigger("network_change") is True
    clock.advance(1)
    mon.finished(diag("ok"))
    assert mon.seconds_until_due() == 0


def test_unknown_trigger_is_refused(clock):
    with pytest.raises(ValueError):
        make(clock).trigger("lunch")


def test_wake_detected_from_wall_clock_jump(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(20)
    mon.tick()
    assert mon.seconds_until_due() > 30  # an ordinary tick changes nothing
    clock.sleep(3600)  # the laptop slept an hour: wall moved, monotonic did not
    clock.advance(1)
    mon.tick()
    assert mon.seconds_until_due() == 0
    run_pass(mon, clock, "ok")
    mon.tick()  # the jump is counted once
    assert mon.seconds_until_due() > 50


def test_small_wall_adjustment_is_not_a_wake(clock):
    mon = make(clock)
    run_pass(mon, clock, "ok")
    clock.advance(15)
    clock.sleep(5)  # an NTP nudge
    mon.tick()
    assert mon.seconds_until_due() > 30


def test_started_without_finish_still_schedules_the_next(clock):
    mon = make(clock)
    mon.started()
    assert mon.running
    assert mon.seconds_until_due() == pytest.approx(INTERVAL)


# -- wording --------------------------------------------------------------------------------


def test_format_duration():
    assert format_duration(20) == "under 1 min"
    assert format_duration(47 * 60 + 5) == "47 min"
    assert format_duration(2 * 3600 + 5 * 60) == "2 h 5 min"
    assert format_duration(3 * 3600) == "3 h"
    assert format_duration(26 * 3600) == "1 day 2 h"


def test_status_since_text_same_day():
    tz = timezone(timedelta(hours=2))
    since = datetime(2024, 5, 1, 15, 2, tzinfo=UTC)  # 17:02 local
    now = since + timedelta(minutes=47)
    text = status_since_text(diag("down"), since, now, tz=tz)
    assert text == "Mail server not answering since 17:02 (47 min)"


def test_status_since_text_across_midnight():
    tz = timezone(timedelta(hours=2))
    since = datetime(2024, 5, 1, 15, 2, tzinfo=UTC)
    now = datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    text = status_since_text(diag("down"), since, now, tz=tz)
    assert text == "Mail server not answering since yesterday 17:02 (15 h 58 min)"


def test_status_since_text_without_since():
    assert status_since_text(diag("ok"), None, datetime.now(UTC)) == "Mail works"


def test_recovery_text():
    t = Transition("down", "ok", diag("ok"), datetime(2024, 5, 1, tzinfo=UTC), 47 * 60)
    assert recovery_text(t) == "Mail works again — it was down 47 min"
    t = Transition("down", "ok", diag("ok"), None, None)
    assert recovery_text(t) == "Mail works again"


def test_a_crashed_pass_keeps_the_confirmed_state_and_retries_soon():
    clock = Clock()
    mon = make(clock)
    for _ in range(2):
        mon.started()
        mon.finished(diag("down"))
    assert mon.confirmed_verdict == "down"
    mon.started()
    mon.failed()
    assert mon.confirmed_verdict == "down" and not mon.running
    assert 0 < mon.seconds_until_due() <= max(mon.confirm_after_s, 1.0) * 1.1
    mon.started()
    assert mon.finished(diag("down")) is None  # still the same outage: no new transition
