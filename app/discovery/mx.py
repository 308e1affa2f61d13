"""MX records (SPEC section 7, step 4): an MX host of a known provider maps to that provider's
client servers (nothing is contacted); otherwise autoconfig over https on the MX host's parent
domain, the way Thunderbird finds the settings of a hosted domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.discovery import autoconfig
from app.discovery.dnsq import query
from app.discovery.model import Found, endpoint, has_mail, valid_host
from app.words import it

if TYPE_CHECKING:
    from app.discovery.model import Run

SOURCE = "mx"

# (provider, MX host suffixes, endpoints, webmail URL)
PROVIDERS: tuple[tuple[str, tuple[str, ...], list[dict[str, Any]], str], ...] = (
    (
        "Microsoft 365",
        (".mail.protection.outlook.com",),
        [
            endpoint("smtp", "smtp.office365.com", 587, "starttls"),
            endpoint("imap", "outlook.office365.com", 993, "implicit"),
            endpoint("https", "outlook.office365.com", 443, "implicit", "https://outlook.office365.com/owa/"),
        ],
        "https://outlook.office365.com/owa/",
    ),
    (
        "Google",
        (".google.com", ".googlemail.com"),
        [
            endpoint("smtp", "smtp.gmail.com", 587, "starttls"),
            endpoint("imap", "imap.gmail.com", 993, "implicit"),
        ],
        "",
    ),
)


def provider_of(mx_host: str) -> tuple[str, list[dict[str, Any]], str] | None:
    host = "." + mx_host.rstrip(".").lower()
    for name, suffixes, endpoints, webmail in PROVIDERS:
        if any(host.endswith(suffix) for suffix in suffixes):
            return name, [dict(ep) for ep in endpoints], webmail
    return None


def parent_domain(host: str) -> str:
    """mx1.mailhost.example -> mailhost.example; "" when only a top-level name would be left."""
    labels = host.rstrip(".").lower().split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else ""


def find(run: Run) -> Found:
    shown = f"MX {run.domain}"
    got = query(run, run.domain, "MX")
    if got.error:
        run.record(SOURCE, shown, "error", got.error)
        return Found()
    hosts = [str(r.exchange).rstrip(".") for r in sorted(got.records, key=lambda r: r.preference)]
    hosts = [h for h in hosts if h and valid_host(h)]
    if not hosts:
        run.record(SOURCE, shown, "not_found", got.missing or it.attempt("mx", "none", domain=run.domain))
        return Found()
    best = hosts[0]
    known = provider_of(best)
    if known is not None:
        name, endpoints, webmail = known
        said = it.attempt("mx", "provider", domain=run.domain, host=best, provider=name)
        run.record(SOURCE, shown, "found", said)
        return Found(endpoints, webmail)
    parent = parent_domain(best)
    if not parent or parent == run.domain.lower():
        said = it.attempt("mx", "asked_already", domain=run.domain, host=best)
        run.record(SOURCE, shown, "not_found", said)
        return Found()
    said = it.attempt("mx", "asking", domain=run.domain, host=best, parent=parent)
    run.record(SOURCE, shown, "not_found", said)
    found = autoconfig.find(run, parent, insecure=False, source=SOURCE)
    return found if has_mail(found.endpoints) else Found()
