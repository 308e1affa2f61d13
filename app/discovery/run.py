"""The ordered run: autoconfig, Autodiscover, SRV, MX under one deadline (3 x check.timeout_s);
the first source with a mail endpoint wins and every attempt is kept (SPEC section 7)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.discovery import autoconfig, autodiscover, mx, srv
from app.discovery.model import Discovery, Found, Run, has_mail, ordered, valid_host
from app.errors import UsageError
from app.words import it

if TYPE_CHECKING:
    from app.config import Config

log = logging.getLogger(__name__)

ORDER: tuple[tuple[str, Callable[[Run], Found]], ...] = (
    ("autoconfig", autoconfig.find),
    ("autodiscover", autodiscover.find),
    ("srv", srv.find),
    ("mx", mx.find),
)


def split_address(text: str) -> tuple[str, str]:
    """("jane@corp.example", "corp.example") from an address, ("", domain) from a bare domain;
    UsageError (exit 64) for anything else."""
    raw = (text or "").strip()
    local, at, domain = raw.rpartition("@")
    if at and not local:
        raise UsageError(f"{raw!r} is not an email address (nothing before the @).")
    if any(c.isspace() or ord(c) < 32 for c in raw) or "@" in local:
        raise UsageError(f"{raw!r} is not an email address or a domain.")
    domain = domain.rstrip(".").lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise UsageError(f"{domain!r} is not a valid domain name.") from None
    if not ascii_domain or "." not in ascii_domain or not valid_host(ascii_domain):
        raise UsageError(f"{raw!r} is not an email address or a domain (like jane@corp.example).")
    address = f"{local}@{ascii_domain}" if at else ""
    return address, ascii_domain


def discover(address: str, config: Config, *, deadline_s: float | None = None) -> Discovery:
    """Find the mail servers of `address` (or a bare domain). Blocking, thread-safe, never
    raises for what the network answers; UsageError for input that is no address."""
    from app.diagnosis.probes.base import Deadline

    who, domain = split_address(address)
    seconds = deadline_s if deadline_s is not None else 3 * float(config.check.timeout_s)
    run = Run(who, domain, config, Deadline(seconds))
    result = Discovery(address=who, domain=domain)
    for name, find in ORDER:
        if run.out_of_time(name):
            continue
        try:
            found = find(run)
        except Exception as exc:  # a source bug must not end discovery: it is an attempt that failed
            log.warning("discovery source %s failed: %r", name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            run.record(name, "", "error", it.attempt("run", "source_failed", error=type(exc).__name__))
            continue
        if has_mail(found.endpoints):
            result.source = name
            result.endpoints = ordered(found.endpoints)
            result.webmail_url = found.webmail_url
            break
    result.tried = list(run.tried)
    return result
