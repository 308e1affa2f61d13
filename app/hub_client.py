"""The laptop's and IT's side of talking to a MailBeacon hub (SPEC 8): one JSON call through the
core's bounded HTTP client, classified like a report channel (delivered / retry / refused), and
the incidents API behind `mailbeacon feed post|update|resolve --hub`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app import jsonio
from app.config import hub_link
from app.errors import EX_CONFIG, MailBeaconError

if TYPE_CHECKING:
    from app.config import Config

log = logging.getLogger(__name__)

DELIVERED, RETRY, REFUSED = "delivered", "retry", "refused"
TIMEOUT_S = 10.0
ADMIN_TOKEN = "hub.admin_token"


class HubError(MailBeaconError):
    """The hub refused or could not be reached; the message says which, never the token."""


class NoAdminToken(MailBeaconError):
    exit_status = EX_CONFIG


@dataclass
class Answer:
    outcome: str  # delivered | retry | refused
    status: int | None  # HTTP status, None when there was no answer
    reason: str  # a sentence for logs and people
    body: Any = None  # the decoded JSON answer, when there was one
    retry_after: float | None = None


def call(
    config: Config | None,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    token: str | None,
    *,
    timeout_s: float = TIMEOUT_S,
) -> Answer:
    """One request to the hub. Redirects are not followed: a bearer token is never replayed
    to wherever a 3xx points, and a moved hub is a configuration matter."""
    from app import httpio
    from app.report.channels import parse_retry_after

    headers = {"Accept": "application/json"}  # httpio names MailBeacon/<version> itself
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = httpio.request(
            url,
            config=config,
            method=method,
            json_body=body,
            headers=headers,
            timeout_s=timeout_s,
            max_bytes=1_000_000,
            follow_redirects=False,
        )
    except httpio.HttpError as exc:
        return Answer(RETRY, None, f"could not reach the hub: {exc.reason}")
    try:
        decoded = resp.json()
    except Exception:  # an HTML error page from a proxy in front of the hub
        decoded = None
    status = resp.status
    said = decoded.get("error") if isinstance(decoded, dict) and isinstance(decoded.get("error"), str) else ""
    text = f"HTTP {status}" + (f": {said[:200]}" if said else "")
    if 200 <= status < 300:
        return Answer(DELIVERED, status, text, decoded)
    if status in (408, 429) or status >= 500:
        return Answer(RETRY, status, text, decoded, parse_retry_after(resp.header("Retry-After")))
    if 300 <= status < 400:
        return Answer(REFUSED, status, f"{text}: the hub answered with a redirect to "
                      f"{resp.header('Location', '?')}; set hub.url to the address it names", decoded)
    return Answer(REFUSED, status, text, decoded)


# ---------------------------------------------------------------- IT: incidents through the hub


def admin_token() -> str:
    from app import secrets

    token = secrets.get_secret(ADMIN_TOKEN)
    if not token:
        raise NoAdminToken(
            "no admin token for the hub: create one on the hub with "
            "`mailbeacon hub token create NAME --admin`, then store it here with "
            f"`mailbeacon secret set {ADMIN_TOKEN}` (or set {secrets.env_name(ADMIN_TOKEN)})"
        )
    return token


def _checked(answer: Answer, what: str) -> dict[str, Any]:
    if answer.outcome == DELIVERED and isinstance(answer.body, dict):
        return answer.body
    if answer.status == 401:
        raise HubError(f"the hub refused the admin token ({answer.reason}); {what} was not changed")
    if answer.status == 403:
        raise HubError(f"that token may not change incidents ({answer.reason}): use an --admin token")
    if answer.outcome == DELIVERED:
        raise HubError(f"the hub's answer was not an incident; {what} may or may not have changed")
    raise HubError(f"{what}: {answer.reason}")


def _incident(body: dict[str, Any]) -> dict[str, Any]:
    # the hub may wrap the incident ({"incident": {...}}) or answer with it directly
    inner = body.get("incident")
    return inner if isinstance(inner, dict) else body


def post_incident(
    config: Config | None,
    hub: str,
    title: str,
    message: str,
    *,
    next_update: datetime | None = None,
    incident_id: str | None = None,
    affects: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "message": message}
    if next_update is not None:
        body["next_update_at"] = jsonio.iso_utc(next_update)
    if incident_id:
        body["id"] = incident_id
    if affects:
        body["affects"] = affects
    answer = call(config, "POST", hub_link(hub, "api/v1/incidents"), body, admin_token())
    if answer.status == 409:
        raise HubError(f"an incident with id {incident_id} exists already on the hub")
    return _incident(_checked(answer, "the new incident"))


def change_incident(
    config: Config | None, hub: str, incident_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    from urllib.parse import quote

    url = hub_link(hub, f"api/v1/incidents/{quote(incident_id, safe='')}")
    answer = call(config, "PATCH", url, changes, admin_token())
    if answer.status == 404:
        raise HubError(f"the hub has no incident with id {incident_id}")
    return _incident(_checked(answer, f"incident {incident_id}"))
