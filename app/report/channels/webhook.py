"""Generic JSON webhook: the report body as is, with idempotency, bearer token and HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from app import secrets
from app.report.channels import Channel, Result, post, user_agent

if TYPE_CHECKING:
    from app.config import Config


def signature(body: bytes, secret: str) -> str:
    """The X-MailBeacon-Signature value: sha256=<hex HMAC-SHA256 of the exact body>."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    name = "webhook"
    token_secret = "report.webhook_token"
    signing_secret: str | None = "report.webhook_secret"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.report.webhook_url

    def headers(self, report: dict[str, Any], body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": report["id"],
            "User-Agent": user_agent(),
        }
        token = secrets.get_secret(self.token_secret)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        key = secrets.get_secret(self.signing_secret) if self.signing_secret else None
        if key:
            headers["X-MailBeacon-Signature"] = signature(body, key)
        return headers

    def send(self, report: dict[str, Any], body: bytes) -> Result:
        return post(self.config, self.url, body, self.headers(report, body))
