"""What IT reads: the technical line per check behind "Details for IT" and in "Copy as text", and
the probe sentences that explain what a real server did (partial greetings, the other TLS mode,
sign-in only after STARTTLS, a handshake that never reached a certificate), and why IT's status
feed could not be read (the `error` of it_status)."""

from __future__ import annotations

from typing import Any

from app.words.staff import STATUS_WORD

# ---------------------------------------------------------------- probe sentences

PARTIAL_GREETING = (
    "The server at {where} started its greeting ({first!r}) but did not finish it within the "
    "time allowed; a greet delay (such as Postfix postscreen's) or an overloaded server does this."
)
NO_GREETING = "The server accepted the connection but never sent its greeting."
TLS_ON_PLAIN_ENDPOINT = (
    "The server at {where} answered with TLS bytes instead of a plain-text greeting: this port "
    'speaks implicit TLS, so set tls = "implicit" for it (or use the STARTTLS port).'
)
PLAIN_ON_TLS_ENDPOINT = (
    "The secure (TLS) handshake failed before any certificate was exchanged: the server at "
    "{where} sent a plain-text greeting ({first!r}), so this port expects STARTTLS, not "
    'implicit TLS; set tls = "starttls" for it (or use the implicit-TLS port).'
)
SILENT_ON_STARTTLS_ENDPOINT = (
    "The server accepted the connection but sent no greeting. If this is an implicit-TLS port "
    '(465, 993, 995) the server is waiting for a TLS handshake: set tls = "implicit" for it.'
)
AUTH_AFTER_STARTTLS = (
    "The server at {where} answers in plain text and offers STARTTLS; it advertises no sign-in "
    "before it (as smtpd_tls_auth_only does), so sign-in is offered after STARTTLS: set "
    'tls = "starttls" for this endpoint to check it.'
)
REFUSED_GREETING = "The mail server at {where} refuses service ({code} {text})."
REFUSED_521 = (
    "The mail server at {where} refuses service to this computer ({code} {text}); 521 at connect "
    "means it accepts no mail from this address (RFC 7504), often a blocklist."
)


# ---------------------------------------------------------------- the status feed's errors
# {where} is FEED_AT or FILE_AT; the reader scrubs the finished sentence (a URL may carry a token)

FEED_AT = "The IT status feed at {url}"
FILE_AT = "The IT status file {path}"
FEED_ERROR = {
    "timeout": "{where} did not answer in time.",
    "too_large": "{where} is larger than {size}.",
    "http_error": "Could not read the IT status feed at {url}: {reason}.",
    "http_status": "{where} answered HTTP {status} {reason}.",
    "not_found": "{where} was not found.",
    "os_error": "{where} could not be read: {reason}.",
    "file_timeout": "{where} could not be read within {timeout:.3g} s.",
    "not_modified_first": "{where} said 'not modified' to a first read.",
    "not_json": "{where} is not valid JSON.",
    "bad_feed": "{where} {reason}.",
    "unexpected": "The IT status feed could not be read: {reason}.",
}


def feed_error(key: str, **values: Any) -> str:
    """One of FEED_ERROR with its values; a sentence never ends in a doubled stop."""
    text = FEED_ERROR[key].format(**values).replace(" .", ".").rstrip()
    return text[:-1] if text.endswith("..") else text


def feed_line(it_status: dict[str, Any] | None) -> str | None:
    """'IT status feed: <why it could not be read>' for Details for IT, or None."""
    error = (it_status or {}).get("error")
    return f"IT status feed: {error}" if error else None


# ---------------------------------------------------------------- Details for IT, Copy as text


def _facts(check: Any) -> list[str]:
    data = check.data or {}
    facts = []
    tls = data.get("tls") or {}
    if tls.get("version"):
        facts.append(f"{tls['version']}" + (f" {tls['cipher']}" if tls.get("cipher") else ""))
    if data.get("greeting"):
        facts.append(f"greeting {str(data['greeting'])[:80]!r}")
    if data.get("auth_mechanisms"):
        facts.append("sign-in " + " ".join(data["auth_mechanisms"]))
    if data.get("http_status"):
        facts.append(f"HTTP {data['http_status']}")
    if data.get("addresses"):
        facts.append("addresses " + ", ".join(map(str, data["addresses"][:4])))
    return facts


def check_line(check: Any) -> str:
    """'[Failed] smtp mail.example.com:587 — tls_cert_untrusted (41 ms): <detail> [facts]'."""
    status = STATUS_WORD.get(check.status, check.status)
    target = f" {check.target}" if check.target else ""
    line = f"[{status}] {check.kind}{target} — {check.code} ({check.duration_ms:.0f} ms): {check.detail}"
    facts = _facts(check)
    return line + (f" [{'; '.join(facts)}]" if facts else "")


def verdict_line(diagnosis: Any) -> str:
    return f"Verdict: {diagnosis.verdict} (layer: {diagnosis.layer}), checked {diagnosis.checked_at}"
