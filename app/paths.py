"""Where MailBeacon keeps its state: MAILBEACON_HOME when set, else the platform's user folders."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app import APP_NAME

CONFIG_FILENAME = "mailbeacon.toml"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def user_config(self) -> Path:
        return self.config_dir / CONFIG_FILENAME

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def laptop_id(self) -> Path:
        """The random id this install gives itself towards the hub (reporter.laptop)."""
        return self.data_dir / "laptop-id"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "mailbeacon.log"


def user_paths(env: os._Environ[str] | dict[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = env.get("MAILBEACON_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(config_dir=root, data_dir=root, log_dir=root / "logs")
    import platformdirs

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def system_config_file(platform: str = sys.platform) -> Path:
    if platform == "win32":
        base = os.environ.get("ProgramData", r"C:\ProgramData")
        return Path(base) / APP_NAME / CONFIG_FILENAME
    if platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME / CONFIG_FILENAME
    return Path("/etc/mailbeacon") / CONFIG_FILENAME


def policy_file(platform: str = sys.platform) -> Path | None:
    """The Linux policy file; Windows and macOS keep policy in the registry / managed prefs."""
    if platform in ("win32", "darwin"):
        return None
    return Path("/etc/mailbeacon/policy.toml")


def managed_prefs_files(platform: str = sys.platform) -> list[Path]:
    """macOS managed-preferences plists for the bundle id, machine-wide then per user."""
    if platform != "darwin":
        return []
    from app import BUNDLE_ID

    base = Path("/Library/Managed Preferences")
    user = os.environ.get("USER", "")
    files = [base / f"{BUNDLE_ID}.plist"]
    if user:
        files.append(base / user / f"{BUNDLE_ID}.plist")
    return files
