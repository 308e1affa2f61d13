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
