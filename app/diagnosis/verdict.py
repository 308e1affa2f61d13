"""Layers -> verdict, layer, headline and advice (SPEC section 4), in words for non-technical people."""

from __future__ import annotations

from dataclasses import dataclass

from app.diagnosis.model import FAIL, LAYERS, OK, WARN, Check

# server-layer failures that still prove a host answered at the mail server's address
# service-layer failures that can come from a middlebox on the user's side rather than the mail
# server itself (a silent accept); a TCP refusal or reset can come from any firewall too
_NOT_PROOF_OF_SERVER = {"banner_timeout"}
_TLS_CODES = {"tls_cert_expired", "tls_cert_untrusted", "tls_hostname_mismatch", "tls_handshake_failed"}

# what a kind of endpoint does, for people
_FUNCTION = {
    "smtp": "Sending mail",
    "imap": "Receiving mail",
    "pop3": "Receiving mail",
    "https": "Webmail",
    "tcp": "The mail server",
}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    layer: str
    headline: str
    advice: str


def decide(checks: list[Check]) -> Verdict:
    """Decide the verdict; a failing internet or DNS control check beside working mail is
    downgraded to a warning in place (many offices block such probes)."""
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
        return Verdict("down", layer, *_down(failing))
    if failing or any(c.status == WARN for c in endpoints):
        return Verdict("degraded", layer, *_degraded(endpoints, failing))
    return Verdict("ok", layer, "Mail is working.", "Nothing to do: you can send and receive mail.")


def _layer(checks: list[Check]) -> str:
    for status in (FAIL, WARN):
        layers = {c.layer for c in checks if c.status == status}
        for layer in LAYERS:
            if layer in layers:
                return layer
    return "none"


def _unknown(local_reason: Check | None) -> tuple[str, str]:
    headline = "MailBeacon does not know which mail server to check."
    if local_reason is not None and local_reason.kind == "link":
        headline = "This computer is not connected to a network, and no mail server is set up to check."
    return headline, (
        "Ask IT to set up MailBeacon: it needs your mail address or the mail servers "
        "in its configuration."
    )


def _local(reason: Check) -> tuple[str, str]:
    if reason.kind == "link":
        return (
            "This computer is not connected to any network.",
            "Turn on Wi-Fi or plug in a network cable. Mail will work again once you are connected.",
        )
    if reason.code == "captive_portal":
        return (
            "Your Wi-Fi is asking you to sign in.",
            "Open a web browser and sign in or accept the network's terms; mail will work after that.",
        )
    if reason.code == "proxy_auth_required":
        return (
            "Your network's proxy is asking you to sign in, so mail cannot get through.",
            "Open a web browser and sign in to the proxy. If that does not help, tell IT.",
        )
    if reason.kind == "dns":
        return (
            "Your network cannot look up any names, so mail cannot be reached — "
            "this is your connection, not the mail server.",
            "Disconnect and reconnect to the network (or your VPN). At home, restarting the "
            "router usually helps.",
        )
    return (
        "Your internet connection is not working — this is your connection, not the mail server.",
        "Check your Wi-Fi or cable, or try another network. Mail will come back once you are online.",
    )


_REPORT_ADVICE = (
    "Nothing on your computer needs fixing. Report it to IT with one click so they get the "
    "facts; there is no need to restart anything."
)


def _down(failing: list[Check]) -> tuple[str, str]:
    lowest = min(failing, key=lambda c: LAYERS.index(c.layer))
    codes = {c.code for c in failing}
    if lowest.layer == "dns":
        headline = "The mail server's address cannot be found — this is not your computer."
    elif lowest.layer == "server":
        headline = "The mail server is not answering — this is not your computer."
    elif codes & _TLS_CODES and codes <= _TLS_CODES:
        headline = "The mail server's security certificate is not valid — this is not your computer."
        return headline, (
            "Do not accept certificate warnings in your mail app. Report it to IT with one click "
            "so they can fix the certificate."
        )
    elif "service_unavailable" in codes:
        headline = "The mail server is turning connections away right now — this is not your computer."
    else:
        headline = "The mail server answers but is not working properly — this is not your computer."
    return headline, _REPORT_ADVICE


def _function(check: Check) -> str:
    return check.name or _FUNCTION.get(check.kind, check.kind)


def _join(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if len(unique) == 1:
        return unique[0]
    return ", ".join(unique[:-1]) + " and " + unique[-1].lower()


def _degraded(endpoints: list[Check], failing: list[Check]) -> tuple[str, str]:
    if failing:
        working = [c for c in endpoints if c.status != FAIL]
        broken = _join([_function(c) for c in failing])
        verb = "is" if len({_function(c) for c in failing}) == 1 else "are"
        headline = f"{broken} {verb} not working"
        if working:
            headline += f"; {_join([_function(c) for c in working]).lower()} still works."
        else:
            headline += "."
        return headline, (
            "You can keep using what works. Report it to IT with one click so they get the facts."
        )
    warned = [c for c in endpoints if c.status == WARN]
    codes = {c.code for c in warned}
    if codes == {"slow"}:
        headline = "Mail works, but the mail server is slow to answer."
    elif "tls_cert_expiring" in codes:
        days = min(
            (c.data.get("tls", {}).get("days_left") for c in warned if c.code == "tls_cert_expiring"),
            key=lambda d: d if isinstance(d, int | float) else 10**6,
        )
        if not isinstance(days, int | float):
            when = "soon"
        elif days < 1:
            when = "today"
        else:
            when = f"in {days:.0f} day{'s' if days >= 2 else ''}"
        headline = f"Mail works, but the mail server's security certificate expires {when}."
    elif "auth_not_offered" in codes:
        headline = "Mail works, but the mail server does not offer sign-in right now."
    else:
        headline = "Mail works, with a warning."
    return headline, "Nothing to do for now. IT may want to know: you can report it with one click."


__all__ = ["Verdict", "decide", "OK"]
