"""What the first-run set-up window says: its labels and buttons, where the servers were found,
each server in words, how it answered (one sentence, with what the person can do about it), and
what to do next. Mail settings come with their protocol names (IMAP, STARTTLS) because that is
how providers and IT write them down; everything else is plain words."""

from __future__ import annotations

from typing import Any

from app.words import staff

TITLE = "Set up MailBeacon"
INTRO = (
    "MailBeacon watches your mail servers and tells you when mail stops working. "
    "Type your email address and it finds your servers and checks them."
)
LABELS = {
    "address": "Your &email address:",
    "address_placeholder": "name@example.com",
    "address_locked": "Your IT department set this address.",
    "find": "&Find my mail servers",
    "manual": "Enter servers &by hand",
    "check": "&Check these servers",
    "save": "&Save",
    "save_anyway": "&Save anyway",
    "cancel": "Cancel",
    "it_show": "Show what was &tried (for IT)",
    "it_hide": "Hide what was &tried",
    "form": "Enter your mail servers",
    "sending": "Sen&ding mail",
    "receiving": "&Receiving mail",
    "protocol": "Protocol",
    "server": "Server",
    "port": "Port",
    "security": "Security",
    "server_example": "for example {kind}.{domain}",
}
# the manual form's security choices, in the words mail providers use
SECURITY_CHOICES = (("SSL/TLS", "implicit"), ("STARTTLS", "starttls"), ("None (not secure)", "none"))
STATUS = {
    "bad_address": "That does not look like an email address; it should look like name@example.com.",
    "finding": "Looking for the mail servers of {domain}…",
    "find_failed": (
        "Looking up your mail servers did not work ({reason}). Enter them below; your IT "
        "department or mail provider can tell you what they are."
    ),
    "no_lookup": "this version cannot look them up",
    "checking_typed": "Checking the servers you entered…",
    "checking": "Checking these servers…",
    "check_failed": "The check could not run ({reason}). Try again with Check.",
    "save_failed": "Could not save the settings: {reason}.",
    "no_save": "this version cannot save them",
}
INPUT = {
    "host_shape": (
        "The server for {purpose} mail should be a name like mail.example.com, without http:// "
        "or a port (the port has its own box)."
    ),
    "host": "The server for {purpose} mail should be a name like mail.example.com.",
    "port": "The port for {purpose} mail must be a number from 1 to 65535.",
    "security": "Choose how the connection for {purpose} mail is secured.",
    "none": "Enter at least one server: the one for sending or for receiving mail.",
}

_SOURCE = {
    "autoconfig": "Found through your mail provider's settings file (autoconfig).",
    "autodiscover": "Found through your organisation's Exchange settings (Autodiscover).",
    "srv": "Found through your domain's mail service records (DNS SRV).",
    "mx": "Found through your domain's mail exchanger record (MX).",
}
_PROVIDERS = (
    ("office365.com", "Microsoft 365"),
    ("outlook.com", "Microsoft 365"),
    ("gmail.com", "Google"),
    ("google.com", "Google"),
)


def source_sentence(result: Any) -> str:
    """Where the servers came from, in one sentence (`result` is an app.discovery.Discovery)."""
    source = getattr(result, "source", "none")
    if source == "none" or not getattr(result, "endpoints", None):
        domain = getattr(result, "domain", "") or "this address"
        return (
            f"No mail servers were found for {domain}. Enter them below; your IT department "
            "or mail provider can tell you what they are."
        )
    sentence = _SOURCE.get(source, f"Found through {source}.")
    if source == "mx":
        hosts = " ".join(str(e.get("host", "")) for e in result.endpoints)
        provider = next((name for suffix, name in _PROVIDERS if suffix in hosts), None)
        if provider:
            sentence = f"Found through your domain's mail exchanger record (MX): your mail is at {provider}."
    if source == "autoconfig" and any(
        t.get("source") == "autoconfig" and t.get("result") == "found"
        and str(t.get("url", "")).startswith("http://")
        for t in getattr(result, "tried", [])
    ):
        sentence = sentence[:-1] + ", read over an unsecured connection: check them with IT."
    return sentence


_SECURITY = {"starttls": "secured with STARTTLS", "implicit": "secured with SSL/TLS", "none": "not secured"}
_KIND = {"smtp": "Sending mail", "imap": "Receiving mail (IMAP)", "pop3": "Receiving mail (POP3)",
         "https": "Webmail", "tcp": "Mail server"}


def endpoint_title(endpoint: Any) -> str:
    return _KIND.get(endpoint.kind, endpoint.kind)


def endpoint_words(endpoint: Any) -> str:
    """"smtp.example.com, port 587, secured with STARTTLS" (webmail: its address)."""
    if endpoint.kind == "https":
        return endpoint.url
    return f"{endpoint.host}, port {endpoint.port}, {_SECURITY.get(endpoint.tls, endpoint.tls)}"


def check_state(check: Any) -> str:
    """ok | warn | fail | waiting: the colour of a server's row."""
    if check is None:
        return "waiting"
    return {"ok": "ok", "warn": "warn", "fail": "fail"}.get(check.status, "fail")


# what the person can do about each cause (staff.cause) while setting up
_HINT = {
    "dns": "check the server name",
    "server": "check the server name and port, or whether it only works at the office",
    "silent": "check the port and the security setting",
    "refused": "try again in a few minutes",
    "secure": "try another security setting",
    "certificate": "ask IT whether this is the right server",
    "service": "check the port and the security setting",
}


def check_sentence(check: Any) -> str:
    """How one server answered, in one sentence the person can act on."""
    if check is None:
        return "Checking…"
    sentence = staff.check_sentence(check.kind, check.status, check.code, check.layer, check.data)
    if check.status != "fail":
        return sentence
    hint = _HINT.get(staff.cause(check.code, check.layer))
    return f"{sentence.rstrip('.')}: {hint}." if hint else sentence


def summary_sentence(diagnosis: Any, endpoints: list[Any]) -> str:
    """The line under the servers once the check is back."""
    checks = {c.id: c for c in diagnosis.endpoint_checks}
    failed = [e for e in endpoints if check_state(checks.get(e.id)) == "fail"]
    if not failed:
        return "Everything answered. Press Save to start watching your mail."
    if diagnosis.verdict == "local":
        return f"{diagnosis.headline.rstrip('.')}. You can save now; MailBeacon checks again once you are connected."
    if len(failed) == 1 and len(endpoints) > 1:
        return "One server did not answer. You can save anyway; MailBeacon keeps checking and shows when it works."
    if len(failed) == len(endpoints):
        return "None of these servers answered. Check what you typed, or save anyway if they only work at the office."
    return "Some servers did not answer. You can save anyway; MailBeacon keeps checking and shows when they work."


def it_detail(result: Any, diagnosis: Any = None) -> str:
    """What IT reads behind "Show what was tried": every discovery attempt and each check's
    technical line, scrubbed of secrets."""
    from app.report.redact import scrub_text
    from app.words import it

    lines: list[str] = []
    if result is not None:
        lines.append(f"Address: {result.address}  domain: {result.domain}  source: {result.source}")
        for attempt in getattr(result, "tried", None) or []:
            lines.append(f"  {attempt.get('source', '')}: {attempt.get('result', '')}  {attempt.get('url', '')}")
            lines.append(f"      {attempt.get('detail', '')}")
    if diagnosis is not None:
        lines.append("Check:")
        lines.extend(f"  {it.check_line(check)}" for check in diagnosis.checks)
    return scrub_text("\n".join(lines))
