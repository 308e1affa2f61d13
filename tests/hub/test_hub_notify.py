"""Notifications end to end: real `hub serve` processes, real receivers (HTTP, aiosmtpd).

The issue's "done when": a burst of 50 laptops in one outage gives IT exactly one notification
that names 50 — on SQLite, on PostgreSQL, and with two `serve` processes sharing PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import time

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.hub import laptops as lp
from tests.servers.receiver import Receiver, Reply
from tests.servers.smtp import free_port


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def outage(n: int, *, notes: bool = True) -> list[tuple[str, dict]]:
    """n laptops on 5 networks: each pushes its confirmed state; every fifth also reports."""
    items = []
    for i in range(n):
        laptop = f"laptop-{i:03d}"
        items.append(("state", lp.state(laptop, username=f"user{i}", network=f"{i % 5:012x}")))
        if notes and i % 5 == 0:
            items.append(("report", lp.report(laptop, username=f"user{i}", note=f"note from {i}")))
    return items


HUB = """
group_wait_s = 3
group_interval_s = 600
detect_min_laptops = 3
detect_min_networks = 2
"""


@pytest.mark.slow
def test_burst_of_50_gives_it_one_notification_naming_50(start_hub, hub_tokens, database_url):
    with Receiver() as it_channel:
        hub = start_hub(database=database_url, hub=HUB, notify=f'webhook_url = "{it_channel.url}"\n')
        laptop, admin = hub_tokens(database_url)
        codes = lp.burst([hub.url], laptop, outage(50))
        assert codes.count(201) == len(codes)
        wait_for(lambda: it_channel.requests, what="the first notification")
        time.sleep(1.5)  # anything else that would be sent by now has been
        [note] = it_channel.requests
        body = note.json()
        assert set(body) >= {"event", "group"} and body["event"] == "opened"
        group = body["group"]
        assert (group["laptops"], group["people"], group["networks"]) == (50, 50, 5)
        assert len(group["members"]) == 50 and group["state"] == "open"
        assert group["failing"] == lp.SMTP_DOWN and group["headline"] == lp.HEADLINE
        assert len(group["reports"]) == 10 and {r["note"] for r in group["reports"]} == {f"note from {i}" for i in range(0, 50, 5)}
        assert note.headers["Idempotency-Key"] and note.headers["Content-Type"] == "application/json"
        # every tray reading the feed now sees the automatic incident
        feed = httpx.get(hub.url + "/feed.json", headers={"Authorization": f"Bearer {laptop}"}).json()
        [incident] = feed["incidents"]
        assert incident["status"] == "investigating" and "50 laptops" in incident["message"]
        assert group["incident"] == incident["id"]


@pytest.mark.slow
def test_two_serve_processes_on_one_postgresql_send_each_notification_once(start_hub, hub_tokens, pg_cluster):
    database = pg_cluster.new_database()
    with Receiver() as it_channel:
        notify = f'webhook_url = "{it_channel.url}"\n'
        first = start_hub(database=database, hub=HUB.replace("group_wait_s = 3", "group_wait_s = 2"), notify=notify)
        second = start_hub(database=database, hub=HUB.replace("group_wait_s = 3", "group_wait_s = 2"), notify=notify)
        laptop, admin = hub_tokens(database)
        codes = lp.burst([first.url, second.url], laptop, outage(50), workers=32)
        assert codes.count(201) == len(codes)
        wait_for(lambda: it_channel.requests, what="the first notification")
        # the all-clear, half through each process
        ok = [("state", lp.state(f"laptop-{i:03d}", "ok")) for i in range(50)]
        assert set(lp.burst([first.url, second.url], laptop, ok, workers=32)) == {201}
        wait_for(lambda: len(it_channel.requests) >= 2, what="the resolved notification")
        time.sleep(1.5)
        events = [r.json()["event"] for r in it_channel.requests]
        assert events == ["opened", "resolved"], events
        assert it_channel.requests[0].json()["group"]["laptops"] == 50
        keys = [r.headers["Idempotency-Key"] for r in it_channel.requests]
        assert len(set(keys)) == 2
        groups = httpx.get(second.url + "/api/v1/groups", headers={"Authorization": f"Bearer {admin}"}).json()["groups"]
        assert [g["state"] for g in groups] == ["resolved"]


class Collect:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"


def test_every_channel_hears_once_and_a_refusing_channel_is_retried_after_a_restart(start_hub, hub_tokens, tmp_path):
    smtp = Collect()
    port = free_port()
    relay = Controller(smtp, hostname="127.0.0.1", port=port)
    relay.start()
    with Receiver() as teams, Receiver() as slack, Receiver() as webhook:
        webhook.replies = [Reply(503, {"Retry-After": "1"}), Reply(200)]
        notify = (f'webhook_url = "{webhook.url}"\nteams_url = "{teams.url}"\nslack_url = "{slack.url}"\n'
                  f'email_to = "it@example.com"\nrelay = "127.0.0.1:{port}"\nrelay_tls = "none"\n'
                  f'email_from = "hub@example.com"\n')
        hub = start_hub(hub="group_wait_s = 1\ndetect_min_laptops = 100\n", notify=notify)
        laptop, _admin = hub_tokens()
        lp.burst([hub.url], laptop, outage(3))
        wait_for(lambda: teams.requests and slack.requests and smtp.envelopes and webhook.requests, what="all channels")
        hub.stop()  # the webhook refused (503): its notification waits in the database
        assert len(webhook.requests) == 1
        again = start_hub(config=hub.config)
        wait_for(lambda: len(webhook.requests) == 2, what="the retried webhook notification")
        assert webhook.requests[1].json()["event"] == "opened"
        assert webhook.requests[0].headers["Idempotency-Key"] == webhook.requests[1].headers["Idempotency-Key"]
        time.sleep(1)
        assert (len(teams.requests), len(slack.requests), len(smtp.envelopes)) == (1, 1, 1)
        card = teams.requests[0].json()["attachments"][0]["content"]
        text = str(card)
        assert "3 laptops, 3 people, 3 networks" in text and lp.HEADLINE in text and "/groups/" in text
        assert "smtp mail.example.com:587: timeout" in text
        blocks = slack.requests[0].json()
        assert "3 laptops" in blocks["text"] and blocks["blocks"][0]["type"] == "header"
        message = email.message_from_bytes(smtp.envelopes[0].content, policy=email.policy.default)
        assert message["To"] == "it@example.com" and "New outage" in message["Subject"]
        summary = message.get_body(("plain",)).get_content()
        assert "Affected: 3 laptops, 3 people, 3 networks" in summary and "note from 0" in summary
        assert again.proc.poll() is None
    relay.stop()
