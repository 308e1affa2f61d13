"""The MSI built with wixl from the WiX source (the Linux bundle stands in for the Windows
payload), read back with msiinfo: properties, registry values, shortcut, upgrades, version."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from app import config as config_mod
from tests.packaging.conftest import ROOT, need

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

UPGRADE_CODE = "{8C3E5B71-4F2A-4D6E-9B1C-2A7F0E5D4C93}"
# public property -> the `section.key` registry value it writes
PROPERTIES = {
    "MAIL_DOMAIN": "mail.domain",
    "WEBMAIL_URL": "mail.webmail_url",
    "FEED_URL": "feed.url",
    "CHECK_INTERVAL_S": "check.interval_s",
    "REPORT_WEBHOOK_URL": "report.webhook_url",
    "REPORT_TEAMS_URL": "report.teams_url",
    "REPORT_SLACK_URL": "report.slack_url",
    "REPORT_EMAIL_TO": "report.email_to",
    "REPORT_RELAY": "report.relay",
    "ENDPOINTS": "endpoints",
}


def table(msi: Path, name: str) -> list[dict[str, str]]:
    text = subprocess.run(["msiinfo", "export", str(msi), name], check=True, capture_output=True,
                          text=True).stdout
    lines = text.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


@pytest.fixture(scope="module")
def msi(build, frozen_exe, tmp_path_factory) -> Path:
    need("wixl", "msiinfo", "msibuild")
    out = tmp_path_factory.mktemp("msi") / "MailBeacon.msi"
    return build.build_msi(payload=frozen_exe.parent, out=out)


def test_version_and_upgrade_code(msi, build):
    with (ROOT / "pyproject.toml").open("rb") as fh:
        version = tomllib.load(fh)["project"]["version"]
    props = {row["Property"]: row["Value"] for row in table(msi, "Property")}
    assert props["ProductVersion"] == build.msi_version(version)
    assert props["UpgradeCode"] == UPGRADE_CODE
    assert props["ALLUSERS"] == "1"  # per-machine
    summary = subprocess.run(["msiinfo", "suminfo", str(msi)], check=True, capture_output=True,
                             text=True).stdout
    assert "Template: x64;1033" in summary
    assert f"MailBeacon {build.msi_version(version)}" in summary


def test_major_upgrade_replaces_older_versions(msi):
    rows = table(msi, "Upgrade")
    assert {r["UpgradeCode"] for r in rows} == {UPGRADE_CODE}
    older = [r for r in rows if r["ActionProperty"] == "WIX_UPGRADE_DETECTED"]
    assert older and older[0]["VersionMin"] == ""  # every older version
    # and the same version rebuilt (re-signed, re-released): without VersionMaxInclusive (512)
    # it installs beside the first and Apps & features lists MailBeacon twice
    assert int(older[0]["Attributes"]) & 512
    sequence = {r["Action"] for r in table(msi, "InstallExecuteSequence")}
    assert {"FindRelatedProducts", "RemoveExistingProducts"} <= sequence


def test_public_properties_write_conditional_registry_values(msi):
    registry = table(msi, "Registry")
    components = {r["Component"]: r for r in table(msi, "Component")}
    secure = {r["Property"]: r["Value"] for r in table(msi, "Property")}["SecureCustomProperties"]
    for prop, name in PROPERTIES.items():
        rows = [r for r in registry if r["Name"] == name and r["Value"] == f"[{prop}]"]
        assert len(rows) == 1, (prop, name)
        row = rows[0]
        assert row["Root"] == "2" and row["Key"] == r"Software\MailBeacon"  # HKLM
        assert components[row["Component_"]]["Condition"] == prop  # only when set
        assert int(components[row["Component_"]]["Attributes"]) & 256  # 64-bit registry view
        assert prop in secure.split(";")
    for prop in ("SMTP_HOST", "IMAP_HOST", "SMTP_PORT", "IMAP_PORT", "AUTOSTART"):
        assert prop in secure.split(";")


def format_value(value: str, properties: dict[str, str]) -> str:
    """What Windows Installer writes: [PROPERTY] replaced by its value."""
    return re.sub(r"\[([A-Z_0-9]+)\]", lambda m: properties.get(m.group(1), ""), value)


def conditions_hold(condition: str, properties: dict[str, str]) -> bool:
    # the few shapes used here: NAME, NOT NAME, AND-ed together, NAME = "1"
    if "=" in condition:
        name, _, value = condition.partition("=")
        return properties.get(name.strip(), "") == value.strip().strip('"')
    for term in condition.split(" AND "):
        term = term.strip()
        negate = term.startswith("NOT ")
        if bool(properties.get(term.removeprefix("NOT ").strip())) == negate:
            return False
    return True


def installed_values(msi: Path, properties: dict[str, str]) -> dict[str, str]:
    components = {r["Component"]: r["Condition"] for r in table(msi, "Component")}
    return {
        r["Name"]: format_value(r["Value"], properties)
        for r in table(msi, "Registry")
        if r["Key"] == r"Software\MailBeacon" and conditions_hold(components[r["Component_"]], properties)
    }


def test_silent_install_values_are_read_by_the_config_loader(msi, monkeypatch):
    defaults = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    command_line = {
        "MAIL_DOMAIN": "example.com", "SMTP_HOST": "smtp.example.com", "IMAP_HOST": "imap.example.com",
        "REPORT_WEBHOOK_URL": "https://it.example.com/hook", "FEED_URL": "https://status.example.com/feed.json",
        "CHECK_INTERVAL_S": "90",
    }
    values = installed_values(msi, {**defaults, **command_line})
    assert values["endpoints"] == "smtp://smtp.example.com:587 imaps://imap.example.com:993"
    assert "report.teams_url" not in values  # not given, not written

    monkeypatch.setattr(config_mod, "read_windows_registry",
                        lambda key: values if key == r"Software\MailBeacon" else {})
    cfg = config_mod.load(user_file=None, system_file=None, policy_file=None, env={},
                          registry=True, platform="win32")
    assert cfg.mail_domain == "example.com"
    assert cfg.check.interval_s == 90
    assert cfg.report.webhook_url == "https://it.example.com/hook"
    assert [(e.kind, e.host, e.port, e.tls) for e in cfg.endpoints] == [
        ("smtp", "smtp.example.com", 587, "starttls"), ("imap", "imap.example.com", 993, "implicit")]
    assert cfg.sources["mail.domain"].startswith("registry HKLM")


def test_endpoints_property_wins_and_one_host_alone_works(msi):
    defaults = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    raw = installed_values(msi, {**defaults, "ENDPOINTS": "smtps://a.example tcp://b.example:25",
                                 "SMTP_HOST": "ignored.example"})
    assert raw["endpoints"] == "smtps://a.example tcp://b.example:25"
    smtp_only = installed_values(msi, {**defaults, "SMTP_HOST": "smtp.example.com", "SMTP_PORT": "25"})
    assert smtp_only["endpoints"] == "smtp://smtp.example.com:25"
    assert "endpoints" not in installed_values(msi, defaults)


def test_shortcut_program_files_and_autostart(msi, frozen_exe):
    files = table(msi, "File")
    exe = [f for f in files if f["FileName"].endswith("MailBeacon.exe")]
    assert len(exe) == 1 and exe[0]["Component_"] == "MainExecutable"
    payload = [p for p in frozen_exe.parent.rglob("*") if p.is_file()]
    assert len(files) == len(payload)
    directories = {d["Directory"]: d for d in table(msi, "Directory")}
    assert directories["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert directories["INSTALLDIR"]["DefaultDir"].endswith("MailBeacon")
    shortcut, = table(msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuFolder" and shortcut["Name"].endswith("MailBeacon")
    assert shortcut["Target"] == "[INSTALLDIR]MailBeacon.exe"
    run = [r for r in table(msi, "Registry") if r["Key"].endswith(r"CurrentVersion\Run")]
    assert len(run) == 1 and run[0]["Root"] == "2"
    components = {r["Component"]: r["Condition"] for r in table(msi, "Component")}
    assert components[run[0]["Component_"]] == 'AUTOSTART = "1"'
    # uninstall takes only what the MSI installed: nothing touches users' folders
    assert table(msi, "RemoveFile") == []
