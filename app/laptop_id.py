"""The laptop's id towards the hub (SPEC 5 `reporter.laptop`, SPEC 8 `laptop`): a random value made
once per install and kept in a private file in the data folder, so the hub counts laptops, not
reports, without learning anything about the machine."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

_VALID = re.compile(r"[0-9a-f]{32}")


def _new() -> str:
    return secrets.token_hex(16)


def laptop_id(path: Path | None = None) -> str:
    """This install's id; created (0600) on first use. A file that cannot be read or written
    still yields an id for this run, so a report never fails for want of one."""
    if path is None:
        from app.paths import user_paths

        path = user_paths().laptop_id
    value = _read(path)
    return value if value is not None else _create(path)


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _VALID.fullmatch(text) else None


def _create(path: Path) -> str:
    value = _new()
    try:
        from app.paths import private_dir

        private_dir(path.parent)  # missing parents too are 0700, whatever the umask
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (value + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link, not rename: when the tray and a `report` create it at the same moment, the
            # first one wins and the other reads the winner's id instead of replacing it
            os.link(tmp, path)
        except FileExistsError:
            existing = _read(path)
            if existing is not None:
                return existing
            os.replace(tmp, path)  # a broken file (not an id): replace it
        except OSError:  # no hard links on this file system (FAT, some shares)
            if not path.exists() or _read(path) is None:
                os.replace(tmp, path)
            else:
                return _read(path) or value
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as exc:
        log.warning("cannot keep the laptop id in %s: %s; using one for this run only", path, exc)
    return _read(path) or value
