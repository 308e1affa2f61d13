"""Where MailBeacon keeps its state: MAILBEACON_HOME when set, else the platform's user folders.
Everything MailBeacon creates there is private to the user (files 0600, folders 0700), whatever
the umask it was started with."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app import APP_NAME

CONFIG_FILENAME = "mailbeacon.toml"
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

_started_umask: int | None = None


def private_umask() -> None:
    """Make every file this process creates private (umask 077), remembering the umask it was
    started with for the one kind of file meant to be shared: IT's feed file (`shared_mode`).
    The explicit modes below hold even without it; this catches what libraries create (SQLite's
    -wal/-shm, the discovery cache, a saved config)."""
    global _started_umask
    if os.name == "nt":
        return  # files under the user's profile are private to the user already
    previous = os.umask(0o077)
    if _started_umask is None:
        _started_umask = previous


def shared_mode() -> int:
    """The mode a new shared file (IT's feed) gets: readable as the user's own umask allows."""
    umask = _started_umask
    if umask is None:
        umask = os.umask(0)
        os.umask(umask)
    return 0o666 & ~umask


def private_dir(path: Path | str) -> Path:
    """`path` and any missing parents, created 0700. Folders that already exist are left as
    they are: they may be the user's own (MAILBEACON_HOME=~/something)."""
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it meanwhile
        if os.name != "nt":
            os.chmod(folder, PRIVATE_DIR)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def private_file(path: Path | str) -> Path:
    """Create `path` empty and 0600 if it does not exist (before SQLite or a log opens it, so
    their companions inherit the mode); an existing file of ours is made 0600."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.name != "nt":
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return path


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
