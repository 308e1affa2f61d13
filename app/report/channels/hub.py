"""The hub as a report channel (SPEC 8): the generic webhook body and headers, posted to
<hub.url>/api/v1/reports with the laptop's bearer token `hub.token`. The hub is just another
receiver of the same bytes, so the outbox retries it like any webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config import hub_link
from app.report.channels.webhook import WebhookChannel

if TYPE_CHECKING:
    from app.config import Config

REPORTS_PATH = "api/v1/reports"


class HubChannel(WebhookChannel):
    name = "hub"
    token_secret = "hub.token"
    # the hub authenticates laptops by token; report.webhook_secret belongs to IT's own webhook
    signing_secret = None

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = hub_link(config.hub.url, REPORTS_PATH)
