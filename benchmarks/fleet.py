"""What a whole fleet of trays puts on the mail server and the feed: N laptops (default 10,000),
each the real app.monitor.Monitor driven only through its seam (next_due / due / finished /
feed_finished / trigger / tick) on one virtual clock, through the events a company sees.

    python benchmarks/fleet.py [--laptops 10000] [--seed 1] [--jobs 2]

For each event it prints the mean (the fleet's steady rate: laptops / interval), the busiest
1-s window and its ratio to the mean, for mail probes (check starts) and feed polls, beside the
same figure for independent random (Poisson) arrivals at the same mean over as many windows,
drawn in the same run. A heap-based event loop; each laptop has its own monotonic clock (it
stands still while the laptop sleeps) and shares the wall clock, as real laptops do.

The tray's tick timer is modelled by calling tick() within TICK_S after each resume (the only
time a tick can change anything); all other monitor calls are the tray's.

`--before REV` runs the same events against app/monitor.py as it was at REV (git), driven the
way app/ui/tray.py drove it then (its scheduling glue re-created in LegacySeam), for the
before/after comparison.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.diagnosis.model import Check, Diagnosis  # noqa: E402
from app.monitor import JITTER, TICK_S, Monitor  # noqa: E402

INTERVAL = 60.0  # check.interval_s default
CONFIRM = 5.0  # check.confirm_after_s default
FEED = 120.0  # feed.interval_s default
WALL0 = 1_780_000_000.0
WARM_S = 900.0  # laptops start over the first 600 s; the fleet has settled by 900 s
EVENT_AT = 1200.0


def _diagnosis(verdict: str, code: str, detail: str = "", data: dict | None = None) -> Diagnosis:
    status = "ok" if code == "ok" else "fail"
    check = Check("smtp mail.corp.example:587", "smtp", "mail.corp.example:587", status, code, detail,
                  data=data or {})
    return Diagnosis(verdict, "none" if verdict == "ok" else "server", verdict, "", "", 1.0, [check])


OK = _diagnosis("ok", "ok")
DOWN = _diagnosis("down", "tcp_refused")
BUSY = _diagnosis("down", "service_unavailable", "The mail server refuses service (421 Too many connections).",
                  {"reply_code": 421})

# event kinds
DUE, CHECK_END, FEED_END, NET, TICK, SLEEP, RESUME, START = range(8)


class Laptop:
    __slots__ = ("world", "mon", "offset", "asleep", "sleep_start", "sched", "ver", "ok_at")

    def __init__(self, world: World) -> None:
        self.world = world
        self.offset = 0.0  # global time minus this laptop's monotonic time (grows with sleep)
        self.asleep = False
        self.sleep_start = 0.0
        self.sched = math.inf
        self.ver = 0
        self.ok_at: float | None = None
        self.mon: Monitor | None = None

    def mono(self) -> float:
        return (self.sleep_start if self.asleep else self.world.t) - self.offset


@dataclass
class World:
    n: int
    seed: int
    t: float = 0.0
    outage: tuple[float, float, Diagnosis] | None = None
    laptops: list[Laptop] = field(default_factory=list)
    heap: list = field(default_factory=list)
    probes: dict[int, int] = field(default_factory=dict)
    polls: dict[int, int] = field(default_factory=dict)
    probe_times_after: float = math.inf  # record each probe's laptop after this (recovery)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.seq = itertools.count()

    def wall(self) -> float:
        return WALL0 + self.t

    def push(self, at: float, kind: int, idx: int, ver: int = 0) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, idx, ver))

    def start_laptop(self, idx: int) -> None:
        lap = self.laptops[idx]
        if LEGACY is not None:
            lap.mon = LegacySeam(LEGACY, lap.mono, self.wall, self.rng)  # type: ignore[assignment]
        else:
            lap.mon = Monitor(INTERVAL, CONFIRM, feed_interval_s=FEED, clock=lap.mono, wall=self.wall, rng=self.rng)
        self.resched(idx)

    def resched(self, idx: int) -> None:
        lap = self.laptops[idx]
        if lap.asleep or lap.mon is None:
            return
        at = max(self.t, lap.mon.next_due() + lap.offset)
        if at != lap.sched:
            lap.sched = at
            lap.ver += 1
            self.push(at, DUE, idx, lap.ver)

    def diagnosis_now(self) -> Diagnosis:
        if self.outage and self.outage[0] <= self.t < self.outage[1]:
            return self.outage[2]
        return OK

    def run(self, until: float) -> None:
        heap, rng, laptops = self.heap, self.rng, self.laptops
        while heap and heap[0][0] <= until:
            at, _, kind, idx, ver = heapq.heappop(heap)
            self.t = at
            lap = laptops[idx]
            mon = lap.mon
            if kind == DUE:
                if ver != lap.ver or lap.asleep:
                    continue
                lap.sched = math.inf
                jobs = mon.due()
                if not jobs and mon.next_due() + lap.offset <= at:
                    # the laptop's clock (global time minus its sleep) rounded just short of the
                    # due time: let it tick past
                    lap.sched = at + 1e-6
                    lap.ver += 1
                    self.push(lap.sched, DUE, idx, lap.ver)
                    continue
                for job in jobs:
                    if job == "check":
                        sec = int(at)
                        self.probes[sec] = self.probes.get(sec, 0) + 1
                        took = rng.uniform(0.05, 0.3) if self.diagnosis_now() is OK else rng.uniform(0.005, 0.05)
                        self.push(at + took, CHECK_END, idx)
                    elif job == "feed":
                        sec = int(at)
                        self.polls[sec] = self.polls.get(sec, 0) + 1
                        self.push(at + rng.uniform(0.02, 0.2), FEED_END, idx)
                    elif job == "flush":
                        mon.flush_finished()  # nothing waits in these outboxes
                    elif job == "state":
                        mon.state_finished(True)
            elif kind == CHECK_END:
                diagnosis = self.diagnosis_now()
                transition = mon.finished(diagnosis)
                if transition is not None and transition.current == "ok" and lap.ok_at is None:
                    lap.ok_at = at
            elif kind == FEED_END:
                mon.feed_finished(False)
            elif kind == NET:
                if not lap.asleep:
                    mon.trigger("network_change")
            elif kind == TICK:
                if not lap.asleep:
                    mon.tick()
            elif kind == SLEEP:
                lap.asleep, lap.sleep_start = True, at
                continue
            elif kind == RESUME:
                lap.offset += at - lap.sleep_start
                lap.asleep = False
                lap.sched = math.inf
            elif kind == START:
                self.start_laptop(idx)
                continue
            self.resched(idx)
        self.t = until


LEGACY = None  # the old monitor module, with --before


class LegacySeam:
    """The old tray's scheduling glue around the old Monitor, behind the new seam: a check when
    seconds_until_due() ran out (started(), and the check read the feed as well), the feed on
    its own unjittered QTimer from the tray's start, tick() on the tick timer."""

    def __init__(self, module, clock, wall, rng) -> None:
        self.m = module.Monitor(INTERVAL, CONFIRM, clock=clock, wall=wall, rng=rng)
        self.clock = clock
        self.feed_due = clock() + FEED

    @property
    def running(self) -> bool:
        return self.m.running

    def next_due(self) -> float:
        due = math.inf if self.m.running else self.m.next_due()
        return min(due, self.feed_due)

    def due(self) -> list[str]:
        jobs = []
        if not self.m.running and self.m.seconds_until_due() <= 0.05:
            self.m.started()
            jobs += ["check", "feed"]  # the engine read the feed within every check
        now = self.clock()
        while now >= self.feed_due:
            self.feed_due += FEED
            jobs.append("feed")
        return jobs

    def finished(self, diagnosis):
        return self.m.finished(diagnosis)

    def feed_finished(self, changed: bool = False) -> None:
        pass

    def flush_finished(self) -> None:
        pass

    def state_finished(self, ok: bool, retry_after_s: float | None = None) -> None:
        pass

    def trigger(self, reason: str) -> bool:
        return self.m.trigger(reason)

    def tick(self) -> None:
        self.m.tick()


def load_legacy(rev: str):
    import subprocess
    import types

    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "-C", str(root), "show", f"{rev}:app/monitor.py"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("legacy_monitor")
    module.__file__ = f"{rev}:app/monitor.py"
    sys.modules["legacy_monitor"] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def warm_world(n: int, seed: int) -> World:
    """N laptops whose trays started over ten minutes, run until the fleet has settled."""
    world = World(n, seed)
    world.laptops = [Laptop(world) for _ in range(n)]
    for idx in range(n):
        world.push(world.rng.uniform(0, 600), START, idx)
    world.run(WARM_S)
    return world


# ---------------------------------------------------------------- measuring


def window_stats(counts: dict[int, int], start: float, end: float) -> tuple[int, float]:
    """(peak count in a 1-s window, average per second) over [start, end)."""
    secs = range(int(start), int(end))
    values = [counts.get(s, 0) for s in secs]
    return max(values), sum(values) / len(values)


def poisson_peak(rate: float, windows: int, rng: random.Random) -> int:
    """The busiest of `windows` 1-s windows of independent random arrivals at `rate`/s."""
    peak = 0
    # normal approximation with continuity is within a count of Poisson at these rates (>= 40/s);
    # below that, count exponential gaps
    for _ in range(windows):
        if rate >= 40:
            k = int(round(rng.gauss(rate, math.sqrt(rate))))
        else:
            k, acc = 0, rng.expovariate(rate)
            while acc < 1.0:
                k += 1
                acc += rng.expovariate(rate)
        peak = max(peak, k)
    return peak


@dataclass
class Row:
    event: str
    what: str  # "mail" | "feed"
    mean: float
    peak: int
    windows: int
    goal: str
    limit: float
    value: float  # the figure the goal is about
    reference: float = 0.0
    extra: str = ""

    def ok(self) -> bool:
        if self.goal.startswith("ref"):
            return self.value <= self.reference * self.limit
        return self.value <= self.limit


def peak_rows(world: World, event: str, start: float, end: float, goal: str, limit: float) -> list[Row]:
    rows = []
    for what, counts, period in (("mail", world.probes, INTERVAL), ("feed", world.polls, FEED)):
        mean = world.n / period
        peak, _avg = window_stats(counts, start, end)
        rows.append(Row(event, what, mean, peak, int(end) - int(start), goal, limit, peak / mean))
    return rows


# ---------------------------------------------------------------- the events


def ev_steady(world: World) -> list[Row]:
    world.run(WARM_S + 600)
    return peak_rows(world, "steady state (10 min)", WARM_S, WARM_S + 600, "ref x1.1", 1.1)


def ev_vpn(world: World) -> list[Row]:
    world.run(EVENT_AT)
    k = min(world.n, round(world.n * 0.3))
    for idx in world.rng.sample(range(world.n), k):
        first = EVENT_AT + world.rng.uniform(0, 2)
        world.push(first, NET, idx)  # the tunnel comes up ...
        world.push(first + world.rng.uniform(0.2, 1.5), NET, idx)  # ... and its routes and DNS
    world.run(EVENT_AT + 900)
    rows = peak_rows(world, f"VPN reconnect: {k:,} in 2 s (15 min)", EVENT_AT, EVENT_AT + 900, "<= 2", 2.0)
    late = peak_rows(world, "", EVENT_AT + 600, EVENT_AT + 900, "", 0)
    for row, later in zip(rows, late, strict=True):
        row.extra = f"10-15 min later {later.value:.2f}x"
    return rows


def ev_flap(world: World) -> list[Row]:
    world.run(EVENT_AT)
    k = min(world.n, round(world.n * 0.05))
    for idx in world.rng.sample(range(world.n), k):
        off = EVENT_AT + world.rng.uniform(0, 1)
        world.push(off, NET, idx)  # Wi-Fi drops ...
        world.push(off + world.rng.uniform(0.5, 3), NET, idx)  # ... and comes back
    world.run(EVENT_AT + 600)
    return peak_rows(world, f"Wi-Fi flap: {k:,} in 1 s (10 min)", EVENT_AT, EVENT_AT + 600, "<= 2", 2.0)


def _outage(world: World, diagnosis: Diagnosis, label: str, after: float) -> list[Row]:
    length = 1200.0
    world.outage = (EVENT_AT, EVENT_AT + length, diagnosis)
    world.run(EVENT_AT + length + after)
    mean = world.n / INTERVAL
    peak, first3 = window_stats(world.probes, EVENT_AT, EVENT_AT + 180)
    peak_all, during = window_stats(world.probes, EVENT_AT + 180, EVENT_AT + length)
    end = EVENT_AT + length
    recovered = [lap.ok_at - end for lap in world.laptops if lap.ok_at is not None and lap.ok_at >= end]
    within = sum(1 for r in recovered if r <= INTERVAL * (1 + 2 * JITTER))
    seen = (f"recovery: {within / world.n:.0%} of laptops within one interval, "
            f"{len(recovered) / world.n:.0%} after at most {max(recovered):.0f} s") if recovered else ""
    return [
        Row(f"{label}: first 3 min, average", "mail", mean, peak, 180, "<= 1.5", 1.5, first3 / mean,
            extra=f"peak {peak / mean:.2f}x"),
        Row(f"{label}: minutes 3-20, average", "mail", mean, peak_all, int(length - 180), "<= 1.1", 1.1,
            during / mean, extra=seen),
    ]


def ev_fail(world: World) -> list[Row]:
    for lap in world.laptops:
        lap.ok_at = None
    return _outage(world, DOWN, "mail server fails", 2 * INTERVAL)


def ev_busy(world: World) -> list[Row]:
    for lap in world.laptops:
        lap.ok_at = None
    return _outage(world, BUSY, "server overloaded (421)", 12 * INTERVAL)


def ev_resume(world: World) -> list[Row]:
    rng = world.rng
    k = round(world.n * 0.6)
    sleepers = rng.sample(range(world.n), k)
    for idx in sleepers:  # the evening before (compressed): lids close
        world.push(WARM_S + rng.uniform(0, 60), SLEEP, idx)
    world.run(EVENT_AT)
    for idx in sleepers:
        resume = EVENT_AT + rng.uniform(0, 60)
        world.push(resume, RESUME, idx)
        world.push(resume + rng.uniform(0, TICK_S), TICK, idx)  # the tray's tick timer fires
        joined = resume + rng.uniform(2, 8)
        world.push(joined, NET, idx)  # Wi-Fi rejoins
        if rng.random() < 0.5:
            world.push(joined + rng.uniform(0.5, 3), NET, idx)  # and DHCP/DNS settle
    world.run(EVENT_AT + 600)
    return peak_rows(world, f"09:00 resume: {k:,} in 60 s, Wi-Fi rejoin (10 min)", EVENT_AT, EVENT_AT + 600,
                     "<= 2", 2.0)


def ev_login(n: int, seed: int) -> list[Row]:
    world = World(n, seed)
    world.laptops = [Laptop(world) for _ in range(n)]
    base = 100.0
    for idx in range(n):
        # most log in within two minutes of 09:00, the last ones by 09:05
        world.push(base + world.rng.triangular(0, 300, 45), START, idx)
    world.run(base + 900)
    rows = peak_rows(world, f"09:00 login wave: {n:,} in 5 min (15 min)", base, base + 900, "<= 2", 2.0)
    late = peak_rows(world, "", base + 600, base + 900, "", 0)
    for row, later in zip(rows, late, strict=True):
        row.extra = f"10-15 min later {later.value:.2f}x"
    return rows


EVENTS: dict[str, Callable[[World], list[Row]]] = {
    "steady": ev_steady,
    "vpn": ev_vpn,
    "flap": ev_flap,
    "fail": ev_fail,
    "busy": ev_busy,
    "resume": ev_resume,
}


def run_event(name: str, world: World | None, n: int, seed: int) -> tuple[list[Row], float]:
    started = time.process_time()
    rows = ev_login(n, seed) if name == "login" else EVENTS[name](world)
    return rows, time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laptops", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="events run in parallel, each on a copy of the warmed-up fleet (fork)")
    parser.add_argument("--before", metavar="REV", help="the monitor (and tray glue) as it was at this git revision")
    args = parser.parse_args()
    n = args.laptops
    global LEGACY
    if args.before:
        LEGACY = load_legacy(args.before)
        print(f"BEFORE: app/monitor.py at {args.before}, driven as app/ui/tray.py drove it then")
    wall_started = time.monotonic()
    world = warm_world(n, args.seed)
    warm_cpu = time.process_time()
    names = [*EVENTS, "login"]
    results: dict[str, tuple[list[Row], float]] = {}
    if args.jobs > 1 and hasattr(os, "fork"):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")  # children inherit the warmed-up fleet
        global _WORLD  # noqa: PLW0603
        _WORLD = world
        # one fresh fork per event: a worker must not carry one event's fleet into the next
        with ctx.Pool(args.jobs, maxtasksperchild=1) as pool:
            for name, result in zip(names, pool.map(_child, [(name, n, args.seed) for name in names]), strict=True):
                results[name] = result
    else:
        import copy

        for name in names:
            results[name] = run_event(name, copy.deepcopy(world) if name != "login" else None, n, args.seed)

    ref_rng = random.Random(args.seed + 1000)
    rows = [row for name in names for row in results[name][0]]
    for row in rows:
        row.reference = poisson_peak(row.mean, row.windows, ref_rng) / row.mean
    print(f"fleet: {n:,} laptops, check interval {INTERVAL:.0f} s, confirm {CONFIRM:.0f} s, feed {FEED:.0f} s; "
          f"mean = laptops / interval ({n / INTERVAL:,.0f} probes/s, {n / FEED:,.0f} feed polls/s)")
    print("peak = busiest 1-s window; random = the same for independent random arrivals at the mean")
    head = f"{'event':54}{'':6}{'mean/s':>9}{'peak':>8}{'ratio':>8}{'random':>8}{'goal':>10}{'':>6}  note"
    print(head)
    print("-" * len(head))
    failed = 0
    for row in rows:
        verdict = "ok" if row.ok() else "MISSED"
        failed += not row.ok()
        goal = f"{row.limit:.1f}x rnd" if row.goal.startswith("ref") else row.goal
        print(f"{row.event:54}{row.what:6}{row.mean:9,.0f}{row.peak:8,}{row.value:8.2f}{row.reference:8.2f}"
              f"{goal:>10}{verdict:>6}  {row.extra}")
    cpu = warm_cpu + sum(r[1] for r in results.values())
    print(f"runtime: {time.monotonic() - wall_started:.1f} s wall, {cpu:.1f} s CPU "
          f"({args.jobs} job{'s' if args.jobs > 1 else ''})")
    return 1 if failed else 0


_WORLD: World | None = None


def _child(job: tuple[str, int, int]) -> tuple[list[Row], float]:
    name, n, seed = job
    return run_event(name, _WORLD if name != "login" else None, n, seed)


if __name__ == "__main__":
    sys.exit(main())
