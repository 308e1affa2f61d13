"""What a discovery is (SPEC section 7): the address, the servers found, where from, and every
attempt; plus the run state each source shares (the deadline, the attempt log)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.words import it

if TYPE_CHECKING:
    from app.config import Config, Endpoint
    from app.diagnosis.probes.base import Deadline

SCHEMA = 1
SOURCES = ("autoconfig", "autodiscover", "srv", "mx")
RESULTS = ("found", "not_found", "error")
MAIL_KINDS = ("smtp", "imap", "pop3")
KIND_ORDER = {"smtp": 0, "imap": 1, "pop3": 2, "https": 3}
NAMES = {
    "smtp": "Outgoing mail",
    "imap": "Incoming mail",
    "pop3": "Incoming mail (POP3)",
    "https": "Webmail",
}
IMPLICIT_PORTS = {465, 993, 995, 443}

_HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str, limit: int = 300) -> str:
    """Outside text made safe to print: no control characters (no terminal escapes), bounded."""
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def valid_host(host: str) -> bool:
    """A DNS host name as a server may be named (no ports, schemes, spaces or markup)."""
    return bool(_HOST.fullmatch(host))


def web_url(text: str) -> str:
    """`text` when it is a plain http(s) URL a person may be shown and sent to, else ""."""
    from urllib.parse import urlsplit

    text = (text or "").strip()
    if len(text) > 2048 or _CONTROL.search(text) or any(c.isspace() for c in text):
        return ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port out of range raises here, not later)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname or not valid_host(parts.hostname):
        return ""
    return text


def endpoint(kind: str, host: str, port: int, tls: str, url: str = "") -> dict[str, Any]:
    """One endpoint in the SPEC shape: kind/host/port/tls/name, and url for https."""
    item: dict[str, Any] = {"kind": kind, "host": host.rstrip(".").lower(), "port": int(port),
                            "tls": tls, "name": NAMES[kind]}
    if kind == "https":
        item["url"] = url
    return item


def ordered(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """smtp first, then imap, pop3, https (stable within a kind), without repeats."""
    seen: set[tuple[str, str, int]] = set()
    unique = []
    for ep in endpoints:
        key = (ep["kind"], ep["host"], ep["port"])
        if key not in seen:
            seen.add(key)
            unique.append(ep)
    return sorted(unique, key=lambda ep: KIND_ORDER.get(ep["kind"], 9))


def has_mail(endpoints: list[dict[str, Any]]) -> bool:
    return any(ep["kind"] in MAIL_KINDS for ep in endpoints)


@dataclass
class Discovery:
    """The result of `discover()`: `source` is the first that gave a mail endpoint, or "none"."""

    address: str
    domain: str
    source: str = "none"
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    webmail_url: str = ""
    tried: list[dict[str, str]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.source != "none" and has_mail(self.endpoints)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "address": self.address,
            "domain": self.domain,
            "source": self.source,
            "endpoints": [dict(ep) for ep in self.endpoints],
            "webmail_url": self.webmail_url,
            "tried": [dict(t) for t in self.tried],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Discovery:
        return cls(
            address=str(obj.get("address") or ""),
            domain=str(obj.get("domain") or ""),
            source=str(obj.get("source") or "none"),
            endpoints=[dict(ep) for ep in obj.get("endpoints") or []],
            webmail_url=str(obj.get("webmail_url") or ""),
            tried=[dict(t) for t in obj.get("tried") or []],
        )

    def config_endpoints(self) -> list[Endpoint]:
        """The endpoints as the checks take them."""
        from app.config import Endpoint

        return [
            Endpoint(kind=ep["kind"], host=ep["host"], port=int(ep["port"]), tls=ep["tls"],
                     name=ep.get("name", ""), url=ep.get("url", ""))
            for ep in self.endpoints
        ]


@dataclass
class Found:
    """What one source brought back."""

    endpoints: list[dict[str, Any]] = field(default_factory=list)
    webmail_url: str = ""


class Run:
    """The state of one discovery: who, under which deadline, and the attempts so far."""

    def __init__(self, address: str, domain: str, config: Config, deadline: Deadline) -> None:
        self.address = address
        self.domain = domain
        self.config = config
        self.deadline = deadline
        self.tried: list[dict[str, str]] = []
        self._lock = threading.Lock()

    @property
    def request_address(self) -> str:
        # a bare domain still needs an address for Autodiscover: postmaster exists everywhere
        return self.address or f"postmaster@{self.domain}"

    def fetch_timeout(self) -> float:
        """Each fetch: check.timeout_s, never past the whole discovery's deadline."""
        return self.deadline.timeout(float(self.config.check.timeout_s))

    def record(self, source: str, url: str, result: str, detail: str) -> None:
        assert result in RESULTS, result
        with self._lock:
            self.tried.append({"source": source, "url": clean(url), "result": result, "detail": clean(detail)})

    def out_of_time(self, source: str) -> bool:
        if self.deadline.remaining() > 0.05:
            return False
        self.record(source, "", "error", it.attempt("run", "out_of_time"))
        return True
