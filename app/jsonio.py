"""The one JSON encoder for every output (check, report, feed): UTC times with Z, stable floats;
and the one JSON reader for files MailBeacon did not just write (outbox, state, feed files)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 (with Z or an offset); naive times are taken as UTC. ValueError also for
    a time that exists only in its own zone (9999-12-31T23:00-05:00 is past year 9999 in UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years a clock can show") from None


def loads(data: bytes | str) -> Any:
    """json.loads for files from outside: ValueError for anything unreadable, including a
    document nested so deeply that the parser runs out of stack (RecursionError)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


def _default(obj: Any) -> Any:
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, datetime):
        return iso_utc(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# json leaves DEL, the C1 controls (0x9b is a one-byte CSI) and bidi overrides raw with
# ensure_ascii=False; outside that, they only occur inside strings, so escaping them keeps the
# same document while a terminal, a log viewer or a chat client shows them as text
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group(0)):04x}"


def dumps(obj: Any, *, pretty: bool = False) -> str:
    if pretty:
        text = json.dumps(obj, default=_default, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False)
    return _UNSAFE.sub(_escape, text)
