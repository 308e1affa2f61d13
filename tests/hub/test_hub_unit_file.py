"""packaging/hub/mailbeacon-hub.service: systemd accepts it, and what it runs is the real
`mailbeacon hub` command line, as an unprivileged user with private files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "hub" / "mailbeacon-hub.service"
INSTALLED = "/opt/mailbeacon-hub/bin/mailbeacon"


def entries(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_accepts_the_unit_without_a_warning(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    console = Path(sys.executable).with_name("mailbeacon")
    assert console.exists(), "the mailbeacon console script of this install"
    unit = tmp_path / "mailbeacon-hub.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(console)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_unit_runs_the_hub_as_its_own_user_with_private_files():
    e = entries(UNIT.read_text())
    assert e["User"] == ["mailbeacon-hub"] and e["UMask"] == ["0077"]
    assert e["ExecStart"] == [f"{INSTALLED} hub serve --config /etc/mailbeacon/hub.toml"]
    assert e["ExecStartPre"] == [f"{INSTALLED} hub migrate --config /etc/mailbeacon/hub.toml"]
    assert "MAILBEACON_HOME=/var/lib/mailbeacon-hub" in e["Environment"]
    assert e["StateDirectory"] == ["mailbeacon-hub"] and e["ReadWritePaths"] == ["/var/lib/mailbeacon-hub"]
    assert e["NoNewPrivileges"] == ["yes"] and e["ProtectSystem"] == ["strict"]


def test_the_command_lines_it_runs_exist(tmp_path):
    # the same subcommands and options, parsed by the real CLI (a typo would stop the service)
    from app.cli import build_parser

    parser = build_parser()
    for args in (["hub", "serve", "--config", "/etc/mailbeacon/hub.toml"],
                 ["hub", "migrate", "--config", "/etc/mailbeacon/hub.toml"]):
        parsed = parser.parse_args(args)
        assert parsed.command == "hub" and parsed.config == "/etc/mailbeacon/hub.toml"
