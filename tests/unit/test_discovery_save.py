"""`discover --save` edits the user's own file: it keeps what is there (comments, other
sections), replaces endpoints saved before, and refuses to write what would not read back."""

from __future__ import annotations

import stat

import pytest

from app import config as config_mod
from app.discovery import Discovery, save
from app.errors import ConfigError

FOUND = Discovery(
    "jane@corp.example", "corp.example", "srv",
    [{"kind": "smtp", "host": "smtp.corp.example", "port": 587, "tls": "starttls", "name": "Outgoing mail"},
     {"kind": "https", "host": "mail.corp.example", "port": 443, "tls": "implicit", "name": "Webmail",
      "url": "https://mail.corp.example/owa/"}],
    "https://mail.corp.example/owa/",
)

BEFORE = """\
# written by hand: keep me
[mail]
domain = "corp.example"   # the MSI set this once

[[endpoints]]
kind = "imap"
host = "old.corp.example"
port = 993
tls = "implicit"

[check]
interval_s = 30
"""


def _load(path):
    return config_mod.load(path, system_file=None, policy_file=None, env={}, registry=False)


def test_save_keeps_the_rest_and_replaces_old_endpoints(tmp_path):
    path = tmp_path / "mailbeacon.toml"
    path.write_text(BEFORE)
    save(FOUND, config_mod.defaults(), path=path)
    text = path.read_text()
    assert "# written by hand: keep me" in text and "# the MSI set this once" in text
    assert "old.corp.example" not in text
    cfg = _load(path)
    assert cfg.check.interval_s == 30 and cfg.mail.domain == "corp.example"
    assert cfg.mail.address == "jane@corp.example" and cfg.mail.webmail_url == "https://mail.corp.example/owa/"
    assert [(e.kind, e.host, e.url) for e in cfg.endpoints] == [
        ("smtp", "smtp.corp.example", ""), ("https", "mail.corp.example", "https://mail.corp.example/owa/")]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_into_a_new_file(tmp_path):
    path = tmp_path / "sub" / "mailbeacon.toml"
    assert save(FOUND, config_mod.defaults(), path=path) == path
    assert _load(path).mail.address == "jane@corp.example"


def test_a_file_that_is_not_toml_is_left_alone(tmp_path):
    path = tmp_path / "mailbeacon.toml"
    path.write_text("this is = = not toml\n")
    with pytest.raises(ConfigError):
        save(FOUND, config_mod.defaults(), path=path)
    assert path.read_text() == "this is = = not toml\n"


def test_save_goes_to_the_file_the_config_was_read_from(tmp_path, monkeypatch):
    """A tray started with --config re-reads that file after the set-up window saves, so the
    found servers must land there, not in the default user file."""
    home = tmp_path / "home"
    monkeypatch.setenv("MAILBEACON_HOME", str(home))
    given = tmp_path / "given.toml"
    given.write_text(BEFORE)
    cfg = _load(given)
    assert cfg.user_file == str(given)
    assert save(FOUND, cfg) == given
    assert _load(given).mail.address == "jane@corp.example"
    assert not list(home.rglob("mailbeacon.toml"))
