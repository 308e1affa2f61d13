"""The sentences the tray shows for IT's incidents: the menu line, Details lines and one
notification per post, update or resolve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.bounds import MAX_EVENTS, MAX_MENU_LINE, MAX_NOTIFICATION, clip
from app.jsonio import parse_iso, utc_now

if TYPE_CHECKING:
    pass


def _local(when: str) -> datetime:
    when_utc = parse_iso(when)
    try:
        return when_utc.astimezone()
    except OverflowError:  # 9999-12-31T23:00Z is already year 10000 east of UTC
        return when_utc


def _clock(when: str, now: datetime) -> str:
    try:
        local = _local(when)
    except ValueError:
        return when
    today = now.astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.date() - today == timedelta(days=1):
        return local.strftime("tomorrow %H:%M")
    return local.strftime("%a %d %b %Y %H:%M" if abs(local.year - today.year) > 1 else "%a %d %b %H:%M")


def _ago(when: datetime | str, now: datetime) -> str:
    if isinstance(when, str):
        try:
            when = parse_iso(when)
        except ValueError:
            return "at an unknown time"
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def status_line(it_status: dict[str, Any] | None, now: datetime | None = None) -> str | None:
    """"IT is aware: <title> — next update 17:30" for the newest open incident, or None."""
    if not it_status or not it_status.get("incidents"):
        return None
    now = now or utc_now()
    incidents = it_status["incidents"]
    top = incidents[0]
    line = f"IT is aware: {clip(top.get('title') or 'an incident', 80)}"
    if top.get("next_update_at"):
        line += f" — next update {_clock(top['next_update_at'], now)}"
    if len(incidents) > 1:
        line += f" (and {len(incidents) - 1} more)"
    if it_status.get("stale"):
        since = top.get("updated_at") or it_status.get("fetched_at")
        if since:
            line += f" (last update {_ago(since, now)}, may be out of date)"
        else:
            line += " (may be out of date)"
    return clip(line, MAX_MENU_LINE)


NOT_VERIFIED = (
    "This status came over plain http, so its source is not verified: anyone on the network "
    "path could have changed it."
)


def is_verified_source(feed_url: str) -> bool:
    """False for a plain-http feed: nothing proves who wrote what it says."""
    return not feed_url.strip().lower().startswith("http://")


def incident_lines(
    it_status: dict[str, Any] | None, now: datetime | None = None, *, verified: bool = True
) -> list[str]:
    """One paragraph per open incident for the Details window: title and status, IT's message,
    when it was last updated and when the next update is due (local time); last, when the feed
    came over plain http (`verified` false), that its source is not verified."""
    if not it_status:
        return []
    now = now or utc_now()
    lines = []
    for incident in it_status.get("incidents") or []:
        line = f"IT is aware: {incident.get('title') or 'an incident'} ({incident.get('status') or 'open'})."
        if incident.get("message"):
            line += f" {_sentence(incident['message'])}"
        if incident.get("updated_at"):
            line += f" Last updated {_clock(incident['updated_at'], now)} ({_ago(incident['updated_at'], now)})."
        if incident.get("next_update_at"):
            line += f" Next update {_clock(incident['next_update_at'], now)}."
        lines.append(line)
    if it_status.get("error"):
        lines.append(it_status["error"] + (" Showing what IT posted last." if lines else ""))
    if lines and not verified:
        lines.append(NOT_VERIFIED)
    return lines


@dataclass(frozen=True)
class FeedEvent:
    kind: str  # "posted" | "updated" | "resolved" | "summary"
    incident: dict[str, Any]
    text: str


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _event_text(kind: str, incident: dict[str, Any]) -> str:
    title = incident.get("title") or "an incident"
    message = _sentence(incident.get("message") or "")
    if kind == "posted":
        text = f"IT is aware: {title}."
    elif kind == "updated":
        text = f"IT updated: {title}."
    else:
        text = f"IT has resolved: {title}."
    if message:
        text += f" {message}"
    if kind != "resolved" and incident.get("next_update_at"):
        text += f" Next update {_clock(incident['next_update_at'], utc_now())}."
    return clip(text, MAX_NOTIFICATION)


def _summary(events: list[FeedEvent]) -> FeedEvent:
    """One notification for many changes at once (a feed posting thousands of incidents)."""
    counts = {kind: sum(1 for e in events if e.kind == kind) for kind in ("posted", "updated", "resolved")}
    parts = [f"{n} {word}" for n, word in (
        (counts["posted"], "new"), (counts["updated"], "updated"), (counts["resolved"], "resolved")) if n]
    text = f"IT posted {len(events)} changes to its status page ({', '.join(parts)}). Open Details to read them."
    return FeedEvent("summary", {"count": len(events), **counts}, text)


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
                events.append(FeedEvent("posted", dict(incident), _event_text("posted", incident)))
            elif any(before.get(f) != incident.get(f) for f in self._FIELDS):
                events.append(FeedEvent("updated", dict(incident), _event_text("updated", incident)))
            self._open[key] = dict(incident)
        if not it_status.get("error"):
            for key in [k for k in self._open if k not in current]:
                gone = self._open.pop(key)
                # the reader drops resolved incidents: their closing words come from `closing`,
                # never the older message, which would read as if nothing had changed
                words = closing(key) if closing is not None else ""
                gone = {**gone, "status": "resolved", "next_update_at": None, "message": words}
                events.append(FeedEvent("resolved", gone, _event_text("resolved", gone)))
        if len(events) > MAX_EVENTS:
            return [_summary(events)]
        return events


