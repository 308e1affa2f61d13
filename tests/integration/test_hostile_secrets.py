"""A canary secret fed to each output path never appears in any of them: standard output and
error of the real command line, the history database, the outbox (state, failed/*.reason.txt),
`outbox list`, `config show` and config errors. Proxies, feeds and receivers are real loopback
servers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.diagnosis.engine import diagnose
from app.history import History
from app.paths import user_paths
from tests.servers.receiver import Receiver, Reply
from tests.servers.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
CANARY = "Canary-Z9q4TQ"
BASE = """
[dns]
control_name = "localhost"
[check]
timeout_s = 2
"""


def cli(*args: str, config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "app", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=full)


def everything_written(home: Path) -> str:
    """Every byte MailBeacon left under its home, as text."""
    chunks = []
    for path in sorted(home.rglob("*")):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_proxy_password_without_scheme_or_encoding_stays_out_of_check_and_report(tmp_path, isolated_home):
    dead = free_port()  # the proxy is not there: the detail names it
    internet = free_port()
    config = tmp_path / "mb.toml"
    config.write_text(BASE + f'[network]\ninternet_url = "http://127.0.0.2:{internet}/generate_204"\n')
    for proxy in (f"user:{CANARY}@127.0.0.1:{dead}", f"http://user:p@ss/w#{CANARY}@127.0.0.1:{dead}"):
        env = {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
        check = cli("check", "--json", config=config, env=env)
        assert check.returncode in (0, 1, 2, 3, 4), check.stderr
        assert f"127.0.0.1:{dead}" in check.stdout  # the proxy is named, without its password
        assert CANARY not in check.stdout + check.stderr
        table = cli("check", config=config, env=env)
        assert CANARY not in table.stdout + table.stderr
        dry = cli("report", "--dry-run", config=config, env=env)
        assert dry.returncode == 0, dry.stderr
        assert f"127.0.0.1:{dead}" in dry.stdout and CANARY not in dry.stdout + dry.stderr
    assert CANARY not in everything_written(isolated_home)


def test_feed_url_credentials_stay_out_of_it_status_check_and_history(tmp_path, isolated_home, make_config):
    feed_url = f"http://reader:{CANARY}@127.0.0.1:{free_port()}/feed.json"
    text = BASE + f'[network]\ninternet_url = ""\n[feed]\nurl = "{feed_url}"\n'
    config = tmp_path / "mb.toml"
    config.write_text(text)
    check = cli("check", "--json", config=config)
    assert '"error"' in check.stdout and "feed" in check.stdout
    assert CANARY not in check.stdout + check.stderr
    assert CANARY not in cli("check", config=config).stdout

    cfg = make_config(text)
    diagnosis = diagnose(cfg)
    assert diagnosis.it_status and diagnosis.it_status["error"]
    assert CANARY not in diagnosis.it_status["error"]
    db = user_paths().history_db
    with History(db) as history:
        history.record(diagnosis, confirmed=True)
    rows = sqlite3.connect(db).execute("SELECT body FROM last_diagnosis").fetchall()
    assert rows and CANARY not in rows[0][0]
    assert CANARY not in everything_written(isolated_home)


def test_a_receiver_echoing_the_authorization_header_stores_and_prints_no_token(tmp_path, isolated_home):
    env = {"MAILBEACON_SECRET_REPORT_WEBHOOK_TOKEN": CANARY}
    with Receiver() as receiver:
        receiver.replies = [Reply(400, body=f"bad request; you sent Authorization: Bearer {CANARY}".encode())]
        config = tmp_path / "mb.toml"
        config.write_text(BASE + f'[network]\ninternet_url = ""\n[report]\nwebhook_url = "{receiver.url}"\n')
        report = cli("report", "--note", "hi", config=config, env=env)
        assert receiver.requests[0].headers["Authorization"] == f"Bearer {CANARY}"  # it was sent
    assert report.returncode == 1, report.stderr
    assert "Refused by webhook: HTTP 400" in report.stdout
    assert CANARY not in report.stdout + report.stderr
    reasons = list((isolated_home / "outbox" / "failed").glob("*.reason.txt"))
    assert reasons and "HTTP 400" in reasons[0].read_text()
    listing = cli("outbox", "list", config=config, env=env)
    as_json = cli("outbox", "list", "--json", config=config, env=env)
    assert "refused" in listing.stdout
    assert CANARY not in listing.stdout + listing.stderr + as_json.stdout
    # the report body itself (kept in failed/) carries no token either: nothing at all on disk
    assert CANARY not in everything_written(isolated_home)


def test_config_show_masks_webhook_teams_and_slack_urls(tmp_path):
    config = tmp_path / "mb.toml"
    config.write_text(
        "[report]\n"
        f'webhook_url = "https://it.example/hooks/{CANARY}"\n'
        f'teams_url = "https://corp.webhook.office.com/webhookb2/a@b/IncomingWebhook/{CANARY}/c"\n'
        f'slack_url = "https://hooks.slack.com/services/T0/B0/{CANARY}"\n'
        f'[feed]\nurl = "https://reader:{CANARY}@status.example/feed.json"\n'
    )
    for args in (["config", "show"], ["config", "show", "--json"]):
        shown = cli(*args, config=config)
        assert shown.returncode == 0, shown.stderr
        assert "https://hooks.slack.com/[redacted]" in shown.stdout
        assert "https://corp.webhook.office.com/[redacted]" in shown.stdout
        assert CANARY not in shown.stdout + shown.stderr


def test_config_errors_do_not_echo_secrets(tmp_path):
    config = tmp_path / "mb.toml"
    for body in (
        f'[report]\nwebhook_url = "ftp://it.example/hooks/{CANARY}"\n',
        f'[feed]\nurl = "gopher://reader:{CANARY}@status.example/"\n',
        f'[report]\nslack_url = 5\n[network]\ninternet_url = "ftp://u:{CANARY}@x/"\n',
    ):
        config.write_text(body)
        result = cli("config", "validate", config=config)
        assert result.returncode == 78
        assert "config error" in result.stderr
        assert CANARY not in result.stdout + result.stderr
    env_result = cli("check", config=tmp_path / "none.toml",
                     env={"MAILBEACON_FEED_URL": f"gopher://u:{CANARY}@h/"})
    assert env_result.returncode == 78 and CANARY not in env_result.stderr


def test_relay_login_in_clear_to_a_remote_relay_is_a_config_error(tmp_path, make_config):
    config = tmp_path / "mb.toml"
    config.write_text('[report]\nemail_to = "it@corp.example"\nrelay = "relay.corp.example:25"\n'
                      'relay_tls = "none"\nrelay_username = "laptop"\n')
    result = cli("config", "validate", config=config)
    assert result.returncode == 78
    assert "report.relay_tls" in result.stderr and "unencrypted" in result.stderr
    # on loopback (a local MTA, an SSH tunnel) the password never crosses the network
    for relay in ("localhost:25", "127.0.0.1:2525", "[::1]:25"):
        cfg = make_config(f'[report]\nrelay = "{relay}"\nrelay_tls = "none"\nrelay_username = "laptop"\n')
        assert cfg.report.relay == relay
    # without a login, plain SMTP to a relay is allowed (nothing secret crosses)
    make_config('[report]\nrelay = "relay.corp.example:25"\nrelay_tls = "none"\n')
