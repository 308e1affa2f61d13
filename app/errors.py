"""The few exception classes that carry meaning to the command line, each with its exit status."""

from __future__ import annotations

EX_USAGE = 64
EX_CANTCREAT = 73  # sysexits: a file MailBeacon must write cannot be written
EX_TEMPFAIL = 75
EX_CONFIG = 78


class MailBeaconError(Exception):
    """An error a user can act on; `cli` prints its message (never a traceback)."""

    exit_status = 1


class UsageError(MailBeaconError):
    exit_status = EX_USAGE


class CannotWriteError(MailBeaconError):
    """A file or folder MailBeacon must write cannot be (full disk, permissions, a broken profile)."""

    exit_status = EX_CANTCREAT


class ConfigError(MailBeaconError):
    """A bad config value, naming where it came from, the key and what is expected."""

    exit_status = EX_CONFIG

    def __init__(
        self,
        source: str,
        key: str | None,
        expected: str,
        line: int | None = None,
    ) -> None:
        self.source = source
        self.key = key
        self.expected = expected
        self.line = line
        where = f"{source}:{line}" if line else source
        what = f"{key}: {expected}" if key else expected
        super().__init__(f"config error in {where}: {what}")


class SecretStoreError(MailBeaconError):
    """No usable keyring backend, or it refused."""

    exit_status = 69
