"""`mailbeacon discover` as people and scripts use it, `--save` into the user config, and
`check` discovering first (with the cache in <data>/discovery.json) against loopback servers."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app import config as config_mod
from app.diagnosis import engine
from app.discovery import Discovery, save
from app.discovery import cache as discovery_cache
from app.errors import WriteError
from app.jsonio import iso_utc, utc_now
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.mailworld import fixture, world  # noqa: F401  (fixture)
from tests.servers.smtp import SMTPServer

AUTOCONFIG = "/mail/config-v1.1.xml"


def run_cli(*args: str, home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"MAILBEACON_HOME": str(home), "PATH": "/usr/bin:/bin", "NO_PROXY": "*", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env=env, timeout=60, cwd=Path(__file__).resolve().parents[2])


@pytest.fixture
def corp(world):  # noqa: F811
    host = world.host("autoconfig.corp.example")
    host.https.route(AUTOCONFIG, status=200, body=fixture("autoconfig_corp.xml"))
    return world


def _config_file(tmp_path: Path, world, extra: str = "") -> Path:  # noqa: F811
    path = tmp_path / "mailbeacon.toml"
    path.write_text("# my own settings, kept\n" + world.config_text(extra), encoding="utf-8")
    return path


def test_discover_json_and_table(corp, tmp_path):
    cfg = _config_file(tmp_path, corp)
    proc = run_cli("discover", "jane@corp.example", "--json", "--config", str(cfg), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == "autoconfig" and doc["address"] == "jane@corp.example"
    assert [e["kind"] for e in doc["endpoints"]] == ["smtp", "imap", "pop3"]
    table = run_cli("discover", "jane@corp.example", "--config", str(cfg), home=tmp_path)
    assert table.returncode == 0
    assert "through autoconfig" in table.stdout
    assert "smtp.corp.example:587" in table.stdout and "starttls" in table.stdout
    assert "Tried:" in table.stdout and "found" in table.stdout


def test_discover_exit_codes(world, tmp_path):  # noqa: F811
    cfg = _config_file(tmp_path, world)
    none = run_cli("discover", "jane@nowhere.example", "--config", str(cfg), home=tmp_path)
    assert none.returncode == 1 and "No mail servers were found" in none.stdout
    bad = run_cli("discover", "jane at corp", "--config", str(cfg), home=tmp_path)
    assert bad.returncode == 64 and bad.stdout == "" and "Traceback" not in bad.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[check]\ntimeout_s = 'soon'\n")
    assert run_cli("discover", "jane@corp.example", "--config", str(broken), home=tmp_path).returncode == 78


def test_save_writes_the_user_config_privately_and_keeps_the_rest(corp, tmp_path):
    cfg = _config_file(tmp_path, corp)
    for _ in range(2):  # a second save replaces the endpoints instead of adding more
        proc = run_cli("discover", "jane@corp.example", "--save", "--config", str(cfg), home=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert f"Saved to {cfg}" in proc.stderr
    text = cfg.read_text()
    assert text.startswith("# my own settings, kept\n")
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    loaded = config_mod.load(cfg, system_file=None, policy_file=None, env={}, registry=False)
    assert loaded.mail.address == "jane@corp.example"
    assert loaded.mail.webmail_url == "https://webmail.corp.example/"
    assert [e.id for e in loaded.endpoints] == [
        "smtp smtp.corp.example:587", "imap imap.corp.example:993", "pop3 pop.corp.example:995"]
    assert text.count("[[endpoints]]") == 3 and text.count("found by `mailbeacon discover`") == 1
    assert loaded.check.timeout_s == 5  # what was there stays


def test_save_never_writes_over_policy(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[[endpoints]]\nkind = "smtp"\nhost = "relay.corp.example"\nport = 587\n')
    user = tmp_path / "user.toml"
    cfg = config_mod.load(user_file=user, system_file=None, policy_file=policy, env={}, registry=False)
    result = Discovery("jane@corp.example", "corp.example", "srv",
                       [{"kind": "imap", "host": "imap.corp.example", "port": 993, "tls": "implicit", "name": "Incoming mail"}])
    assert save(result, cfg, path=user) == user
    reread = config_mod.load(user_file=user, system_file=None, policy_file=policy, env={}, registry=False)
    assert reread.mail.address == "jane@corp.example"
    assert [e.host for e in reread.endpoints] == ["relay.corp.example"]
    assert "[[endpoints]]" not in user.read_text()


def test_save_into_an_unwritable_place_exits_73(corp, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_cli("discover", "jane@corp.example", "--save", home=blocker / "home",
                   extra_env={"MAILBEACON_DNS_NAMESERVERS": corp.dns.nameserver,
                              "MAILBEACON_TLS_CA_FILE": str(corp.certs.ca_pem)})
    assert proc.returncode == 73, proc.stderr
    assert proc.stderr.startswith("mailbeacon: cannot write the configuration") and "Traceback" not in proc.stderr
    with pytest.raises(WriteError):
        save(Discovery("a@b.example", "b.example", "srv",
                       [{"kind": "smtp", "host": "s.b.example", "port": 587, "tls": "starttls"}]),
             config_mod.defaults(), path=blocker / "x" / "m.toml")


# ---- check discovers first


@pytest.fixture
def smtp_for(certs):  # noqa: F811
    """An SMTP server (STARTTLS) with a certificate for smtp.corp.example."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certs.ca.issue_cert("smtp.corp.example").configure_cert(ctx)
    with SMTPServer("starttls", ctx) as server:
        yield server


def _srv_world(world, port: int) -> None:  # noqa: F811
    world.dns.add("smtp.corp.example", "127.0.0.1")
    world.zone(f"_submission._tcp.corp.example. 60 IN SRV 0 1 {port} smtp.corp.example.")


def _srv_asks(world) -> int:  # noqa: F811
    return sum(1 for name, kind in world.dns.queries if kind == "SRV" and name.startswith("_submission."))


@pytest.mark.parametrize("mail", ['address = "jane@corp.example"', 'domain = "corp.example"'])
def test_check_discovers_first_and_caches_for_a_day(world, smtp_for, tmp_path, mail):  # noqa: F811
    _srv_world(world, smtp_for.port)
    cfg = _config_file(tmp_path, world, f'[network]\ninternet_url = ""\n[mail]\n{mail}\n')
    proc = run_cli("check", "--json", "--config", str(cfg), home=tmp_path / "home")
    doc = json.loads(proc.stdout)
    assert doc["discovery"]["source"] == "srv" and doc["discovery"]["at"].endswith("Z")
    smtp = [c for c in doc["checks"] if c["kind"] == "smtp"]
    assert [c["code"] for c in smtp] == ["ok"], smtp
    cached = tmp_path / "home" / "discovery.json"
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    asks = _srv_asks(world)
    again = json.loads(run_cli("check", "--json", "--config", str(cfg), home=tmp_path / "home").stdout)
    assert _srv_asks(world) == asks  # from the cache
    assert again["discovery"] == doc["discovery"]
    table = run_cli("check", "--config", str(cfg), home=tmp_path / "home").stdout
    assert f"servers: found by discovery (srv) at {doc['discovery']['at']}" in table
    entry = json.loads(cached.read_text())
    entry["at"] = iso_utc(utc_now() - timedelta(hours=25))
    cached.write_text(json.dumps(entry))
    run_cli("check", "--json", "--config", str(cfg), home=tmp_path / "home")
    assert _srv_asks(world) > asks  # a day old: discovered again


def test_a_failed_check_refreshes_the_cache_sooner(world, certs, make_config, isolated_home):  # noqa: F811
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certs.ca.issue_cert("smtp.corp.example").configure_cert(ctx)
    server = SMTPServer("starttls", ctx)
    _srv_world(world, server.port)  # nothing listens yet: the check fails
    cfg = world.config(make_config, '[network]\ninternet_url = ""\n[mail]\naddress = "jane@corp.example"\n')
    failed = engine.diagnose(cfg)
    assert failed.discovery["source"] == "srv" and failed.verdict != "ok"
    path = discovery_cache.cache_path()
    entry = json.loads(path.read_text())
    assert entry["failed_at"]
    asks = _srv_asks(world)
    engine.diagnose(cfg)
    assert _srv_asks(world) == asks  # not on every check...
    entry["at"] = iso_utc(utc_now() - timedelta(minutes=20))
    path.write_text(json.dumps(entry))
    with server:
        good = engine.diagnose(cfg)
    assert _srv_asks(world) > asks  # ...but well before a day
    assert good.verdict == "ok", [(c.id, c.code) for c in good.checks]
    assert json.loads(path.read_text())["failed_at"] is None


def test_configured_endpoints_need_no_discovery(world, make_config, isolated_home):  # noqa: F811
    cfg = world.config(make_config, '[network]\ninternet_url = ""\n[mail]\naddress = "jane@corp.example"\n'
                       '[[endpoints]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = 9\n')
    diagnosis = engine.diagnose(cfg)
    assert diagnosis.discovery is None and "discovery" not in diagnosis.to_json()
    assert world.dns.queries == [] or all(kind in ("A", "AAAA") for _, kind in world.dns.queries)
    assert not os.path.exists(discovery_cache.cache_path())


def test_an_address_discovery_cannot_use_gives_an_honest_unknown(make_config, isolated_home):
    cfg = make_config('[network]\ninternet_url = ""\n[mail]\naddress = "jo@mail_server!.example"\n')
    diagnosis = engine.diagnose(cfg)
    assert diagnosis.verdict == "unknown"
    assert diagnosis.discovery["source"] == "none"
