"""Delivery channels: one small class each with send(report, body) -> Result.

A Result says whether the channel acknowledged the report, wants a retry later (network down,
5xx, 408, 429) or refused it for good (other 4xx, a redirect, a 5xx SMTP reply).
"""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from app.config import Config

log = logging.getLogger(__name__)

# "hub" is the MailBeacon hub of SPEC 8 ([hub] url), beside the four channels of SPEC 5
CHANNEL_NAMES = ("webhook", "hub", "teams", "slack", "email")
DELIVERED, RETRY, REFUSED = "delivered", "retry", "refused"
HTTP_TIMEOUT = (5.0, 15.0)  # connect, each read
# the whole exchange: a receiver that keeps dripping bytes never trips the per-read timeout, and
# a send holds the outbox lock (the dialog's Send and `outbox flush` wait behind it)
HTTP_TOTAL_S = 45.0
_MAX_DETAIL_BYTES = 4096


@dataclass
class Result:
    status: str  # delivered | retry | refused
    reason: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait


class Channel:
    name = ""

    def send(self, report: dict[str, Any], body: bytes) -> Result:
        raise NotImplementedError


def configured(config: Config) -> dict[str, Channel]:
    """The channels this configuration enables, in SPEC order."""
    from app.report.channels.email import EmailChannel
    from app.report.channels.hub import HubChannel
    from app.report.channels.slack import SlackChannel
    from app.report.channels.teams import TeamsChannel
    from app.report.channels.webhook import WebhookChannel

    r = config.report
    channels: dict[str, Channel] = {}
    if r.webhook_url:
        channels["webhook"] = WebhookChannel(config)
    # the hub's own notify configuration has no [hub] url section of the laptop kind
    hub = getattr(config, "hub", None)
    if hub is not None and getattr(hub, "url", ""):
        channels["hub"] = HubChannel(config)
    if r.teams_url:
        channels["teams"] = TeamsChannel(config)
    if r.slack_url:
        channels["slack"] = SlackChannel(config)
    if r.email_to and r.relay:
        channels["email"] = EmailChannel(config)
    return channels


# ---------------------------------------------------------------- HTTP, shared by three channels


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _session(config: Config) -> requests.Session:
    """A session that trusts the OS store (corporate proxies re-sign TLS) plus tls.ca_file."""
    import requests
    from requests.adapters import HTTPAdapter

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = _ssl_context(config)
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("https://", _Adapter())
    return session


def _ssl_context(config: Config) -> ssl.SSLContext:
    """The checks' verifying context (the OS store plus tls.ca_file), shared and cached."""
    from app.diagnosis.tls import client_context

    return client_context(config)


def post(config: Config, url: str, body: bytes, headers: dict[str, str]) -> Result:
    """POST and classify the answer per SPEC: 2xx delivered; 408/429/5xx and network errors
    retry; other 4xx and redirects are permanent refusals. Bounded by HTTP_TOTAL_S overall."""
    box: dict[str, Any] = {}

    def attempt() -> None:
        try:
            box["result"] = _post(config, url, body, headers)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    # a daemon thread: when the receiver never finishes, it is abandoned (its socket closes when
    # the receiver gives up or the process ends) and the report is retried with the same key
    worker = threading.Thread(target=attempt, name="report-post", daemon=True)
    worker.start()
    worker.join(HTTP_TOTAL_S)
    if worker.is_alive():
        return Result(RETRY, f"no complete answer within {HTTP_TOTAL_S:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _post(config: Config, url: str, body: bytes, headers: dict[str, str]) -> Result:
    import requests

    try:
        with _session(config) as session:
            resp = session.post(
                url, data=body, headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False, stream=True
            )
            with resp:
                return _classify(resp)
    except requests.exceptions.SSLError as exc:
        return Result(RETRY, f"secure connection failed: {_short(exc)}")
    except requests.exceptions.Timeout:
        return Result(RETRY, "no answer in time")
    except requests.exceptions.ConnectionError as exc:
        return Result(RETRY, f"could not connect: {_short(exc)}")
    except requests.exceptions.RequestException as exc:
        return Result(RETRY, f"request failed: {_short(exc)}")


def _classify(resp: requests.Response) -> Result:
    code = resp.status_code
    text = f"HTTP {code} {resp.reason or ''}".strip()
    if 200 <= code < 300:
        return Result(DELIVERED, text)
    if code in (408, 429) or code >= 500:
        return Result(RETRY, text, parse_retry_after(resp.headers.get("Retry-After")))
    if 300 <= code < 400:
        return Result(REFUSED, f"{text}: redirected to {resp.headers.get('Location', '?')}")
    # only the start of a refusal's body: enough for the reason, never a huge error page
    try:
        raw = next(resp.iter_content(_MAX_DETAIL_BYTES), b"")
    except Exception:  # the refusal stands even when its body breaks off
        raw = b""
    start = raw.decode(resp.encoding or "utf-8", "replace").strip() if isinstance(raw, bytes) else ""
    detail = start.splitlines()[0][:200] if start else ""
    return Result(REFUSED, f"{text}: {detail}" if detail else text)


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 wraps the useful part ("Connection refused") deep in a long repr
    for marker in ("] ", "Errno"):
        if marker in text:
            text = text.split(marker)[-1]
    return text.strip(" ')\"")[:200] or type(exc).__name__


def user_agent() -> str:
    from app import version

    return f"MailBeacon/{version()}"
