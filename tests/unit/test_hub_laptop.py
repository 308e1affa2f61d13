"""The laptop's side of the hub: [hub] keys, the feed default, the laptop id, the hub channel
and the state event (SPEC 2, 5, 8)."""

from __future__ import annotations

import getpass
import hashlib
import os
import stat
import threading

import pytest

from app import state_share
from app.errors import ConfigError
from app.laptop_id import laptop_id
from app.paths import user_paths
from app.report import build
from app.report.channels import configured
from app.report.channels.hub import HubChannel
from app.report.channels.webhook import signature
from tests.unit.test_report_build import diag

HUB = """
[hub]
url = "https://hub.corp.example/"
"""


def test_hub_url_gives_the_feed_default_and_says_where_it_came_from(make_config):
    cfg = make_config(HUB)
    assert cfg.hub.url == "https://hub.corp.example/" and cfg.hub.share_state is True
    assert cfg.feed.url == "https://hub.corp.example/feed.json"
    assert cfg.sources["feed.url"].startswith("hub.url (")


def test_an_explicit_feed_wins_over_the_hub(make_config):
    cfg = make_config(HUB + '[feed]\nurl = "https://status.corp.example/feed.json"\n')
    assert cfg.feed.url == "https://status.corp.example/feed.json"


def test_no_hub_no_feed(make_config):
    cfg = make_config("")
    assert cfg.hub.url == "" and cfg.feed.url == ""


@pytest.mark.parametrize("bad", ["ftp://hub", "hub.corp.example", "https://hub/?x=1", "https://hub/#top"])
def test_a_bad_hub_url_is_a_config_error_naming_the_key(make_config, bad):
    with pytest.raises(ConfigError) as err:
        make_config(f'[hub]\nurl = "{bad}"\n')
    assert err.value.key == "hub.url" and err.value.line == 2


def test_hub_keys_from_the_environment(make_config):
    cfg = make_config("", env={"MAILBEACON_HUB_URL": "http://127.0.0.1:8425", "MAILBEACON_HUB_SHARE_STATE": "false"})
    assert cfg.hub.share_state is False and cfg.feed.url == "http://127.0.0.1:8425/feed.json"
    assert not state_share.enabled(cfg)


# ---------------------------------------------------------------- the laptop id


def test_laptop_id_is_random_private_and_kept():
    path = user_paths().laptop_id
    first = laptop_id()
    assert len(first) == 32 and int(first, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert laptop_id() == first == path.read_text().strip()


def test_a_broken_laptop_id_file_is_replaced(tmp_path):
    path = tmp_path / "laptop-id"
    path.write_text("not an id\n")
    value = laptop_id(path)
    assert value != "not an id" and path.read_text().strip() == value


def test_two_creators_at_once_agree_on_one_id(tmp_path):
    path = tmp_path / "sub" / "laptop-id"
    results: list[str] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        results.append(laptop_id(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0] == path.read_text().strip()
    assert [p.name for p in path.parent.iterdir()] == ["laptop-id"]  # no temp file left behind


def test_every_report_carries_the_laptop_id(make_config):
    report = build.build_report(make_config(""), diag())
    assert report["reporter"]["laptop"] == laptop_id()


# ---------------------------------------------------------------- the hub channel


def test_the_hub_is_a_channel_beside_the_configured_ones(make_config):
    cfg = make_config(HUB + '[report]\nwebhook_url = "https://it.corp.example/hook"\n')
    channels = configured(cfg)
    assert list(channels) == ["webhook", "hub"]
    assert channels["hub"].url == "https://hub.corp.example/api/v1/reports"


def test_hub_headers_carry_the_hub_token_and_never_the_webhook_secrets(make_config, monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_HUB_TOKEN", "hub-laptop-token")
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN", "webhook-token")
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_WEBHOOK_SECRET", "hmac-key")
    cfg = make_config(HUB)
    report = build.build_report(cfg, diag())
    body = build.body_bytes(report)
    headers = HubChannel(cfg).headers(report, body)
    assert headers["Authorization"] == "Bearer hub-laptop-token"
    assert headers["Idempotency-Key"] == report["id"]
    assert "X-MailBeacon-Signature" not in headers
    assert b"hub-laptop-token" not in body and signature(body, "hmac-key") not in headers.values()


# ---------------------------------------------------------------- the state event


def test_network_id_is_the_spec_hash_and_ignores_dns_order():
    expected = hashlib.sha256(b"192.168.1.1|10.0.0.53,9.9.9.9").hexdigest()[:12]
    assert state_share.network_id("192.168.1.1", ["9.9.9.9", "10.0.0.53"]) == expected
    assert state_share.network_id("192.168.1.1", ["10.0.0.53", "9.9.9.9"]) == expected
    assert state_share.network_id("192.168.1.2", ["10.0.0.53", "9.9.9.9"]) != expected
    assert state_share.network_id(None, []) == ""
    assert state_share.network_id(None, ["10.0.0.53"]) == hashlib.sha256(b"|10.0.0.53").hexdigest()[:12]


def test_state_event_has_the_spec_shape(make_config):
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC) - timedelta(seconds=7)
    event = state_share.build_event(make_config(""), diag(), at, network="abcdef012345")
    assert set(event) == {"schema", "laptop", "at", "verdict", "layer", "headline", "failing",
                          "network", "app_version", "username"}
    assert event["laptop"] == laptop_id() and event["network"] == "abcdef012345"
    assert event["verdict"] == "down" and event["username"] == getpass.getuser()
    assert event["failing"] == [{"kind": "smtp", "target": "192.0.2.15:587", "code": "tcp_refused"}]
    from app.jsonio import parse_iso

    assert abs((parse_iso(event["at"]) - at).total_seconds()) < 0.001 and event["at"].endswith("Z")


def test_state_event_leaves_the_user_out_when_reports_do(make_config):
    cfg = make_config("[report]\ninclude_username = false\n")
    user = getpass.getuser()
    d = diag(headline=f"Mail for {user} is not answering.")
    from datetime import UTC, datetime

    event = state_share.build_event(cfg, d, datetime.now(UTC), network="")
    assert "username" not in event
    assert user not in event["headline"] or len(user) < 2


def test_state_event_never_carries_a_secret(make_config, monkeypatch):
    monkeypatch.setenv("MAILBEACON_SECRET_HUB_TOKEN", "s3cret-hub-token-value")
    from datetime import UTC, datetime

    d = diag(headline="Proxy said s3cret-hub-token-value")
    event = state_share.build_event(make_config(HUB), d, datetime.now(UTC), network="")
    assert "s3cret-hub-token-value" not in repr(event)


def test_state_event_masks_a_secret_this_process_read_from_the_keyring(make_config):
    from app.report import redact

    redact.register_secret("kr-hub-token-0042")  # what get_secret does with a keyring value
    try:
        d = diag(headline="Proxy said kr-hub-token-0042")
        event = state_share.build_event(make_config(HUB), d, datetime_now(), network="")
    finally:
        redact.forget_registered()
    assert "kr-hub-token-0042" not in repr(event)


def test_building_a_state_event_does_not_open_the_keyring(tmp_path):
    """The tray pushes state after its first check: reading every keyring secret for that
    loaded keyring, secretstorage and cryptography into every tray (about 4 MB)."""
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text(HUB)
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from app import state_share\n"
        "from app.config import load\n"
        "from tests.unit.test_report_build import diag\n"
        f"cfg = load({str(cfg)!r}, system_file=None, policy_file=None, registry=False)\n"
        "event = state_share.build_event(cfg, diag(), datetime.now(UTC), network='')\n"
        "assert event['verdict'], event\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keyring', 'secretstorage')))\n"
    )
    env = dict(os.environ, MAILBEACON_HOME=str(tmp_path / "home"), MAILBEACON_SECRET_HUB_TOKEN="t0ken-value")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def datetime_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_current_network_is_computed_from_this_machine():
    value = state_share.current_network()
    assert value == "" or (len(value) == 12 and int(value, 16) >= 0)
    assert os.path.exists("/proc/net/route") or value == ""
