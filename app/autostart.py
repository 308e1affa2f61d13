"""Start MailBeacon at login: one class per platform behind `enabled`, `enable()`, `disable()`
(XDG autostart on Linux, the HKCU Run key on Windows, a LaunchAgent on macOS)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Protocol

from app import APP_NAME, BUNDLE_ID

RUN_KEY = r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME


def default_command() -> list[str]:
    """How to start the tray: the frozen executable, else the installed script, else python -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = shutil.which("mailbeacon")
    if script:
        return [script]
    return [sys.executable, "-m", "app"]


class Autostart(Protocol):
    @property
    def enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


# -- Linux ----------------------------------------------------------------------------------

_EXEC_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def _exec_quote(arg: str) -> str:
    """One argument for a desktop entry's Exec key (Desktop Entry spec, "The Exec key")."""
    arg = arg.replace("%", "%%")  # field codes start with %
    if arg and not (set(arg) & _EXEC_RESERVED):
        quoted = arg
    else:
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        quoted = f'"{inner}"'
    # the whole value is then a string value, whose own escape for a backslash is \\
    return quoted.replace("\\", "\\\\")


def exec_line(command: list[str]) -> str:
    return " ".join(_exec_quote(a) for a in command)


class LinuxAutostart:
    """$XDG_CONFIG_HOME/autostart/mailbeacon.desktop."""

    def __init__(self, command: list[str], *, config_home: Path | None = None) -> None:
        self.command = list(command)
        if config_home is None:
            xdg = os.environ.get("XDG_CONFIG_HOME", "")
            # the spec says a relative XDG_CONFIG_HOME is invalid and must be ignored
            config_home = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config"
        self.path = config_home / "autostart" / "mailbeacon.desktop"

    def desktop_entry(self) -> str:
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=Shows whether company mail works\n"
            f"Exec={exec_line(self.command)}\n"
            "Icon=mailbeacon\n"
            "Terminal=false\n"
            "Categories=Network;Email;\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    @property
    def enabled(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return False
        # a user may switch it off in their desktop's settings, which keeps the file
        for line in text.splitlines():
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip().lower()
            if key == "Hidden" and value == "true":
                return False
            if key == "X-GNOME-Autostart-enabled" and value == "false":
                return False
        return True

    def enable(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self.desktop_entry(), encoding="utf-8")
        os.replace(tmp, self.path)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


# -- Windows --------------------------------------------------------------------------------


class RunKeySettings(Protocol):
    """The part of QSettings (NativeFormat, opened on RUN_KEY) the Windows class uses."""

    def value(self, key: str, default: Any = None) -> Any: ...

    def setValue(self, key: str, value: Any) -> None: ...  # noqa: N802 (QSettings' name)

    def remove(self, key: str) -> None: ...

    def contains(self, key: str) -> bool: ...


class WinregRunKey:
    """RunKeySettings over winreg, for when no QSettings is at hand (Windows only)."""

    _SUBKEY = r"Software\Microsoft\Windows\CurrentVersion\Run"

    def __init__(self) -> None:
        import winreg  # type: ignore[import-not-found]

        self._winreg = winreg

    def _open(self, write: bool) -> Any:
        w = self._winreg
        access = w.KEY_READ | (w.KEY_SET_VALUE if write else 0)
        return w.CreateKeyEx(w.HKEY_CURRENT_USER, self._SUBKEY, 0, access)

    def value(self, key: str, default: Any = None) -> Any:
        try:
            with self._open(False) as k:
                return self._winreg.QueryValueEx(k, key)[0]
        except OSError:
            return default

    def setValue(self, key: str, value: Any) -> None:  # noqa: N802
        with self._open(True) as k:
            self._winreg.SetValueEx(k, key, 0, self._winreg.REG_SZ, str(value))

    def remove(self, key: str) -> None:
        try:
            with self._open(True) as k:
                self._winreg.DeleteValue(k, key)
        except FileNotFoundError:
            pass

    def contains(self, key: str) -> bool:
        return self.value(key) is not None


class WindowsAutostart:
    """HKCU\\...\\CurrentVersion\\Run value "MailBeacon" = the quoted command line."""

    def __init__(self, command: list[str], settings: RunKeySettings | None = None) -> None:
        self.command = list(command)
        self._settings = settings

    @property
    def settings(self) -> RunKeySettings:
        if self._settings is None:
            self._settings = WinregRunKey()
        return self._settings

    def command_line(self) -> str:
        import subprocess  # only Windows needs its quoting rules

        return subprocess.list2cmdline(self.command)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.contains(RUN_VALUE) and self.settings.value(RUN_VALUE))

    def enable(self) -> None:
        self.settings.setValue(RUN_VALUE, self.command_line())

    def disable(self) -> None:
        self.settings.remove(RUN_VALUE)


# -- macOS ----------------------------------------------------------------------------------


class MacAutostart:
    """~/Library/LaunchAgents/org.mailbeacon.MailBeacon.plist with RunAtLoad; launchd reads it
    at the next login, so nothing is started now."""

    def __init__(self, command: list[str], *, agents_dir: Path | None = None) -> None:
        self.command = list(command)
        agents_dir = agents_dir or Path.home() / "Library" / "LaunchAgents"
        self.path = agents_dir / f"{BUNDLE_ID}.plist"

    def plist(self) -> dict[str, Any]:
        return {
            "Label": BUNDLE_ID,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }

    @property
    def enabled(self) -> bool:
        import plistlib  # macOS only; kept off the start-up path elsewhere

        try:
            with self.path.open("rb") as f:
                data = plistlib.load(f)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return bool(data.get("RunAtLoad")) and not data.get("Disabled", False)

    def enable(self) -> None:
        import plistlib

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as f:
            plistlib.dump(self.plist(), f)
        os.replace(tmp, self.path)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


def for_platform(
    command: list[str] | None = None, platform: str = sys.platform, **kwargs: Any
) -> LinuxAutostart | WindowsAutostart | MacAutostart:
    """The start-at-login switch for this platform; kwargs go to its class (settings=,
    config_home=, agents_dir=)."""
    command = list(command) if command else default_command()
    if platform == "win32":
        return WindowsAutostart(command, **kwargs)
    if platform == "darwin":
        return MacAutostart(command, **kwargs)
    return LinuxAutostart(command, **kwargs)
