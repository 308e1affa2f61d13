"""The laptop's state push to a real HTTP receiver on loopback: what each answer means for the
monitor's retry (delivered, retry with Retry-After, refused for good), and that the event carries
the token and nothing secret. The end-to-end run against a real hub is in tests/hub."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from app import state_share
from app.laptop_id import laptop_id
from app.monitor import Transition
from tests.servers.receiver import Receiver, Reply
from tests.servers.smtp import free_port
from tests.unit.test_report_build import diag


def transition(verdict: str = "down") -> Transition:
    began = datetime.now(UTC) - timedelta(minutes=5)
    return Transition(previous="ok", current=verdict, diagnosis=diag(verdict=verdict),
                      previous_since=began, duration_s=300.0)


def hub_config(make_config, url: str):
    return make_config(f'[hub]\nurl = "{url}"\n[check]\ntimeout_s = 3\n')


def test_a_delivered_push_posts_the_spec_event_with_the_laptop_token(make_config, monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_HUB_TOKEN", "mbh_laptop-token-123")
    with Receiver() as rx:
        rx.replies = [Reply(201, body=b'{"ok": true}')]
        cfg = hub_config(make_config, f"http://127.0.0.1:{rx.port}/")
        t = transition()
        assert state_share.push_transition(cfg, t) == (True, None)
    [got] = rx.requests
    assert got.path == "/api/v1/state"
    assert got.headers["Authorization"] == "Bearer mbh_laptop-token-123"
    assert got.headers["Content-Type"] == "application/json"
    event = got.json()
    assert event["laptop"] == laptop_id() and event["verdict"] == "down"
    # `at` is when the new state began: the end of the previous one, not when it was sent
    assert event["at"] == state_share.transition_at(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert b"mbh_laptop-token-123" not in got.body


def test_an_overloaded_hub_is_retried_no_sooner_than_it_asks(make_config):
    with Receiver() as rx:
        rx.replies = [Reply(503, headers={"Retry-After": "42"}, body=b'{"error": "busy"}')]
        cfg = hub_config(make_config, f"http://127.0.0.1:{rx.port}")
        assert state_share.push_transition(cfg, transition()) == (False, 42.0)


def test_a_hub_that_is_not_there_is_retried(make_config):
    cfg = hub_config(make_config, f"http://127.0.0.1:{free_port()}")
    ok, retry_after = state_share.push_transition(cfg, transition())
    assert ok is False and retry_after is None


def test_a_refused_push_is_logged_and_not_retried(make_config, caplog):
    with Receiver() as rx:
        rx.replies = [Reply(401, body=json.dumps({"error": "no valid token"}).encode())]
        cfg = hub_config(make_config, f"http://127.0.0.1:{rx.port}")
        with caplog.at_level(logging.WARNING):
            assert state_share.push_transition(cfg, transition()) == (True, None)
    assert "hub.token" in caplog.text and "no valid token" in caplog.text


def test_a_redirect_is_not_followed_with_the_token(make_config, monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_HUB_TOKEN", "mbh_laptop-token-123")
    with Receiver() as elsewhere, Receiver() as rx:
        rx.replies = [Reply(307, headers={"Location": f"http://127.0.0.1:{elsewhere.port}/api/v1/state"})]
        cfg = hub_config(make_config, f"http://127.0.0.1:{rx.port}")
        answer = state_share.send(cfg, state_share.build_event(cfg, diag(), datetime.now(UTC), network=""))
    assert answer.outcome == "refused" and "redirect" in answer.reason
    assert elsewhere.requests == []


def test_no_pusher_without_a_hub_or_with_sharing_off(make_config):
    assert state_share.pusher(make_config("")) is None
    assert state_share.pusher(make_config('[hub]\nurl = "https://hub.example"\nshare_state = false\n')) is None
    assert callable(state_share.pusher(make_config('[hub]\nurl = "https://hub.example"\n')))
