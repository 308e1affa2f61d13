"""The MSI installed and upgraded for real by Wine's msiexec: an upgrade pushed without the
public properties keeps the company's settings and the Run key, a value on the command line wins
over the remembered one, and Apps & features gets the install folder and links.

One difference from Windows: Wine leaves the registry values of the removed old product in place
when the new one shares their components (seen with the MSI before the remember pattern, which
Windows empties), so the registry alone cannot tell. What does tell is the upgrade's own
property values, in its log: they are what the new product writes, and without the pattern
they are empty."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, need

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

SETTINGS = r"HKLM\Software\MailBeacon"
RUN = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run"
UNINSTALL = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"


def wine_binary() -> str | None:
    # Debian's wine64 package puts its loader outside PATH
    return shutil.which("wine64") or shutil.which("wine") or (
        "/usr/lib/wine/wine64" if os.access("/usr/lib/wine/wine64", os.X_OK) else None)


class Wine:
    """One private Wine prefix, standing in for a Windows machine."""

    def __init__(self, prefix: Path) -> None:
        self.binary = wine_binary()
        self.env = {**os.environ, "WINEPREFIX": str(prefix), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml="}  # no Mono/Gecko install prompts
        self.env.pop("DISPLAY", None)
        self.run("wineboot", "-i", timeout=300)

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def msiexec(self, msi: Path, **properties: str) -> dict[str, str]:
        """Install `msi` quietly; the property values the install ended with, from its log."""
        log = msi.with_suffix(".log")
        result = self.run("msiexec", "/i", str(msi), "/qn", "/l*v", str(log),
                          *(f"{k}={v}" for k, v in properties.items()))
        text = log.read_text(errors="replace")
        assert result.returncode == 0, (result.returncode, text[-3000:])
        return dict(re.findall(r"^Property\(S\): (\w+) = (.*)$", text, re.M))

    def values(self, key: str) -> dict[str, str]:
        """{name: data} of the values directly under `key` ({} when it does not exist)."""
        result = self.run("reg", "query", key)
        values = {}
        for line in result.stdout.splitlines():
            match = re.match(r"^\s{4}(\S+)\s{4}REG_\w+\s{4}(.*)$", line)
            if match:
                values[match.group(1)] = match.group(2).rstrip()
        return values

    def subkeys(self, key: str) -> list[str]:
        result = self.run("reg", "query", key)
        prefix = key.replace("HKLM", "HKEY_LOCAL_MACHINE").lower() + "\\"
        return [line.strip()[len(prefix):] for line in result.stdout.splitlines()
                if line.strip().lower().startswith(prefix)]

    def close(self) -> None:
        server = shutil.which("wineserver") or "/usr/lib/wine/wineserver64"
        subprocess.run([server, "-k"], env=self.env, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    if wine_binary() is None:
        pytest.skip("needs wine (apt-get install wine64)")
    machine = Wine(tmp_path_factory.mktemp("wine") / "prefix")
    yield machine
    machine.close()


@pytest.fixture(scope="module")
def releases(build, tmp_path_factory):
    """Two builds of the MSI, as a rebuilt release is pushed over the last one (a small stand-in
    payload: what is tested is the installer's logic, not the app's files)."""
    need("wixl", "msiinfo", "msibuild")
    work = tmp_path_factory.mktemp("releases")
    payload = work / "payload"
    (payload / "_internal").mkdir(parents=True)
    (payload / "MailBeacon").write_bytes(b"stand-in for the executable\n")
    (payload / "_internal" / "base_library.zip").write_bytes(b"stand-in\n")
    return [build.build_msi(payload=payload, out=work / f"MailBeacon-{n}.msi") for n in (1, 2)]


def product_code(msi: Path) -> str:
    table = subprocess.run(["msiinfo", "export", str(msi), "Property"], check=True,
                           capture_output=True, text=True).stdout
    return re.search(r"^ProductCode\t(\S+)$", table, re.M).group(1)


def test_upgrade_keeps_settings_and_the_command_line_wins(wine, releases):
    first, second = releases
    wine.msiexec(first, MAIL_DOMAIN="example.com", SMTP_HOST="smtp.example.com",
                 IMAP_HOST="imap.example.com", CHECK_INTERVAL_S="90",
                 FEED_URL="https://status.example.com/feed.json", AUTOSTART="1")
    installed = wine.values(SETTINGS)
    assert installed == {
        "mail.domain": "example.com", "check.interval_s": "90",
        "feed.url": "https://status.example.com/feed.json",
        "endpoints": "smtp://smtp.example.com:587 imaps://imap.example.com:993",
    }
    assert wine.values(RUN)["MailBeacon"].endswith('MailBeacon.exe"')

    # the next release, pushed without a single property: the old product is removed first
    # (and with it its registry values), yet every setting and the Run key come back
    upgrade = wine.msiexec(second)
    assert [k for k in wine.subkeys(UNINSTALL) if k.startswith("{")] == [product_code(second)]
    assert {k: upgrade.get(k) for k in ("MAIL_DOMAIN", "CHECK_INTERVAL_S", "FEED_URL", "ENDPOINTS",
                                        "AUTOSTART")} == {
        "MAIL_DOMAIN": "example.com", "CHECK_INTERVAL_S": "90",
        "FEED_URL": "https://status.example.com/feed.json",
        "ENDPOINTS": "smtp://smtp.example.com:587 imaps://imap.example.com:993", "AUTOSTART": "1"}
    assert wine.values(SETTINGS) == installed
    assert "MailBeacon" in wine.values(RUN)

    # the first one again (a new product code to the installer): command-line values win,
    # new hosts replace the endpoints remembered from the old ones, AUTOSTART=0 turns it off
    wine.msiexec(first, CHECK_INTERVAL_S="120", SMTP_HOST="smtp2.example.com", AUTOSTART="0")
    assert wine.values(SETTINGS) == {**installed, "check.interval_s": "120",
                                     "endpoints": "smtp://smtp2.example.com:587"}
    assert "MailBeacon" not in wine.values(RUN)


def test_apps_and_features_entry(wine, releases):
    with (ROOT / "pyproject.toml").open("rb") as fh:
        urls = tomllib.load(fh)["project"]["urls"]
    codes = [k for k in wine.subkeys(UNINSTALL) if k.startswith("{")]
    assert len(codes) == 1  # one MailBeacon, whatever was installed over what
    entry = wine.values(f"{UNINSTALL}\\{codes[0]}")
    assert entry["DisplayName"] == "MailBeacon"
    assert entry["InstallLocation"] == "C:\\Program Files\\MailBeacon\\"
    assert entry["HelpLink"] == urls["Documentation"]
    assert entry["URLInfoAbout"] == urls["Homepage"]
