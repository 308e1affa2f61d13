"""`hub serve` groups and notifies in a child process of its own, so grouping a burst never holds
up the answers to the next requests: the child is restarted when it dies and ends with its
parent, and the ingest endpoints (answered before the framework) keep the API's headers."""

from __future__ import annotations

import os
import signal
import time

import httpx
import psutil

from tests.hub import laptops as lp
from tests.hub.test_hub_notify import outage, wait_for
from tests.servers.receiver import Receiver

HUB = """
group_wait_s = 1
group_interval_s = 600
detect_min_laptops = 1000
detect_min_networks = 2
"""


def background_child(proc: psutil.Process) -> psutil.Process | None:
    """The hub's grouping and notification process (not multiprocessing's resource tracker)."""
    for child in proc.children():
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "multiprocessing" in cmdline and "resource_tracker" not in cmdline and child.is_running() \
                and child.status() != psutil.STATUS_ZOMBIE:
            return child
    return None


def test_grouping_runs_in_a_child_that_comes_back_when_killed_and_ends_with_the_hub(start_hub, hub_tokens):
    with Receiver() as it_channel:
        hub = start_hub(hub=HUB, notify=f'webhook_url = "{it_channel.url}"\n')
        laptop, _admin = hub_tokens()
        parent = psutil.Process(hub.proc.pid)
        first = wait_for(lambda: background_child(parent), what="the grouping process")
        assert first.pid != parent.pid

        assert set(lp.burst([hub.url], laptop, outage(5, notes=False))) == {201}
        wait_for(lambda: it_channel.requests, what="the first notification")
        assert it_channel.requests[0].json()["group"]["laptops"] == 5

        os.kill(first.pid, signal.SIGKILL)  # the child dies: the hub starts another one
        second = wait_for(lambda: (c := background_child(parent)) and c.pid != first.pid and c, timeout=30,
                          what="a new grouping process")
        imap = [("state", lp.state(f"imap-{i}", failing=lp.IMAP_DOWN, network=f"{i:012x}")) for i in range(3)]
        assert set(lp.burst([hub.url], laptop, imap)) == {201}
        wait_for(lambda: len(it_channel.requests) >= 2, what="a notification from the new grouping process")
        assert it_channel.requests[-1].json()["group"]["failing"] == lp.IMAP_DOWN
        assert "starting it again" in hub.output()

        hub.proc.kill()  # the hub itself is killed: its child does not linger
        hub.proc.wait(10)
        deadline = time.monotonic() + 15
        while second.is_running() and second.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE


def test_the_ingest_endpoints_keep_the_api_headers_and_errors(start_hub, hub_tokens):
    hub = start_hub(hub=HUB)
    laptop, admin = hub_tokens()
    ok = httpx.post(hub.url + "/api/v1/state", json=lp.state("h-1"), headers={"Authorization": f"Bearer {laptop}"})
    assert ok.status_code == 201 and ok.json()["stored"] == "new"
    assert ok.headers["x-content-type-options"] == "nosniff" and ok.headers["referrer-policy"] == "same-origin"
    assert ok.headers["content-type"] == "application/json"
    wrong_method = httpx.get(hub.url + "/api/v1/reports", headers={"Authorization": f"Bearer {laptop}"})
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert "Use POST" in wrong_method.json()["error"]
    anonymous = httpx.post(hub.url + "/api/v1/state", json=lp.state("h-2"))
    assert anonymous.status_code == 401 and anonymous.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(hub.url + "/healthz").status_code == 200  # everything else still goes through the app

    # what IT (and the benchmark) read: this process's ingest counters and how far grouping lags
    def stats():
        return httpx.get(hub.url + "/api/v1/stats", headers={"Authorization": f"Bearer {admin}"}).json()

    first = stats()
    assert "ingest" in first, first
    assert first["ingest"]["requests"] == 1, first  # only the stored one is counted
    wait_for(lambda: stats()["ungrouped"] == {"reports": 0, "states": 0, "journal_bytes": 0}, what="grouping to catch up")
    assert httpx.get(hub.url + "/api/v1/stats", headers={"Authorization": f"Bearer {laptop}"}).status_code == 403


def test_the_grouper_gathers_a_stream_of_events_into_fewer_passes_and_never_sleeps_through_a_wake(monkeypatch):
    """While events keep coming, passes start at least GROUPER_GAP_S apart (each pass has a fixed
    cost); a wake that arrives during a pass or the gap is not lost: the next pass follows it
    without waiting for the timer (set to an hour here, so only a wake can start a pass)."""
    import asyncio
    from types import SimpleNamespace

    from app.hub import grouping, runtime

    monkeypatch.setattr(runtime, "GROUPER_EVERY_S", 3600.0)
    monkeypatch.setattr(runtime, "GROUPER_GAP_S", 0.5)  # long beside a worker thread's start-up on a busy machine
    monkeypatch.setattr(runtime, "CHECKPOINT_EVERY_S", 3600.0)
    monkeypatch.setattr(runtime, "RETENTION_EVERY_S", 3600.0)
    starts: list[float] = []
    events = [5, 5, 5, 0]  # three busy passes, then an idle one

    async def scenario() -> None:
        hub = SimpleNamespace(store=SimpleNamespace(checkpoint=lambda: None), settings=None,
                              wake_sender=lambda: None, feed_cache=SimpleNamespace(invalidate=lambda: None))
        grouper = runtime.Grouper(hub)
        grouper._checkpointed = grouper._pruned = time.monotonic()

        def run_pass(store, settings, now, pacing, incoming=None):
            starts.append(time.monotonic())
            grouper.wake.set()  # the journal's loader wakes it while it is busy
            n = events.pop(0) if events else 0
            return grouping.PassResult(events=n)

        monkeypatch.setattr(grouping, "run_pass", run_pass)
        grouper.start()
        grouper.wake.set()
        deadline = time.monotonic() + 20
        while len(starts) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await grouper.stop()

    asyncio.run(scenario())
    assert len(starts) >= 5  # each wake during a pass was followed by another pass
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # after a busy pass, the gap (a pass's time is taken in its worker thread, whose start may
    # lag by a few hundredths of a second under load); after an idle one, a wake at once
    assert all(gap >= runtime.GROUPER_GAP_S - 0.1 for gap in gaps[:3]), gaps
    assert gaps[3] < runtime.GROUPER_GAP_S - 0.1, gaps
