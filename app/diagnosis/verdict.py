"""Layers -> verdict, layer, headline and advice (SPEC section 4), in words for non-technical people."""

from __future__ import annotations

from dataclasses import dataclass

from app.diagnosis.model import FAIL, LAYERS, OK, WARN, Check
from app.words import staff

# service-layer failures that can come from a middlebox on the user's side rather than the mail
# server itself (a silent accept); a TCP refusal or reset can come from any firewall too
_NOT_PROOF_OF_SERVER = {"banner_timeout"}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    layer: str
    headline: str
    advice: str


def decide(checks: list[Check], *, ca_file_set: bool = False) -> Verdict:
    """Decide the verdict; a failing internet or DNS control check beside working mail is
    downgraded to a warning in place (many offices block such probes). `ca_file_set` says
    whether IT configured tls.ca_file: without it, an untrusted certificate may be this
    laptop lacking the company CA, so the headline does not blame the server."""
    by_kind = {c.kind: c for c in checks if not c.is_endpoint}
    link, internet, dns = by_kind.get("link"), by_kind.get("internet"), by_kind.get("dns")
    endpoints = [c for c in checks if c.is_endpoint]
    failing = [c for c in endpoints if c.status == FAIL]
    all_mail_fails = bool(endpoints) and len(failing) == len(endpoints)

    def fails(check: Check | None) -> bool:
        return check is not None and check.status == FAIL

    # a mail server that greeted, answered a command or showed a certificate was reached: the
    # path works, so a blocked internet probe (common in offices) does not make it "your
    # connection"; otherwise internet + every endpoint failing is local, as the contract says
    server_answered = any(c.layer == "service" and c.code not in _NOT_PROOF_OF_SERVER for c in failing)
    # "the resolver cannot resolve the control name either": a mail name failed to resolve too
    names_fail = any(c.layer == "dns" for c in failing)

    local_reason: Check | None = None
    if fails(link):
        local_reason = link
    elif fails(internet) and internet.code == "captive_portal" and (failing or not endpoints):  # type: ignore[union-attr]
        # a portal blocks mail too; with every endpoint answering it is an office filter
        local_reason = internet
    elif fails(dns) and ((all_mail_fails and names_fail) or not endpoints):
        local_reason = dns
    elif fails(internet) and ((all_mail_fails and not server_answered) or not endpoints):
        local_reason = internet

    if local_reason is None:
        for side in (internet, dns):
            if fails(side):
                side.status = WARN  # type: ignore[union-attr]

    layer = _layer(checks)
    if not endpoints:
        headline, advice = _unknown(local_reason)
        return Verdict("unknown", layer, headline, advice)
    if local_reason is not None:
        return Verdict("local", layer, *_local(local_reason))
    if all_mail_fails:
        return Verdict("down", layer, *_down(failing, ca_file_set))
    if failing or any(c.status == WARN for c in endpoints):
        return Verdict("degraded", layer, *_degraded(endpoints, failing))
    return Verdict("ok", layer, *staff.OK)


def _layer(checks: list[Check]) -> str:
    for status in (FAIL, WARN):
        layers = {c.layer for c in checks if c.status == status}
        for layer in LAYERS:
            if layer in layers:
                return layer
    return "none"


def _unknown(local_reason: Check | None) -> tuple[str, str]:
    offline = local_reason is not None and local_reason.kind == "link"
    return (staff.UNKNOWN_OFFLINE_HEADLINE if offline else staff.UNKNOWN_HEADLINE), staff.UNKNOWN_ADVICE


def _local(reason: Check) -> tuple[str, str]:
    if reason.kind in ("link", "dns"):
        return staff.LOCAL[reason.kind]
    return staff.LOCAL.get(reason.code, staff.LOCAL["internet"])


def _down(failing: list[Check], ca_file_set: bool) -> tuple[str, str]:
    lowest = min(LAYERS.index(c.layer) for c in failing)
    causes = {staff.cause(c.code, c.layer) for c in failing if LAYERS.index(c.layer) == lowest}
    which = causes.pop() if len(causes) == 1 else "service"
    if which == "certificate" and not ca_file_set and all(
        c.code == "tls_cert_untrusted" for c in failing if staff.cause(c.code, c.layer) == "certificate"
    ):
        which = "certificate_here"
    if all(c.kind == "https" for c in failing):
        return staff.DOWN_WEBMAIL.get(which, staff.DOWN_WEBMAIL["service"])
    return staff.DOWN[which]


def _degraded(endpoints: list[Check], failing: list[Check]) -> tuple[str, str]:
    if failing:
        functions: dict[str, list[bool]] = {}
        for check in endpoints:
            functions.setdefault(staff.function_name(check.kind, check.name), []).append(check.status == FAIL)
        broken = [f for f, fails in functions.items() if all(fails)]
        partial = [f for f, fails in functions.items() if any(fails) and not all(fails)]
        working = [f for f, fails in functions.items() if not any(fails)]
        # a refused or silent port beside answering ones can be the network in between
        network_maybe = all(c.layer == "server" for c in failing)
        headline = staff.partly_headline(broken, partial, working, network_maybe=network_maybe)
        return headline, staff.PARTLY_ADVICE
    warned = [c for c in endpoints if c.status == WARN]
    codes = {c.code for c in warned}
    if codes == {"slow"}:
        headline = staff.WARN["slow"]
    elif "tls_cert_expiring" in codes:
        days = [
            c.data.get("tls", {}).get("days_left") for c in warned if c.code == "tls_cert_expiring"
        ]
        known = [d for d in days if isinstance(d, int | float)]
        headline = staff.expiring_headline(min(known) if known else None)
    elif "auth_not_offered" in codes:
        headline = staff.WARN["auth_not_offered"]
    else:
        headline = staff.WARN["other"]
    return headline, staff.WARN_ADVICE


__all__ = ["Verdict", "decide", "OK"]
