"""The few exception classes that carry meaning to the command line, each with its exit status."""

from __future__ import annotations

EX_USAGE = 64
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_CONFIG = 78


class MailBeaconError(Exception):
    """An error a user can act on; `cli` prints its message (never a traceback). The message
    passes through the one scrubber: errors often quote the value they reject."""

    exit_status = 1

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            from app.report.redact import scrub_text

            args = (scrub_text(args[0]), *args[1:])
        super().__init__(*args)


class UsageError(MailBeaconError):
    exit_status = EX_USAGE


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
        from app.report.redact import scrub_text

        self.source = source
        self.key = key
        self.expected = scrub_text(expected)
        expected = self.expected
        self.line = line
        where = f"{source}:{line}" if line else source
        what = f"{key}: {expected}" if key else expected
        super().__init__(f"config error in {where}: {what}")


class WriteError(MailBeaconError):
    """A file MailBeacon must write (the outbox, a feed file, the user config) cannot be
    written: full disk, permissions, a broken share. One line says which and why."""

    exit_status = EX_CANTCREAT


class SecretStoreError(MailBeaconError):
    """No usable keyring backend, or it refused."""

    exit_status = 69
