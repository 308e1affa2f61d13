"""From IT's incidents to what the tray says: the menu line, the Details paragraphs and one
notification per post, update or resolve (or one summary for many). The words themselves are in
the catalogue (app.words.staff); this module decides which to say when."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.bounds import MAX_EVENTS
from app.words import staff

NOT_VERIFIED = staff.NOT_VERIFIED


def status_line(it_status: dict[str, Any] | None, now: datetime | None = None) -> str | None:
    """"IT is aware: <title> — next update 17:30" for the newest open incident, or None."""
    return staff.it_status_line(it_status, now)


def incident_lines(
    it_status: dict[str, Any] | None, now: datetime | None = None, *, verified: bool = True
) -> list[str]:
    """One paragraph per open incident for the Details window (staff.incident_paragraphs)."""
    return staff.incident_paragraphs(it_status, now, verified=verified)


def is_verified_source(feed_url: str) -> bool:
    """False for a plain-http feed: nothing proves who wrote what it says."""
    return not feed_url.strip().lower().startswith("http://")


@dataclass(frozen=True)
class FeedEvent:
    kind: str  # "posted" | "updated" | "resolved" | "summary"
    incident: dict[str, Any]  # for "summary": the counts of each kind
    text: str
    title: str = ""


def _event(kind: str, incident: dict[str, Any]) -> FeedEvent:
    # the tray words it again with the verdict it shows then ("IT says it is fixed" while red)
    title, text = staff.incident_notice(kind, incident, "unknown")
    return FeedEvent(kind, dict(incident), text, title)


def _summary(events: list[FeedEvent]) -> FeedEvent:
    """One notification for many changes at once (a feed posting thousands of incidents)."""
    counts = {kind: sum(1 for e in events if e.kind == kind) for kind in ("posted", "updated", "resolved")}
    title, text = staff.summary_notice(counts)
    return FeedEvent("summary", {"count": len(events), **counts}, text, title)


class IncidentTracker:
    """Turns successive it_status objects into notifications, one per posted, updated or
    resolved incident, or one summary when more than MAX_EVENTS change at once. A feed that
    cannot be read resolves nothing."""

    _FIELDS = ("title", "status", "message", "updated_at", "next_update_at")

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def update(
        self, it_status: dict[str, Any] | None, closing: Callable[[str], str] | None = None
    ) -> list[FeedEvent]:
        """`closing(id)` gives IT's closing words for a resolved incident, kept in its event."""
        if it_status is None:
            return []
        events: list[FeedEvent] = []
        current = {str(i["id"]): i for i in it_status.get("incidents") or [] if i.get("id")}
        for key, incident in current.items():
            before = self._open.get(key)
            if before is None:
                events.append(_event("posted", incident))
            elif any(before.get(f) != incident.get(f) for f in self._FIELDS):
                events.append(_event("updated", incident))
            self._open[key] = dict(incident)
        if not it_status.get("error"):
            for key in [k for k in self._open if k not in current]:
                gone = self._open.pop(key)
                # the reader drops resolved incidents: their closing words come from `closing`,
                # never the older message, which would read as if nothing had changed
                words = closing(key) if closing is not None else ""
                gone = {**gone, "status": "resolved", "next_update_at": None, "message": words}
                events.append(_event("resolved", gone))
        if len(events) > MAX_EVENTS:
            return [_summary(events)]
        return events


