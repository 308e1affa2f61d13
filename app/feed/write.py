"""Writing the native feed for IT (`mailbeacon feed post|update|resolve`): atomic, under a
lock file, so two people posting at once lose nothing."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import jsonio
from app.errors import UsageError, WriteError
from app.jsonio import iso_utc, parse_iso, utc_now
from app.paths import shared_mode

if TYPE_CHECKING:
    pass

from app.feed.parse import (
    STATUSES,
    FeedError,
    _time,
)
from app.feed.read import _describe_os_error

# ---------------------------------------------------------------- writing (IT side)


class FeedWriteError(FeedError, WriteError):
    """The feed file (or its lock) cannot be written: full disk, permissions, a broken share."""

    exit_status = WriteError.exit_status

_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# resolved incidents stay in the native file this long, so it never grows towards max_bytes
KEEP_RESOLVED = timedelta(days=30)
# how long `feed post|update|resolve` waits for a colleague's write, and when a lock file left
# by a crashed writer counts as abandoned (a write takes milliseconds, even on a share)
LOCK_WAIT_S = 10.0
LOCK_ABANDONED_S = 30.0



def parse_next_update(text: str, now: datetime | None = None) -> datetime:
    """"30m", "1h", "90s", "1h30m" from now, or "17:30" = the next 17:30 local time; also an
    ISO 8601 time. Returns an aware UTC datetime; UsageError when it cannot be read."""
    now = now or utc_now()
    if now.tzinfo is None:
        now = now.astimezone()
    raw = text.strip()
    compact = raw.replace(" ", "").lower()
    if compact and _DURATION.sub("", compact) == "" and compact[0].isdigit():
        seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _DURATION.findall(compact))
        if seconds <= 0:
            raise UsageError(f"--next-update {raw!r} must be in the future")
        return (now + timedelta(seconds=seconds)).astimezone(UTC)
    clock = re.fullmatch(r"(\d{1,2})[:.h](\d{2})", compact)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise UsageError(f"--next-update {raw!r} is not a time of day")
        # naive local arithmetic, then astimezone(), so a DST change overnight is honoured
        local_now = now.astimezone().replace(tzinfo=None)
        at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)
        return at.astimezone().astimezone(UTC)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--next-update {raw!r}: expected a duration like 30m, 1h or 1h30m, or a time like 17:30"
        ) from None
    # a time without a zone is IT's own clock, as "17:30" is
    return (at if at.tzinfo else at.astimezone()).astimezone(UTC)


def _load_native(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": 1, "updated_at": None, "incidents": []}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read the feed file {path}: {_describe_os_error(exc)}") from None
    if not raw.strip():
        return {"schema": 1, "updated_at": None, "incidents": []}
    try:
        doc = jsonio.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise FeedError(f"the feed file {path} is not valid JSON; fix or remove it first") from None
    if not isinstance(doc, dict) or "page" in doc or not isinstance(doc.get("incidents", []), list):
        raise FeedError(f"the feed file {path} is not a MailBeacon feed; refusing to overwrite it")
    doc.setdefault("schema", 1)
    doc.setdefault("incidents", [])
    return doc


def _prune(doc: dict[str, Any], now: datetime) -> None:
    def keep(item: Any) -> bool:
        if not isinstance(item, dict) or item.get("status") != "resolved":
            return True
        when = _time(item.get("updated_at"))
        return when is None or now - parse_iso(when) < KEEP_RESOLVED

    doc["incidents"] = [i for i in doc["incidents"] if keep(i)]


def _replace(tmp: str, path: Path, patience_s: float = 2.0) -> None:
    """os.replace, retried briefly on PermissionError: on Windows the rename fails while a laptop
    has the feed open for reading over the share, which lasts milliseconds."""
    give_up = time.monotonic() + patience_s
    while True:
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            if time.monotonic() >= give_up:
                raise
            time.sleep(0.05)


def _write_native(path: Path, doc: dict[str, Any]) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise FeedError(f"the folder {folder} does not exist")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        # IT's shared file, not MailBeacon's own state: every laptop must be able to read it, so
        # a new one gets the mode IT's umask gives (not mkstemp's 0600, nor our private 077);
        # it holds only what IT posts for everyone to read
        mode = shared_mode()
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FeedWriteError(f"cannot write in {folder}: {_describe_os_error(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        _replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FeedWriteError(f"cannot write the feed file {path}: {_describe_os_error(exc)}") from None
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable where the OS allows it
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold `.<name>.lock` beside the feed while reading, changing and renaming it, so two IT
    people writing at once do not lose each other's incidents. A lock file (O_EXCL) rather than
    fcntl/msvcrt locks: it works the same on Windows, macOS and Linux and on SMB/NFS shares."""
    lock = path.parent / f".{path.name}.lock"
    if not path.parent.is_dir():
        raise FeedError(f"the folder {path.parent} does not exist")
    waited_until = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                age = time.time() - lock.stat().st_mtime
            except OSError:
                continue  # released in between: try again at once
            if age > LOCK_ABANDONED_S:
                try:
                    lock.unlink()
                except OSError:
                    pass
                continue
            if time.monotonic() >= waited_until:
                raise FeedError(
                    f"someone else is writing {path} (lock file {lock}); try again, or delete "
                    "the lock file if nobody is"
                ) from None
            time.sleep(0.02)
            continue
        except OSError as exc:
            raise FeedWriteError(f"cannot write in {path.parent}: {_describe_os_error(exc)}") from None
        break
    try:
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk creates the empty lock file, then refuses its bytes
            raise FeedWriteError(
                f"cannot write the lock file {lock}: {_describe_os_error(exc)}; nothing was changed"
            ) from None
        finally:
            os.close(fd)
        yield
    finally:
        try:
            lock.unlink()
        except OSError:
            pass


def _find(doc: dict[str, Any], incident_id: str, path: Path) -> dict[str, Any]:
    for item in doc["incidents"]:
        if isinstance(item, dict) and item.get("id") == incident_id:
            return item
    raise FeedError(f"no incident with id {incident_id} in {path}")


def _when(value: datetime | str | None, now: datetime) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_next_update(value, now)
    return iso_utc(value)


def _new_id(doc: dict[str, Any], now: datetime) -> str:
    prefix = f"INC-{now.astimezone():%Y%m%d}-"
    taken = [
        int(i["id"][len(prefix):])
        for i in doc["incidents"]
        if isinstance(i, dict) and isinstance(i.get("id"), str) and i["id"].startswith(prefix)
        and i["id"][len(prefix):].isdigit()
    ]
    return f"{prefix}{max(taken, default=0) + 1}"


def post(
    path: str | Path,
    title: str,
    message: str,
    next_update: datetime | str | None = None,
    incident_id: str | None = None,
    affects: Iterable[str] = ("mail",),
    now: datetime | None = None,
) -> str:
    """Add an incident (status investigating) to the native feed at `path`; returns its id."""
    path = Path(path).expanduser()
    now = now or utc_now()
    if not title.strip():
        raise UsageError("the incident needs a title")
    next_at = _when(next_update, now)  # a bad value fails before the lock is taken
    with _locked(path):
        doc = _load_native(path)
        incident_id = (incident_id or "").strip() or _new_id(doc, now)
        if any(isinstance(i, dict) and i.get("id") == incident_id for i in doc["incidents"]):
            raise FeedError(f"an incident with id {incident_id} already exists in {path}")
        stamp = iso_utc(now)
        doc["incidents"].insert(
            0,
            {
                "id": incident_id,
                "title": title.strip(),
                "status": "investigating",
                "message": message.strip(),
                "started_at": stamp,
                "updated_at": stamp,
                "next_update_at": next_at,
                "affects": [a.strip() for a in affects if a.strip()],
            },
        )
        doc["updated_at"] = stamp
        _prune(doc, now)
        _write_native(path, doc)
        return incident_id


def update(
    path: str | Path,
    incident_id: str,
    status: str | None = None,
    message: str | None = None,
    next_update: datetime | str | None = None,
    now: datetime | None = None,
) -> None:
    """Change an incident's status, message or next update time (and its updated_at)."""
    path = Path(path).expanduser()
    now = now or utc_now()
    if status is not None and status not in STATUSES:
        raise UsageError(f"status must be one of {', '.join(STATUSES)}")
    next_at = _when(next_update, now)
    with _locked(path):
        doc = _load_native(path)
        item = _find(doc, incident_id, path)
        if status is not None:
            item["status"] = status
        if message is not None:
            item["message"] = message.strip()
        if next_at is not None:
            item["next_update_at"] = next_at
        if item.get("status") == "resolved":
            item["next_update_at"] = None
        item["updated_at"] = doc["updated_at"] = iso_utc(now)
        _prune(doc, now)
        _write_native(path, doc)


def resolve(
    path: str | Path, incident_id: str, message: str | None = None, now: datetime | None = None
) -> None:
    """Mark an incident resolved; laptops stop showing it at their next read."""
    update(path, incident_id, status="resolved", message=message, now=now)


def create_empty(path: Path | str, now: datetime | None = None) -> Path:
    """An empty native feed where none exists yet, so laptops read "no incidents" until IT posts."""
    path = Path(path)
    if not path.exists():
        with _locked(path):
            if not path.exists():
                _write_native(path, {"schema": 1, "updated_at": iso_utc(now or datetime.now(UTC)), "incidents": []})
    return path
