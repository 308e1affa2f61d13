"""What IT reads about a group, per channel: the webhook's JSON, a Teams card, a Slack blocks
message and an email. Each says how many laptops, people and networks, since when, the failing
checks, the headline, the newest notes, and links to the dashboard."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import orjson

from app.report.redact import scrub_text

_EVENT_WORDS = {"opened": "New outage", "grew": "Outage growing", "resolved": "Outage over"}
NOTES_SHOWN = 5


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def counts_line(group: dict[str, Any]) -> str:
    return (f"{_plural(group['laptops'], 'laptop', 'laptops')}, {_plural(group['people'], 'person', 'people')}, "
            f"{_plural(group['networks'], 'network', 'networks')}")


def title(event: str, group: dict[str, Any]) -> str:
    head = group.get("headline") or "Mail problem"
    if event == "resolved":
        return f"{_EVENT_WORDS[event]}: {head}"
    return f"{_EVENT_WORDS.get(event, event)}: {head} ({counts_line(group)})"


def failing_lines(group: dict[str, Any]) -> list[str]:
    return [f"{f['kind']} {f['target']}: {f['code']}".strip() for f in group.get("failing", [])]


def notes(group: dict[str, Any]) -> list[str]:
    """The newest notes people wrote, scrubbed once more (they are outside text)."""
    out = []
    for report in group.get("reports", []):
        note = (report.get("note") or "").strip()
        if note:
            out.append(scrub_text(note[:500]))
        if len(out) == NOTES_SHOWN:
            break
    return out


def webhook_body(event: str, group: dict[str, Any], url: str) -> bytes:
    return orjson.dumps({"event": event, "group": group, "url": url})


def summary_lines(event: str, group: dict[str, Any], url: str) -> list[str]:
    lines = [title(event, group), ""]
    if event == "resolved":
        lines.append(f"Nobody is left in this outage since {group.get('resolved_at') or group.get('last_at')}.")
    else:
        lines.append(f"Affected: {counts_line(group)}, since {group.get('first_at')}.")
    lines.append(f"Verdict: {group.get('verdict')} (layer: {group.get('layer')})")
    if group.get("incident"):
        lines.append(f"Incident: {group['incident']}")
    failing = failing_lines(group)
    if failing:
        lines += ["", "Failing checks:", *[f"  - {f}" for f in failing[:20]]]
    said = notes(group)
    if said:
        lines += ["", "Newest notes:", *[f"  “{n}”" for n in said]]
    lines += ["", f"Dashboard: {url}", ""]
    return lines


def teams_card(event: str, group: dict[str, Any], url: str) -> dict[str, Any]:
    facts = [
        {"title": "Affected", "value": counts_line(group)},
        {"title": "Since", "value": str(group.get("first_at"))},
        {"title": "Verdict", "value": f"{group.get('verdict')} (layer: {group.get('layer')})"},
    ]
    if group.get("incident"):
        facts.append({"title": "Incident", "value": str(group["incident"])})
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "MailBeacon hub", "size": "Small", "isSubtle": True},
        {"type": "TextBlock", "text": title(event, group)[:500], "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    failing = failing_lines(group)
    if failing:
        body.append({"type": "TextBlock", "text": "Failing checks: " + "; ".join(failing[:20])[:2000], "wrap": True})
    for note in notes(group):
        body.append({"type": "TextBlock", "text": f"“{note}”", "wrap": True, "isSubtle": True})
    from app.report.channels.teams import adaptive_card

    return adaptive_card(body, [{"type": "Action.OpenUrl", "title": "Open the dashboard", "url": url}])


def slack_message(event: str, group: dict[str, Any], url: str) -> dict[str, Any]:
    def plain(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    text = "\n".join(summary_lines(event, group, url))
    return {
        "text": title(event, group)[:3000],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title(event, group)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": plain(text)[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|Open the dashboard>"}]},
        ],
    }


def email_message(event: str, group: dict[str, Any], url: str, *, sender: str, to: str, key: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(a.strip() for a in to.split(",") if a.strip())
    msg["Subject"] = f"MailBeacon: {title(event, group)}"[:250]
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=key, domain="mailbeacon.invalid")
    msg["X-MailBeacon-Group"] = str(group.get("id"))
    msg.set_content("\n".join(summary_lines(event, group, url)))
    msg.add_attachment(orjson.dumps({"event": event, "group": group}, option=orjson.OPT_INDENT_2),
                       maintype="application", subtype="json", filename=f"mailbeacon-group-{group.get('id')}.json")
    return msg
