"""Hostile files: JSON or TOML nested past the parser's stack (an outbox report, its state file,
a feed file, the config) and feed times past year 9999 give clear errors, quarantine what is
corrupt and let the rest go on; never RecursionError, OverflowError or exit 70."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import feed
from app.report.outbox import Outbox
from tests.servers.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"incidents": ' + "[" * 100_000 + "]" * 100_000 + ', "schema": 1}'
BASE = '[network]\ninternet_url = ""\n[dns]\ncontrol_name = "localhost"\n[check]\ntimeout_s = 8\n'


def cli(*args: str, config: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    extra = ["--config", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "app", *args, *extra], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=dict(os.environ, **(env or {})))


def test_a_deeply_nested_outbox_file_is_quarantined_and_the_rest_is_sent(tmp_path, isolated_home):
    outbox = Outbox(isolated_home / "outbox")
    outbox.save({"id": "good", "schema": 1, "diagnosis": {"headline": "Mail is down"}}, ["webhook"])
    outbox.save({"id": "badstate", "schema": 1}, ["webhook"])
    (isolated_home / "outbox" / "badstate.state").write_text(DEEP_JSON)
    (isolated_home / "outbox" / "deep.json").write_text(DEEP_JSON)
    os.utime(isolated_home / "outbox" / "deep.json", (time.time() - 60, time.time() - 60))  # oldest first
    with Receiver() as receiver:
        config = tmp_path / "mb.toml"
        config.write_text(BASE + f'[report]\nwebhook_url = "{receiver.url}"\n')
        listed = cli("outbox", "list", config=config)
        assert listed.returncode == 0, listed.stderr
        assert "deep" in listed.stdout and "unreadable" in listed.stdout and "good" in listed.stdout
        flushed = cli("outbox", "flush", config=config)
        sent = {r.json()["id"] for r in receiver.requests}
    assert flushed.returncode == 1, flushed.stderr  # the corrupt one counts as refused
    assert "Traceback" not in flushed.stderr and "unexpected error" not in flushed.stderr
    assert sent == {"good", "badstate"}  # an unreadable state means "retry every channel"
    failed = isolated_home / "outbox" / "failed"
    assert (failed / "deep.json").read_text() == DEEP_JSON  # kept, never deleted
    assert "unreadable" in (failed / "deep.reason.txt").read_text()
    assert not list((isolated_home / "outbox").glob("*.json"))
    again = cli("outbox", "list", "--json", config=config)
    assert again.returncode == 0 and json.loads(again.stdout)["failed"][0]["id"] == "deep"


def test_feed_post_on_a_deeply_nested_feed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "status.json"
    path.write_text(DEEP_OBJECT)
    result = cli("feed", "post", "--file", str(path), "--title", "Mail down", "--message", "x")
    assert result.returncode == 1, result.stderr
    assert "is not valid JSON" in result.stderr and "unexpected" not in result.stderr
    assert path.read_text() == DEEP_OBJECT


def test_a_deeply_nested_config_is_a_config_error(tmp_path):
    config = tmp_path / "mb.toml"
    config.write_text("[dns]\nnameservers = " + "[" * 100_000 + "]" * 100_000 + "\n")
    for args in (["config", "validate"], ["check"], ["report", "--dry-run"], ["outbox", "flush"]):
        result = cli(*args, config=config)
        assert result.returncode == 78, (args, result.stderr)
        assert "config error" in result.stderr and "nested too deeply" in result.stderr


def test_check_survives_a_deeply_nested_feed(tmp_path):
    status = tmp_path / "status.json"
    status.write_text(DEEP_OBJECT)
    config = tmp_path / "mb.toml"
    config.write_text(BASE + f'[feed]\nurl = "{status}"\n')
    result = cli("check", "--json", config=config)
    assert result.returncode == 4, result.stderr  # no endpoint: unknown, the feed changes nothing
    it_status = json.loads(result.stdout)["it_status"]
    assert "not valid JSON" in it_status["error"]


FAR_FUTURE = {
    "schema": 1,
    "updated_at": "2026-01-01T00:00:00Z",
    "incidents": [
        {"id": "A", "title": "Far future next update", "status": "investigating", "message": "m",
         "updated_at": "9999-12-31T23:00:00Z", "next_update_at": "9999-12-31T23:59:59Z", "affects": ["mail"]},
        {"id": "B", "title": "Past the end of time in UTC", "status": "identified", "message": "n",
         "updated_at": "9999-12-31T23:00:00-05:00", "next_update_at": "9999-12-31T22:00:00-08:00"},
    ],
}


@pytest.fixture
def east_of_utc(time_zone):
    time_zone("Asia/Tokyo")


def test_out_of_range_feed_dates_neither_raise_nor_hide_the_incident(tmp_path, east_of_utc):
    path = tmp_path / "status.json"
    path.write_text(json.dumps(FAR_FUTURE))
    it_status = feed.FeedReader(str(path)).read(3)
    assert it_status["error"] is None
    assert [i["id"] for i in it_status["incidents"]] == ["A", "B"]
    line = feed.status_line(it_status)
    assert "Far future next update" in line
    details = feed.incident_lines(it_status)
    assert any("Far future" in d for d in details) and any("Past the end of time" in d for d in details)
    events = feed.IncidentTracker().update(it_status)
    assert {e.incident["id"] for e in events} == {"A", "B"}
    config = tmp_path / "mb.toml"
    config.write_text(BASE + f'[feed]\nurl = "{path}"\n')
    table = cli("check", config=config, env={"TZ": "Asia/Tokyo"})
    assert table.returncode == 4, table.stderr
    assert "Far future next update" in table.stdout and "Past the end of time" in table.stdout
