"""The laptop side against a real hub process: a real tray (real monitor, real diagnosis of a
mail port that refuses) shares its confirmed outage, IT is notified once through a real
webhook receiver, the hub's own incident comes back through the feed into the tray, a report
reaches the hub beside the configured webhook, and IT posts and resolves with `feed ... --hub`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.hub.browser import prepare  # noqa: E402
from tests.servers.receiver import Receiver  # noqa: E402
from tests.servers.smtp import free_port  # noqa: E402

pytestmark = pytest.mark.slow


def api(hub, path: str) -> dict:
    r = httpx.get(hub.url + path, headers={"Authorization": f"Bearer {hub.tokens['admin']}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(check, timeout_s: float, qtbot=None, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if qtbot is not None:
            qtbot.wait(200)
        else:
            time.sleep(0.2)


@pytest.fixture
def it_receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def hub(start_hub, it_receiver):
    h = start_hub(hub="group_wait_s = 1\ngroup_interval_s = 600\ndetect_min_laptops = 1\ndetect_min_networks = 1\n",
                  notify=f'webhook_url = "{it_receiver.url}"\n')
    h.tokens = prepare(h)
    return h


def laptop_config(tmp_path, hub, webhook_url: str):
    from app import config as config_mod

    path = tmp_path / "laptop.toml"
    path.write_text(
        f"""
[[endpoints]]
kind = "smtp"
host = "127.0.0.1"
port = {free_port()}
name = "Outgoing mail"
[network]
internet_url = ""
[dns]
control_name = "localhost"
[check]
interval_s = 10
confirm_after_s = 1
timeout_s = 2
[feed]
interval_s = 10
[report]
webhook_url = "{webhook_url}"
[hub]
url = "{hub.url}"
""",
        encoding="utf-8",
    )
    return config_mod.load(path, system_file=None, policy_file=None, registry=False)


def test_a_real_tray_shares_its_outage_and_shows_the_hub_s_incident(hub, it_receiver, tmp_path, qtbot, monkeypatch):
    from app import monitor
    from app.ui.tray import TrayApp
    from tests.ui.conftest import dispose_tray

    monkeypatch.setattr(monitor, "STATE_DELAY_S", (0.2, 0.5))  # the fleet spread, shortened
    monkeypatch.setenv("MAILBEACON_SECRET_HUB_TOKEN", hub.tokens["laptop"])
    with Receiver() as own_webhook:
        config = laptop_config(tmp_path, hub, own_webhook.url)
        assert config.feed.url == hub.url + "/feed.json"
        tray = TrayApp(config, tray_available=lambda: True, watch_network=False)
        try:
            assert tray.monitor.share_state is True
            tray.start()
            qtbot.waitUntil(lambda: tray.verdict == "down", timeout=20000)

            groups = wait_for(lambda: api(hub, "/api/v1/groups?state=open")["groups"], 15, qtbot, "the hub's group")
            assert len(groups) == 1 and groups[0]["laptops"] == 1 and groups[0]["verdict"] == "down"
            group = api(hub, f"/api/v1/groups/{groups[0]['id']}")
            from app.laptop_id import laptop_id

            assert [m["laptop"] for m in group["members"]] == [laptop_id()]

            # IT hears once, naming the one laptop
            opened = wait_for(lambda: [r.json() for r in it_receiver.requests if r.json().get("event") == "opened"],
                              15, qtbot, "IT's notification")
            assert len(opened) == 1 and opened[0]["group"]["laptops"] == 1

            # the hub's own incident reaches the tray through the feed (one feed interval)
            qtbot.waitUntil(lambda: tray.it_action.isVisible(), timeout=30000)
            incident = group["incident"] or api(hub, f"/api/v1/groups/{groups[0]['id']}")["incident"]
            assert incident is not None

            # a report goes to the hub as well as to the configured webhook
            from app.report import build
            from app.report.channels import configured
            from app.report.outbox import Outbox

            # a fresh diagnosis, as `mailbeacon report` makes: it reads the hub's feed with the token
            report = build.build_report(config, None, note="Cannot send since nine")
            assert report["diagnosis"]["verdict"] == "down"
            assert report["known_incident"] == incident
            outcome = Outbox().submit(report, configured(config))
            assert sorted(outcome.delivered) == ["hub", "webhook"] and outcome.queued == []
            assert own_webhook.requests[0].json()["id"] == report["id"]
            reports = wait_for(lambda: api(hub, f"/api/v1/groups/{groups[0]['id']}")["reports"], 10, qtbot, "the report")
            assert [(r["id"], r["note"]) for r in reports] == [(report["id"], "Cannot send since nine")]
        finally:
            dispose_tray(tray)
    assert len([r for r in it_receiver.requests if r.json().get("event") == "opened"]) == 1


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "feed", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_feed_post_update_resolve_through_the_hub(hub):
    admin = {"MAILBEACON_SECRET_HUB_ADMIN_TOKEN": hub.tokens["admin"]}
    posted = cli("post", "--hub", hub.url, "--title", "Mail server disk full", "--message", "Freeing space.",
                 "--next-update", "30m", env=admin)
    assert posted.returncode == 0, posted.stderr
    incident_id = posted.stdout.strip().splitlines()[-1]

    def feed() -> list[dict]:
        r = httpx.get(hub.url + "/feed.json", headers={"Authorization": f"Bearer {hub.tokens['laptop']}"}, timeout=10)
        return r.json()["incidents"]

    [item] = wait_for(lambda: [i for i in feed() if i["id"] == incident_id], 5, what="the posted incident")
    assert item["title"] == "Mail server disk full" and item["next_update_at"]

    updated = cli("update", "--hub", hub.url, "--id", incident_id, "--status", "identified", env=admin)
    assert updated.returncode == 0 and f"Updated {incident_id}" in updated.stdout, updated.stderr
    wait_for(lambda: [i for i in feed() if i["id"] == incident_id and i["status"] == "identified"], 5, what="the update")

    resolved = cli("resolve", "--hub", hub.url, "--id", incident_id, "--message", "Fixed.", env=admin)
    assert resolved.returncode == 0, resolved.stderr
    wait_for(lambda: all(i["status"] == "resolved" for i in feed() if i["id"] == incident_id), 5, what="the resolve")

    duplicate = cli("post", "--hub", hub.url, "--id", incident_id, "--title", "x", "--message", "y", env=admin)
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr

    unknown = cli("update", "--hub", hub.url, "--id", "INC-NOPE", "--status", "monitoring", env=admin)
    assert unknown.returncode == 1 and "no incident with id INC-NOPE" in unknown.stderr

    laptop_only = cli("post", "--hub", hub.url, "--title", "x", "--message", "y",
                      env={"MAILBEACON_SECRET_HUB_ADMIN_TOKEN": hub.tokens["laptop"]})
    assert laptop_only.returncode == 1 and "admin" in laptop_only.stderr
    assert hub.tokens["laptop"] not in laptop_only.stderr + laptop_only.stdout

    missing = cli("post", "--hub", hub.url, "--title", "x", "--message", "y", env={})
    assert missing.returncode == 78 and "hub.admin_token" in missing.stderr and "Traceback" not in missing.stderr

    nowhere = cli("post", "--hub", f"http://127.0.0.1:{free_port()}", "--title", "x", "--message", "y", env=admin)
    assert nowhere.returncode == 1 and "could not reach the hub" in nowhere.stderr
    assert json.dumps(feed()).count(incident_id) == 1
