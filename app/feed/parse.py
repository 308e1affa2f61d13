"""Reading a feed document: the native format and Statuspage v2 (SPEC section 6), into
unresolved incidents that affect mail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from app.bounds import MAX_ID, MAX_INCIDENTS, MAX_MESSAGE, MAX_TITLE, clip, one_line
from app.errors import MailBeaconError
from app.jsonio import iso_utc, parse_iso
from app.words.staff import UNTITLED_INCIDENT

if TYPE_CHECKING:
    pass



STATUSES = ("investigating", "identified", "monitoring", "resolved")
# Statuspage states that mean the incident is over
_CLOSED = ("resolved", "postmortem", "completed")
STALE_AFTER = timedelta(days=1)
_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class FeedError(MailBeaconError):
    """IT's feed file cannot be written as asked (unknown or duplicate id, unreadable file)."""


# ---------------------------------------------------------------- parsing


class _BadFeed(Exception):
    """The document is not a feed we can read; the message is a sentence for people."""


def _time(value: Any) -> str | None:
    """A feed time as ISO 8601 UTC with Z, or None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return iso_utc(parse_iso(value))
    except ValueError:
        return None


def _text(value: Any, limit: int = MAX_MESSAGE) -> str:
    return clip(value.strip(), limit) if isinstance(value, str) else ""


def _line(value: Any, limit: int) -> str:
    return one_line(value, limit) if isinstance(value, str) else ""


def _affects_mail(affects: Any) -> bool:
    if affects is None or affects == [] or affects == "":
        return True
    if isinstance(affects, str):
        affects = [affects]
    if not isinstance(affects, list):
        return True
    return any(isinstance(a, str) and a.strip().lower() == "mail" for a in affects)


def _newest(times: Iterable[str | None]) -> str | None:
    known = [t for t in times if t]
    return max(known, key=parse_iso) if known else None


def parse_feed(doc: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    """(source, unresolved incidents affecting mail newest first, freshness time) of a document.

    The freshness time is the native `updated_at`, or for Statuspage the newest incident update
    (a quiet Statuspage page is live, not stale). Raises _BadFeed for anything else."""
    if not isinstance(doc, dict):
        raise _BadFeed("is not a status feed (expected a JSON object)")
    if "page" in doc and isinstance(doc["page"], dict):
        return _parse_statuspage(doc)
    if "incidents" in doc and ("schema" in doc or "updated_at" in doc):
        return _parse_native(doc)
    raise _BadFeed("is not in a format MailBeacon knows (a native feed or Atlassian Statuspage v2)")


def _parse_native(doc: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    raw = doc.get("incidents")
    if not isinstance(raw, list):
        raise _BadFeed('has an "incidents" value that is not a list')
    incidents = []
    for item in raw:
        if not isinstance(item, dict) or not _line(item.get("id"), MAX_ID):
            continue
        status = _line(item.get("status"), 40).lower() or "investigating"
        if status in _CLOSED or not _affects_mail(item.get("affects")):
            continue
        incidents.append(
            {
                "id": _line(item.get("id"), MAX_ID),
                "title": _line(item.get("title"), MAX_TITLE) or UNTITLED_INCIDENT,
                "status": status,
                "message": _text(item.get("message")),
                "updated_at": _time(item.get("updated_at")) or _time(item.get("started_at")),
                "next_update_at": _time(item.get("next_update_at")),
            }
        )
    _sort_newest_first(incidents)
    fresh = _newest([_time(doc.get("updated_at")), *(i["updated_at"] for i in incidents)])
    return "native", incidents[:MAX_INCIDENTS], fresh


def _parse_statuspage(doc: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    raw = doc.get("incidents", [])  # status.json carries no incidents: nothing open to show
    if not isinstance(raw, list):
        raise _BadFeed('has an "incidents" value that is not a list')
    incidents = []
    for item in raw:
        if not isinstance(item, dict) or not _line(item.get("id"), MAX_ID):
            continue
        status = _line(item.get("status"), 40).lower()
        if status in _CLOSED:
            continue
        updates = [u for u in item.get("incident_updates") or [] if isinstance(u, dict)]
        newest = max(
            updates,
            key=lambda u: parse_iso(_time(u.get("created_at")) or "1970-01-01T00:00:00Z"),
            default=None,
        )
        incidents.append(
            {
                "id": _line(item.get("id"), MAX_ID),
                "title": _line(item.get("name"), MAX_TITLE) or UNTITLED_INCIDENT,
                "status": status or "investigating",
                "message": _text(newest.get("body")) if newest else "",
                "updated_at": _time(item.get("updated_at")) or _time(item.get("created_at")),
                "next_update_at": None,
            }
        )
    _sort_newest_first(incidents)
    return "statuspage", incidents[:MAX_INCIDENTS], _newest(i["updated_at"] for i in incidents)


def closing_words(doc: Any) -> dict[str, str]:
    """What IT wrote when closing each resolved incident of a document (id -> message), so a
    resolve notification can repeat it; the incidents themselves are no longer shown."""
    if not isinstance(doc, dict) or not isinstance(doc.get("incidents"), list):
        return {}
    words: dict[str, str] = {}
    for item in doc["incidents"]:
        if not isinstance(item, dict) or not _text(item.get("id")):
            continue
        if _text(item.get("status")).lower() not in _CLOSED:
            continue
        message = _text(item.get("message"))
        updates = [u for u in item.get("incident_updates") or [] if isinstance(u, dict)]
        if updates:  # Statuspage: the newest update is the closing one
            newest = max(updates, key=lambda u: parse_iso(_time(u.get("created_at")) or "1970-01-01T00:00:00Z"))
            message = _text(newest.get("body"))
        if message:
            words[_text(item.get("id"))] = message
    return words


def _sort_newest_first(incidents: list[dict[str, Any]]) -> None:
    incidents.sort(
        key=lambda i: parse_iso(i["updated_at"] or "1970-01-01T00:00:00Z"), reverse=True
    )
