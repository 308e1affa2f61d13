"""`mailbeacon demo` with its hub: a real hub process on loopback, the tray's config pointing at
it, the laptop token working, and IT's notification printed by the demo's webhook receiver."""

from __future__ import annotations

import io
import stat
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import config as config_mod
from app import state_share
from app.demo import Demo
from app.monitor import Transition
from tests.unit.test_report_build import diag

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path, monkeypatch):
    pytest.importorskip("aiosmtpd")
    d = Demo(tmp_path / "demo")
    d.start()
    for name, value in d.secrets.items():
        monkeypatch.setenv(name, value)
    yield d
    d.stop()


def test_the_demo_runs_a_hub_and_the_whole_loop_reaches_it(demo):
    assert demo.hub is not None, demo.hub_missing
    config = config_mod.load(demo.config_path, system_file=None, policy_file=None, env={}, registry=False)
    assert config.hub.url == demo.hub.url and config.feed.url == demo.hub.url + "/feed.json"
    assert "IT page" in demo.running and str(demo.hub.password_file) in demo.running["IT page"]
    for secret_file in (demo.hub.password_file, demo.hub.admin_token_file):
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert secret_file.read_text().strip() not in "\n".join(demo.running.values())

    demo.webhook.out = printed = io.StringIO()
    began = datetime.now(UTC) - timedelta(seconds=30)
    outage = Transition("ok", "down", diag(), began, 30.0)
    assert state_share.push_transition(config, outage) == (True, None)
    deadline = time.monotonic() + 20
    while "[IT notified by the hub]" not in printed.getvalue() and time.monotonic() < deadline:
        time.sleep(0.2)
    text = printed.getvalue()
    assert "[IT notified by the hub] new outage: 1 laptop(s)" in text, text


def test_without_the_hub_extra_the_demo_says_so_and_keeps_its_feed_file(tmp_path, monkeypatch):
    pytest.importorskip("aiosmtpd")
    import app.demo_hub as demo_hub

    monkeypatch.setattr(demo_hub, "available", lambda: "the hub needs the 'hub' extra: pip install 'mailbeacon[hub]'")
    d = Demo(tmp_path / "demo")
    d.start()
    try:
        assert d.hub is None and "pip install 'mailbeacon[hub]'" in d.running["hub"]
        config = config_mod.load(d.config_path, system_file=None, policy_file=None, env={}, registry=False)
        assert config.hub.url == "" and config.feed.url == str(d.feed_path)
    finally:
        d.stop()
