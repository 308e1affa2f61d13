"""macOS artefacts read with plistlib (Info.plist, the configuration profile, dmgbuild settings)
and the release workflow checked against GitHub's workflow schema."""

from __future__ import annotations

import plistlib
import runpy
import shutil
import subprocess
import tomllib

import pytest

from app import BUNDLE_ID
from app import config as config_mod
from app import paths as paths_mod
from tests.packaging.conftest import ROOT, load_build_module

MACOS = ROOT / "packaging" / "macos"


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["project"]["version"]


def test_info_plist_menu_bar_app_with_version():
    info = load_build_module().info_plist(project_version())
    assert info["LSUIElement"] is True  # no Dock icon
    assert info["LSAppNapIsDisabled"] is True  # timers keep running
    assert info["CFBundleIdentifier"] == BUNDLE_ID == "org.mailbeacon.MailBeacon"
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == project_version()
    assert info["CFBundleExecutable"] == "MailBeacon"
    assert "@VERSION@" not in plistlib.dumps(info).decode()


def test_configuration_profile_is_read_as_policy(tmp_path, monkeypatch):
    with (MACOS / "MailBeacon.mobileconfig").open("rb") as fh:
        profile = plistlib.load(fh)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    payload, = profile["PayloadContent"]
    assert payload["PayloadType"] == BUNDLE_ID  # the managed-preferences domain
    uuids = {profile["PayloadUUID"], payload["PayloadUUID"]}
    assert len(uuids) == 2

    # macOS turns the payload into /Library/Managed Preferences/<domain>.plist
    managed = tmp_path / f"{BUNDLE_ID}.plist"
    managed.write_bytes(plistlib.dumps(payload))
    monkeypatch.setattr(paths_mod, "managed_prefs_files", lambda platform=None: [managed])
    cfg = config_mod.load(user_file=None, system_file=None, policy_file=None, env={},
                          registry=True, platform="darwin")
    assert cfg.mail_domain == "example.com"
    assert [(e.kind, e.host, e.port, e.tls) for e in cfg.endpoints] == [
        ("smtp", "smtp.example.com", 587, "starttls"), ("imap", "imap.example.com", 993, "implicit")]
    assert cfg.report.relay == "relay.example.com:587"
    assert {"mail.domain", "endpoints", "feed.url"} <= cfg.policy_keys


def test_dmgbuild_settings():
    settings = runpy.run_path(str(MACOS / "dmg_settings.py"),
                              init_globals={"defines": {"app": "/tmp/x/MailBeacon.app"}})
    assert settings["files"] == ["/tmp/x/MailBeacon.app"]
    assert settings["symlinks"] == {"Applications": "/Applications"}
    assert set(settings["icon_locations"]) == {"MailBeacon.app", "Applications"}
    assert settings["format"] == "UDZO"


def test_entitlements_plist_loads():
    with (MACOS / "entitlements.plist").open("rb") as fh:
        assert plistlib.load(fh)["com.apple.security.cs.allow-unsigned-executable-memory"] is True


def test_release_workflow_matches_github_schema():
    tool = shutil.which("check-jsonschema")
    if tool is None:
        pytest.skip("needs check-jsonschema (pip install check-jsonschema)")
    workflow = ROOT / ".github" / "workflows" / "release.yml"
    result = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = workflow.read_text(encoding="utf-8")
    for needle in ("signtool", "codesign", "notarytool", "stapler", "packaging/build.py msi",
                   "packaging/build.py dmg", "packaging/build.py tarball"):
        assert needle in text
