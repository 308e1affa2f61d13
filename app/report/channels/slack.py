"""Slack incoming webhook: a blocks message with a plain-text fallback for notifications."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.report import build
from app.report.channels import Channel, Result, post, user_agent

if TYPE_CHECKING:
    from app.config import Config

_MAX_CHECK_LINES = 20  # a section's text is limited to 3000 characters


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _plain(text: str) -> str:
    # Slack mrkdwn treats these as control characters
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks_message(report: dict[str, Any]) -> dict[str, Any]:
    diagnosis = report.get("diagnosis", {})
    headline = diagnosis.get("headline", "")
    failing = build.failing_checks(report)
    fields = [
        f"*User:*\n{_plain(build.who(report))}",
        f"*Host:*\n{_plain(build.host(report))}",
        f"*Since:*\n{_plain(build.since(report))}",
        f"*Verdict:*\n{diagnosis.get('verdict', '?')} ({diagnosis.get('layer', '?')})",
    ]
    if report.get("known_incident"):
        fields.append(f"*Known incident:*\n{_plain(str(report['known_incident']))}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline or "MailBeacon report", 150)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, 2000)} for f in fields]},
    ]
    if report.get("note"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("> " + _plain(report["note"]), 2900)}})
    if failing:
        lines = [
            f"• `{_plain(c.get('id', ''))}` *{c.get('code', '')}*: {_plain(_cut(c.get('detail', ''), 200))}"
            for c in failing[:_MAX_CHECK_LINES]
        ]
        if len(failing) > _MAX_CHECK_LINES:
            lines.append(f"…and {len(failing) - _MAX_CHECK_LINES} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("*Failing checks*\n" + "\n".join(lines), 2900)}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"MailBeacon report {report.get('id', '')} · fingerprint {report.get('fingerprint', '')[:16]}"}]}
    )
    text = f"MailBeacon: {headline} — {build.who(report)} on {build.host(report)}"
    return {"text": _cut(text, 3000), "blocks": blocks}


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.report.slack_url

    def send(self, report: dict[str, Any], body: bytes) -> Result:
        payload = json.dumps(blocks_message(report), ensure_ascii=False).encode("utf-8")
        return post(self.config, self.url, payload, {"Content-Type": "application/json", "User-Agent": user_agent()})
