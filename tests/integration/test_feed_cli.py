"""IT's side end to end: `mailbeacon feed post` -> `check --json` shows it -> `feed resolve` ->
gone, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def mailbeacon(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBEACON_")}
    env["MAILBEACON_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True, text=True, timeout=30, env=env,
    )


def test_post_check_resolve_round_trip(tmp_path, isolated_home):
    share = tmp_path / "share"
    share.mkdir()
    path = share / "mailbeacon-feed.json"
    config = tmp_path / "laptop.toml"
    config.write_text(
        f'[network]\ninternet_url = ""\n[check]\ntimeout_s = 10\n[feed]\nurl = "{path.as_posix()}"\n',
        encoding="utf-8",
    )

    posted = mailbeacon("feed", "post", "--file", str(path), "--title", "Mail server disk full",
                        "--message", "We are freeing space.", "--next-update", "30m",
                        home=isolated_home)
    assert posted.returncode == 0, posted.stderr
    incident_id = posted.stdout.strip()
    assert incident_id.startswith("INC-") and "\n" not in incident_id

    check = mailbeacon("--config", str(config), "check", "--json", home=isolated_home)
    assert check.returncode == 4, check.stderr  # no endpoints: unknown, whatever the feed says
    it_status = json.loads(check.stdout)["it_status"]
    assert it_status["source"] == "native" and it_status["error"] is None
    [incident] = it_status["incidents"]
    assert incident["id"] == incident_id
    assert incident["title"] == "Mail server disk full"
    assert incident["status"] == "investigating"
    assert incident["next_update_at"].endswith("Z")

    updated = mailbeacon("feed", "update", "--file", str(path), "--id", incident_id,
                         "--status", "identified", "--message", "Old mailboxes are moving.",
                         home=isolated_home)
    assert updated.returncode == 0, updated.stderr
    it_status = json.loads(mailbeacon("--config", str(config), "check", "--json",
                                      home=isolated_home).stdout)["it_status"]
    assert (it_status["incidents"][0]["status"], it_status["incidents"][0]["message"]) == (
        "identified", "Old mailboxes are moving.")

    resolved = mailbeacon("feed", "resolve", "--file", str(path), "--id", incident_id,
                          home=isolated_home)
    assert resolved.returncode == 0, resolved.stderr
    it_status = json.loads(mailbeacon("--config", str(config), "check", "--json",
                                      home=isolated_home).stdout)["it_status"]
    assert it_status["incidents"] == [] and it_status["error"] is None


def test_cli_errors_are_one_line_and_exit_1(tmp_path, isolated_home):
    path = tmp_path / "feed.json"
    first = mailbeacon("feed", "post", "--file", str(path), "--title", "T", "--message", "M",
                       "--id", "INC-1", home=isolated_home)
    assert first.returncode == 0 and first.stdout == "INC-1\n"
    again = mailbeacon("feed", "post", "--file", str(path), "--title", "T", "--message", "M",
                       "--id", "INC-1", home=isolated_home)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    unknown = mailbeacon("feed", "resolve", "--file", str(path), "--id", "INC-2",
                         home=isolated_home)
    assert unknown.returncode == 1 and "no incident with id INC-2" in unknown.stderr
    bad_time = mailbeacon("feed", "update", "--file", str(path), "--id", "INC-1",
                          "--next-update", "tomorrowish", home=isolated_home)
    assert bad_time.returncode == 64 and "Traceback" not in bad_time.stderr
    assert json.loads(path.read_text(encoding="utf-8"))["incidents"][0]["next_update_at"] is None


def test_no_feed_configured_gives_null_it_status(tmp_path, isolated_home):
    config = tmp_path / "laptop.toml"
    config.write_text('[network]\ninternet_url = ""\n', encoding="utf-8")
    check = mailbeacon("--config", str(config), "check", "--json", home=isolated_home)
    assert json.loads(check.stdout)["it_status"] is None
