"""Start at login: Linux for real in a temp XDG_CONFIG_HOME, Windows and macOS on what they write."""

from __future__ import annotations

import configparser
import plistlib
import subprocess
import sys

import pytest

from app import autostart
from app.autostart import (
    LinuxAutostart,
    MacAutostart,
    WindowsAutostart,
    exec_line,
    for_platform,
)


def read_desktop(path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def test_linux_enable_disable_in_xdg_config_home(xdg):
    a = for_platform(["/opt/MailBeacon/mailbeacon", "tray"], platform="linux")
    assert isinstance(a, LinuxAutostart)
    assert a.path == xdg / "autostart" / "mailbeacon.desktop"
    assert not a.enabled
    a.enable()
    assert a.enabled
    entry = read_desktop(a.path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "MailBeacon"
    assert entry["Exec"] == "/opt/MailBeacon/mailbeacon tray"
    assert entry["Icon"] == "mailbeacon"
    a.enable()  # idempotent
    assert a.enabled
    a.disable()
    assert not a.enabled
    assert not a.path.exists()
    a.disable()  # disabling twice is fine


def test_linux_honours_a_desktop_switching_it_off(xdg):
    a = LinuxAutostart(["mailbeacon"])
    a.enable()
    a.path.write_text(a.path.read_text().replace(
        "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"))
    assert not a.enabled
    a.enable()
    assert a.enabled
    a.path.write_text(a.path.read_text() + "Hidden=true\n")
    assert not a.enabled


def test_linux_relative_xdg_config_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    a = LinuxAutostart(["mailbeacon"])
    assert a.path == tmp_path / ".config" / "autostart" / "mailbeacon.desktop"


def _unquote_exec(value: str) -> list[str]:
    """Decode an Exec value as the Desktop Entry spec says a launcher does: string-value
    escapes first, then arguments split on spaces, double quotes with \\ before " ` $ \\."""
    value = value.replace("\\\\", "\\")
    args: list[str] = []
    current, quoted, i, started = "", False, 0, False
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            current += value[i + 1]
            i += 2
            continue
        if ch == '"':
            quoted, started = not quoted, True
        elif ch == " " and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current, started = current + ch, True
        i += 1
    assert not quoted
    if started:
        args.append(current)
    return [arg.replace("%%", "%") for arg in args]


@pytest.mark.parametrize(
    "command",
    [
        ["/usr/bin/mailbeacon"],
        ["/home/a b/venv/bin/python", "-m", "app"],
        ["/opt/x/mail$beacon", 'say "hi"', "100%", "back\\slash"],
    ],
)
def test_exec_quoting_round_trips(command):
    assert _unquote_exec(exec_line(command)) == command


def test_exec_file_written_round_trips(xdg):
    command = ["/home/a b/venv/bin/python", "-m", "app"]
    a = LinuxAutostart(command)
    a.enable()
    assert _unquote_exec(read_desktop(a.path)["Exec"]) == command


class FakeRunKey:
    """Stands in for QSettings(RUN_KEY, NativeFormat): the registry exists only on Windows."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def value(self, key, default=None):
        return self.values.get(key, default)

    def setValue(self, key, value):  # noqa: N802
        self.values[key] = value

    def remove(self, key):
        self.values.pop(key, None)

    def contains(self, key):
        return key in self.values


def test_windows_run_value():
    settings = FakeRunKey()
    settings.values["OneDrive"] = "other app"
    a = for_platform([r"C:\Program Files\MailBeacon\MailBeacon.exe"], platform="win32",
                     settings=settings)
    assert isinstance(a, WindowsAutostart)
    assert not a.enabled
    a.enable()
    assert a.enabled
    assert settings.values["MailBeacon"] == r'"C:\Program Files\MailBeacon\MailBeacon.exe"'
    a.disable()
    assert not a.enabled
    assert settings.values == {"OneDrive": "other app"}  # nobody else's value touched


def test_windows_command_line_quoting():
    a = WindowsAutostart([r"C:\Users\a b\python.exe", "-m", "app"], settings=FakeRunKey())
    assert a.command_line() == r'"C:\Users\a b\python.exe" -m app'
    assert autostart.RUN_KEY.endswith(r"Software\Microsoft\Windows\CurrentVersion\Run")


def test_macos_launch_agent(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    command = ["/Applications/MailBeacon.app/Contents/MacOS/MailBeacon"]
    a = for_platform(command, platform="darwin")
    assert isinstance(a, MacAutostart)
    assert a.path == tmp_path / "Library" / "LaunchAgents" / "org.mailbeacon.MailBeacon.plist"
    assert not a.enabled
    a.enable()
    assert a.enabled
    with a.path.open("rb") as f:
        data = plistlib.load(f)
    assert data["Label"] == "org.mailbeacon.MailBeacon"
    assert data["ProgramArguments"] == command
    assert data["RunAtLoad"] is True
    a.disable()
    assert not a.enabled and not a.path.exists()


def test_macos_unreadable_plist_is_not_enabled(tmp_path):
    a = MacAutostart(["x"], agents_dir=tmp_path)
    a.path.write_bytes(b"garbage")
    assert not a.enabled


def test_default_command_starts_this_app():
    command = autostart.default_command()
    assert command
    if command[:2] == [sys.executable, "-m"]:
        assert command[2] == "app"
    out = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "MailBeacon" in out.stdout
