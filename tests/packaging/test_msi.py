"""The MSI built with wixl from the WiX source (the Linux bundle stands in for the Windows
payload), read back with msiinfo: properties, registry values, shortcut, upgrades, version."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from app import config as config_mod
from tests.packaging.conftest import ROOT, load_build_module, need

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


# one table of an MSI as rows of {column: value}, read with msiinfo (as build.py reads it)
table = load_build_module().wixl.msi_table


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
        condition = components[row["Component_"]]["Condition"]
        if prop == "ENDPOINTS":  # only when set, and given way to hosts on the command line
            assert condition.startswith("ENDPOINTS AND ") and "CMDLINE_ENDPOINTS" in condition
        else:
            assert condition == prop  # only when set
        assert int(components[row["Component_"]]["Attributes"]) & 256  # 64-bit registry view
        assert prop in secure.split(";")
    for prop in ("SMTP_HOST", "IMAP_HOST", "SMTP_PORT", "IMAP_PORT", "AUTOSTART"):
        assert prop in secure.split(";")


def format_value(value: str, properties: dict[str, str]) -> str:
    """What Windows Installer writes: [PROPERTY] replaced by its value."""
    return re.sub(r"\[([A-Z_0-9]+)\]", lambda m: properties.get(m.group(1), ""), value)


_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|<>|=|[A-Za-z_][A-Za-z0-9_.]*)')


def conditions_hold(condition: str, properties: dict[str, str]) -> bool:
    """A Windows Installer condition (names, "strings", =, <>, NOT, AND, OR, parentheses), the
    way msiexec reads it: a name stands for its value, true when not empty; no condition is true."""
    if not condition.strip():
        return True
    words = {"AND": "and", "OR": "or", "NOT": "not", "=": "==", "<>": "!=", "(": "(", ")": ")"}
    python, pos = [], 0
    while pos < len(condition.rstrip()):
        match = _TOKEN.match(condition, pos)
        assert match, f"cannot read condition {condition!r} at {pos}"
        token, pos = match.group(1), match.end()
        if token in words:
            python.append(words[token])
        elif token.startswith('"'):
            python.append(repr(token[1:-1]))
        else:
            python.append(repr(properties.get(token, "")))
    return bool(eval(" ".join(python), {"__builtins__": {}}))  # noqa: S307 (our own tokens only)


def installed_values(msi: Path, properties: dict[str, str]) -> dict[str, str]:
    """The `section.key` values a first install with these properties writes (see install())."""
    return {name: value for (key, name), value in install(msi, properties, {}, ui=False).items()
            if key == r"Software\MailBeacon"}


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


# ---------------------------------------------------------------- upgrades keep the settings

RUN_KEY = (r"Software\Microsoft\Windows\CurrentVersion\Run", "MailBeacon")
REMEMBERED = {**PROPERTIES, "AUTOSTART": None}  # AUTOSTART: by a value beside the Run key


def written(msi: Path, properties: dict[str, str]) -> dict[tuple[str, str], str]:
    """{(HKLM key, value name): data} of every registry value the install writes."""
    components = {r["Component"]: r["Condition"] for r in table(msi, "Component")}
    return {
        (r["Key"], r["Name"]): format_value(r["Value"], properties)
        for r in table(msi, "Registry")
        if r["Root"] == "2" and conditions_hold(components[r["Component_"]], properties)
    }


def run_sequence(msi: Path, name: str, properties: dict[str, str],
                 registry: dict[tuple[str, str], str], ran: set[str]) -> None:
    """What msiexec does with the actions that decide property values: AppSearch reads the
    registry through RegLocator; a type 51 custom action sets a property (to nothing: removes
    it), and one marked firstSequence (256) runs only in the first sequence that reaches it."""
    custom = {r["Action"]: r for r in table(msi, "CustomAction")}
    locators = {r["Signature_"]: r for r in table(msi, "RegLocator")}
    for row in sorted(table(msi, name), key=lambda r: int(r["Sequence"])):
        action = row["Action"]
        if not conditions_hold(row["Condition"], properties):
            continue
        if action == "AppSearch":
            for search in table(msi, "AppSearch"):
                where = locators[search["Signature_"]]
                assert where["Root"] == "2" and int(where["Type"]) & 16  # HKLM, 64-bit view
                found = registry.get((where["Key"], where["Name"]))
                if found is not None:
                    properties[search["Property"]] = found
        elif action in custom:
            kind = int(custom[action]["Type"])
            assert kind & 0x3F == 51, (action, kind)  # set a property, immediately
            if kind & 256 and action in ran:
                continue
            ran.add(action)
            value = format_value(custom[action]["Target"], properties)
            if value:
                properties[custom[action]["Source"]] = value
            else:
                properties.pop(custom[action]["Source"], None)


def install(msi: Path, command_line: dict[str, str], registry: dict[tuple[str, str], str],
            *, ui: bool) -> dict[tuple[str, str], str]:
    """The registry after `msiexec /i` (with its UI, or /qn) over an installed version that
    left `registry`: a major upgrade removes the old product's values, then writes its own."""
    properties = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    properties.update(command_line)
    ran: set[str] = set()
    if ui:
        run_sequence(msi, "InstallUISequence", properties, registry, ran)
    run_sequence(msi, "InstallExecuteSequence", properties, registry, ran)
    return written(msi, properties)


def company(values: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {k: v for k, v in values.items() if k[0] == r"Software\MailBeacon" or k == RUN_KEY}


def test_each_public_property_is_remembered_where_it_is_written(msi):
    searches = {r["Property"]: r["Signature_"] for r in table(msi, "AppSearch")}
    locators = {r["Signature_"]: r for r in table(msi, "RegLocator")}
    registry = table(msi, "Registry")
    components = {r["Component"]: r["Condition"] for r in table(msi, "Component")}
    custom = {r["Action"]: r for r in table(msi, "CustomAction")}
    secure = {r["Property"]: r["Value"] for r in table(msi, "Property")}["SecureCustomProperties"].split(";")
    for prop, name in REMEMBERED.items():
        assert prop in searches, f"{prop} has no AppSearch row"
        where = locators[searches[prop]]
        assert where["Root"] == "2"  # HKLM
        assert int(where["Type"]) & 0x0F == 2 and int(where["Type"]) & 16  # raw value, 64-bit view
        if name is None:
            rows = [r for r in registry if components[r["Component_"]] == 'AUTOSTART = "1"'
                    and (r["Key"], r["Name"]) == (where["Key"], where["Name"])]
            assert rows and rows[0]["Value"] == "1"
        else:
            assert (where["Key"], where["Name"]) == (r"Software\MailBeacon", name)
            assert any(r["Key"] == where["Key"] and r["Name"] == name and f"[{prop}]" in r["Value"]
                       for r in registry)
        saves = [a for a, r in custom.items() if r["Source"] == f"CMDLINE_{prop}" and r["Target"] == f"[{prop}]"]
        sets = [a for a, r in custom.items() if r["Source"] == prop and r["Target"] == f"[CMDLINE_{prop}]"]
        assert len(saves) == 1 and len(sets) == 1, prop
        assert f"CMDLINE_{prop}" in secure  # it crosses from the UI to the elevated install
        for sequence in ("InstallUISequence", "InstallExecuteSequence"):
            rows = {r["Action"]: r for r in table(msi, sequence)}
            search = int(rows["AppSearch"]["Sequence"])
            assert int(rows[saves[0]]["Sequence"]) < search < int(rows[sets[0]]["Sequence"]), sequence
            assert rows[sets[0]]["Condition"] == f"CMDLINE_{prop}"


@pytest.mark.parametrize("ui", [False, True], ids=["quiet", "full-ui"])
def test_upgrade_without_properties_keeps_them_and_the_command_line_wins(msi, ui):
    first = install(msi, {
        "MAIL_DOMAIN": "example.com", "SMTP_HOST": "smtp.example.com", "IMAP_HOST": "imap.example.com",
        "FEED_URL": "https://status.example.com/feed.json", "CHECK_INTERVAL_S": "90",
        "REPORT_WEBHOOK_URL": "https://it.example.com/hook", "AUTOSTART": "1"}, {}, ui=ui)
    settings = company(first)
    assert settings[(r"Software\MailBeacon", "endpoints")] == "smtp://smtp.example.com:587 imaps://imap.example.com:993"
    assert settings[RUN_KEY].endswith('MailBeacon.exe"')

    # pushed again without a single property (Intune, SCCM): nothing is lost
    assert company(install(msi, {}, first, ui=ui)) == settings
    # a value on the command line wins over the remembered one; the others stay
    changed = company(install(msi, {"CHECK_INTERVAL_S": "120"}, first, ui=ui))
    assert changed == {**settings, (r"Software\MailBeacon", "check.interval_s"): "120"}
    # new hosts replace the endpoints they were remembered as; ENDPOINTS itself too
    moved = company(install(msi, {"SMTP_HOST": "smtp2.example.com"}, first, ui=ui))
    assert moved[(r"Software\MailBeacon", "endpoints")] == "smtp://smtp2.example.com:587"
    raw = company(install(msi, {"ENDPOINTS": "smtps://a.example", "SMTP_HOST": "b.example"}, first, ui=ui))
    assert raw[(r"Software\MailBeacon", "endpoints")] == "smtps://a.example"
    # start at login stays on, and AUTOSTART=0 turns it off
    off = company(install(msi, {"AUTOSTART": "0"}, first, ui=ui))
    assert RUN_KEY not in off and off[(r"Software\MailBeacon", "feed.url")] == settings[(r"Software\MailBeacon", "feed.url")]


def test_apps_and_features_links_and_install_location(msi):
    with (ROOT / "pyproject.toml").open("rb") as fh:
        urls = tomllib.load(fh)["project"]["urls"]
    props = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    assert props["ARPURLINFOABOUT"] == urls["Homepage"]
    assert props["ARPHELPLINK"] == urls["Documentation"]
    custom = {r["Action"]: r for r in table(msi, "CustomAction")}
    location = [a for a, r in custom.items() if r["Source"] == "ARPINSTALLLOCATION"]
    assert len(location) == 1 and custom[location[0]]["Target"] == "[INSTALLDIR]"
    assert int(custom[location[0]]["Type"]) == 51
    rows = {r["Action"]: int(r["Sequence"]) for r in table(msi, "InstallExecuteSequence")}
    # after the folder is resolved, before the product is registered with it
    assert rows["CostFinalize"] < rows[location[0]] < rows["RegisterProduct"]
