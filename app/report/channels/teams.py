"""Microsoft Teams: an Adaptive Card message (headline, who, where, since when, failing checks as
a FactSet), trimmed so the whole posted JSON stays under 20 KB of UTF-8."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.report import build
from app.report.channels import Channel, Result, post, user_agent

if TYPE_CHECKING:
    from app.config import Config

MAX_BYTES = 20 * 1000  # stay under 20 KB whichever way a KB is counted
_DETAIL_STEPS = (300, 120, 60, 0)


def _size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, ensure_ascii=False).encode("utf-8"))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def adaptive_card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Teams message that carries one Adaptive Card (1.4) with `body` and `actions`."""
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


def card_message(report: dict[str, Any], max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    diagnosis = report.get("diagnosis", {})
    failing = build.failing_checks(report)

    def compose(detail_limit: int, keep: int, note_limit: int) -> dict[str, Any]:
        facts = [
            {"title": "User", "value": build.who(report)},
            {"title": "Host", "value": build.host(report)},
            {"title": "Since", "value": build.since(report)},
            {"title": "Verdict", "value": f"{diagnosis.get('verdict', '?')} (layer: {diagnosis.get('layer', '?')})"},
        ]
        if report.get("known_incident"):
            facts.append({"title": "Known incident", "value": str(report["known_incident"])})
        checks = []
        for c in failing[:keep]:
            value = c.get("code", "")
            if detail_limit:
                value += " — " + _cut(c.get("detail", ""), detail_limit)
            checks.append({"title": _cut(c.get("id", c.get("target", "")), 120), "value": value})
        if len(failing) > keep:
            checks.append({"title": "…", "value": f"and {len(failing) - keep} more failing checks (see the full report)"})
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": "MailBeacon report", "size": "Small", "isSubtle": True},
            {"type": "TextBlock", "text": _cut(diagnosis.get("headline", ""), 500), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "FactSet", "facts": facts},
        ]
        if report.get("note") and note_limit:
            body.append({"type": "TextBlock", "text": "“" + _cut(report["note"], note_limit) + "”", "wrap": True})
        if checks:
            body.append({"type": "TextBlock", "text": "Failing checks", "weight": "Bolder", "wrap": True})
            body.append({"type": "FactSet", "facts": checks})
        body.append({"type": "TextBlock", "text": f"Report {report.get('id', '')} · fingerprint {report.get('fingerprint', '')[:16]}", "size": "Small", "isSubtle": True, "wrap": True})
        return adaptive_card(body)

    keep = len(failing)
    for detail_limit in _DETAIL_STEPS:
        message = compose(detail_limit, keep, 1000)
        if _size(message) < max_bytes:
            return message
    # still too big: drop checks from the end, halving, then shorten the note
    while keep > 0:
        keep //= 2
        message = compose(0, keep, 1000)
        if _size(message) < max_bytes:
            return message
    return compose(0, 0, 200)


class TeamsChannel(Channel):
    name = "teams"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.report.teams_url

    def send(self, report: dict[str, Any], body: bytes) -> Result:
        payload = json.dumps(card_message(report), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": user_agent(), "Idempotency-Key": report["id"]}
        return post(self.config, self.url, payload, headers)
