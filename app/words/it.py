"""What IT reads: the technical line per check behind "Details for IT" and in "Copy as text",
the detail sentence of every check (what each probe found, layer by layer, and what a real
server did: partial greetings, the other TLS mode, sign-in only after STARTTLS, a handshake that
never reached a certificate), why IT's status feed could not be read (the `error` of
it_status), and what each attempt of discovery found (the `detail` of every `tried` entry, shown
by `mailbeacon discover` and behind the set-up window's "Show what was tried")."""

from __future__ import annotations

import re
from typing import Any

from app.words.staff import STATUS_WORD

_DOUBLED_STOP = re.compile(r"\.\.(?=\s|$)")


def _one_stop(text: str) -> str:
    """A finished sentence with one full stop where a value put before a stop ends in one."""
    return _DOUBLED_STOP.sub(".", text.rstrip())


# ---------------------------------------------------------------- the checks' details
# One sentence per outcome, by probe family in the order of the layers: a probe picks the key
# and passes the values, detail("smtp", "starttls_refused", where=..., code=..., text=...). A
# value that is a whole optional part of a sentence is one of PIECES, or "" where it does not
# apply. The engine scrubs every finished detail (a URL or a server's answer may carry a secret).

WHERE = "{host} port {port}"  # the place most sentences name: "smtp.example.com port 587"

# ---- any probe: the deadline passed while it was in this phase (ProbeContext.phase)
TIMEOUT = {
    "link": "Could not read this computer's network interfaces in time.",
    "link_facts": "Connected; the gateway and DNS servers could not be read in time.",
    "internet": "The internet check got no answer in time.",
    "dns": "The name lookup got no answer in time.",
    "tcp": "The server did not accept a connection in time.",
    "banner": "The server accepted the connection but never sent its greeting.",
    "tls": "The secure (TLS) handshake did not finish in time.",
    "protocol": "The server stopped answering in the middle of the conversation.",
    "http": "The web server did not answer in time.",
    "any": "Ran out of time.",  # a phase with no sentence of its own
}

# ---- any check: what the engine says of a probe that ended in an error of its own, or of one
# that answered but slowly (after the probe's own detail)
CHECK = {
    "unexpected": "Unexpected answer: {reason}.",
    "failed_during": "The connection failed during {phase}: {reason}.",
    "slow": "It took {ms:.0f} ms (slow).",
}

# ---- link: this computer's network interfaces
LINK = {
    "ok": "Connected through {interfaces}{gateway}{vpn}.",
    "no_address": (
        "No network address on {interfaces}: the network connection is up but this computer did "
        "not get an address (no DHCP answer?)."
    ),
    "not_connected": "This computer is not connected to any network (no Wi-Fi or cable link is up).",
}

# ---- internet: one GET of network.internet_url (captive portals, proxies)
INTERNET = {
    "off": "The internet check is turned off (network.internet_url is empty).",
    "ok": "The internet answered (HTTP {status}).",
    "timeout": "{url} did not answer in time.",
    "intercepted": (
        "Something intercepted the secure connection to {url} (its certificate is not the real "
        "one): probably a Wi-Fi login page."
    ),
    "ca_file": "The extra CA certificates in {ca_file} could not be read.",
    "proxy": "The proxy {proxy} could not be reached.",
    "proxy_auth": "The proxy asks for a login before it lets {url} through (HTTP 407).",
    "unreachable": "The internet could not be reached ({reason}).",
    "redirected": (
        "The network redirected the internet check{redirect_to}: you probably need to sign in to "
        "this Wi-Fi first."
    ),
    "status": (
        "The internet check got HTTP {status} instead of {expected}: something on this network "
        "(a login page or filter) answers in its place."
    ),
    "body": (
        "The internet check got a different page than expected: you probably need to sign in to "
        "this network first."
    ),
}

# ---- dns: the resolver's control name, and every endpoint's host name
DNS = {
    "off": "No control name to look up (dns.control_name is empty).",
    "ok_configured": "{name} resolved to {addresses} through the name servers {nameservers}.",
    "ok_system": "{name} resolved to {addresses} through this computer's resolver.",
    "nxdomain": "The name {host} does not exist (NXDOMAIN).",
    "invalid": "{host} is not a valid host name.",
    "no_address": "The name {host} exists but has no address.",
    "no_records": "{host} has no address records.",
    "servfail": "The name server failed to answer for {host} (SERVFAIL).",
    "timeout": "The name server did not answer for {host} in time.",
    "no_server": "No name server could be reached for {host}.",
    "server_unreachable": "Could not reach the name server: {reason}.",
    "lookup_failed": "Could not look up {host}: {reason}.",
    "failed": "The name lookup for {host} failed: {reason}.",
}

# ---- tcp: the connection itself ({where} is WHERE, or host:port)
TCP = {
    "ok": "The server at {where} accepted the connection in {ms:.0f} ms.",
    "refused": "The server at {where} refused the connection (nothing is listening).",
    "timeout": "The server at {where} did not answer (no reply to the connection).",
    "reset": "The connection to {where} was reset.",
    "reset_at_once": "The server at {where} accepted the connection and reset it at once.",
    "no_route": "There is no route to {where} ({reason}).",
    "failed": "Could not connect to {where}: {reason}.",
}

# ---- a conversation with any server (mail protocols, HTTP headers): greetings, resets, closes
CONVERSATION = {
    "partial_greeting": (
        "The server at {where} started its greeting ({first!r}) but did not finish it within the "
        "time allowed; a greet delay (such as Postfix postscreen's) or an overloaded server does "
        "this."
    ),
    "tls_on_plain": (
        "The server at {where} answered with TLS bytes instead of a plain-text greeting: this port "
        'speaks implicit TLS, so set tls = "implicit" for it (or use the STARTTLS port).'
    ),
    "closed_in_greeting": (
        "The server at {where} began a greeting ({first!r}) and closed the connection before "
        "finishing it."
    ),
    "closed_before_greeting": "The server at {where} closed the connection without sending a greeting.",
    "closed": "The server at {where} closed the connection in the middle of the conversation.",
    "reset": (
        "The server at {where} accepted the connection, then reset it (a firewall, an overloaded "
        "server or a crashed service)."
    ),
    "send_failed": "Sending to the server at {where} failed: {reason}.",
    "read_failed": "Reading from the server at {where} failed: {reason}.",
    "overlong": "The server at {where} sent an overlong line that is not mail protocol: {sample!r}.",
    "too_much": (
        "The server at {where} sent too much ({kb} KB) without finishing its answer; it is not "
        "behaving like a mail server."
    ),
    # STARTTLS (SMTP, IMAP) or STLS (POP3) was accepted, then the handshake failed: {detail} is
    # TLS's sentence for why
    "starttls_handshake": (
        "The server at {where} agreed to STARTTLS but the secure handshake then failed. {detail}"
    ),
    # a fresh connection for a second look at a rejected certificate (never shown on its own)
    "second_look_refused": "{command} refused on the second look.",
}

# ---- tls: the handshake and the certificate
TLS = {
    "reset": "The server reset the connection during the TLS handshake.",
    "plain_on_tls": (
        "The secure (TLS) handshake failed before any certificate was exchanged: the server at "
        "{where} sent a plain-text greeting ({first!r}), so this port expects STARTTLS, not "
        'implicit TLS; set tls = "starttls" for it (or use the implicit-TLS port).'
    ),
    "handshake_failed": (
        "The secure (TLS) handshake failed before any certificate was exchanged: {reason}. The "
        "server may not speak TLS on this port, or it only accepts settings this computer refuses."
    ),
    "expiring": (
        "The server's certificate expires in {days} days ({when}); renew it before mail programs "
        "start refusing the connection."
    ),
    "expiring_one_day": (
        "The server's certificate expires in 1 day ({when}); renew it before mail programs start "
        "refusing the connection."
    ),
    "not_yet_valid": (
        "The server's certificate ({subject}) is not valid yet (from {not_before}); check its "
        "dates and the server clock."
    ),
    "expired": (
        "The server's certificate ({subject}) expired{expired_on}; the server needs a renewed "
        "certificate."
    ),
    "mismatch": (
        "The server's certificate is not valid for {host} (it names {names}); the configured host "
        "name or the server's certificate is wrong."
    ),
    "untrusted": (
        "The server's certificate{issued_by} is not trusted by this computer ({reason}); the "
        "server may send an incomplete chain, use a private CA missing from tls.ca_file, or the "
        "connection is being intercepted."
    ),
    "untrusted_no_ca_file": (
        "The server's certificate{issued_by} is not trusted by this computer ({reason}); "
        "tls.ca_file is not set, so only this computer's trust store was used: a company CA "
        "missing on this computer, an incomplete chain sent by the server, or an intercepted "
        "connection would each do this."
    ),
}
# what a TLS sentence says in place of a fact it does not have
TLS_STAND_IN = {
    "subject": "the server's certificate",
    "not_before": "a future date",
    "when": "soon",
    "reason": "unknown issuer",
    "eof": "the server closed the connection",  # the {reason} of a handshake cut short
}

# ---- smtp: greeting, EHLO, STARTTLS, AUTH
SMTP = {
    "ok": "The mail server at {where} answers{over_tls} and offers sign-in ({mechanisms}).",
    "refused": "The mail server at {where} refuses service ({code} {text}).",
    "refused_521": (
        "The mail server at {where} refuses service to this computer ({code} {text}); 521 at "
        "connect means it accepts no mail from this address (RFC 7504), often a blocklist."
    ),
    "bad_greeting": "The server at {where} greeted with {code} {text} instead of 220.",
    "not_smtp": (
        "The server at {where} is not an SMTP server; it greeted with {line!r}. Check the port "
        "number."
    ),
    "not_smtp_answer": "The server at {where} answered with something that is not SMTP: {line!r}.",
    "closed_session": "The mail server at {where} closed the session ({code} {text}).",
    "ehlo_rejected": "The mail server at {where} rejected EHLO ({code} {text}).",
    "starttls_unsupported": (
        "The server at {where} does not offer STARTTLS, so mail to it would travel unencrypted; "
        "enable STARTTLS on the server or use its implicit-TLS port (465)."
    ),
    "starttls_refused": "The server at {where} offers STARTTLS but refused to start it ({code} {text}).",
    "auth_not_offered": (
        "The server at {where} answers but advertises no AUTH mechanism{after_tls}, so mail "
        "programs cannot sign in to send mail."
    ),
    "auth_after_starttls": (
        "The server at {where} answers in plain text and offers STARTTLS; it advertises no "
        "sign-in before it (as smtpd_tls_auth_only does), so sign-in is offered after STARTTLS: "
        'set tls = "starttls" for this endpoint to check it. After STARTTLS it offers '
        "{mechanisms}."
    ),
}

# ---- imap: greeting, CAPABILITY, STARTTLS
IMAP = {
    "ok": "The IMAP server at {where} answers{over_tls} and offers sign-in ({mechanisms}).",
    "refused": "The IMAP server at {where} refuses service: {text!r}.",
    "ended": "The IMAP server at {where} ended the session: {text!r}.",
    "not_imap": (
        "The server at {where} is not an IMAP server; it greeted with {line!r}. Check the port "
        "number."
    ),
    "not_imap_answer": "The server at {where} answered with something that is not IMAP: {line!r}.",
    "capability_rejected": "The IMAP server at {where} rejected CAPABILITY ({status} {text}).",
    "starttls_unsupported": (
        "The IMAP server at {where} does not offer STARTTLS, so passwords would travel "
        "unencrypted; enable STARTTLS on the server or use its implicit-TLS port (993)."
    ),
    "starttls_refused": (
        "The IMAP server at {where} offers STARTTLS but refused to start it ({status} {text})."
    ),
    "no_sign_in": (
        "The IMAP server at {where} answers but allows no way to sign in (LOGINDISABLED and no "
        "AUTH= mechanism), so mail programs cannot fetch mail."
    ),
}

# ---- pop3: greeting, CAPA, STLS
POP3 = {
    "ok": "The POP3 server at {where} answers{over_tls} and offers sign-in ({mechanisms}).",
    "refused": "The POP3 server at {where} refuses service: {text!r}.",
    "not_pop3": (
        "The server at {where} is not a POP3 server; it greeted with {line!r}. Check the port "
        "number."
    ),
    "not_pop3_answer": "The server at {where} answered with something that is not POP3: {line!r}.",
    "starttls_unsupported": (
        "The POP3 server at {where} does not offer STLS (STARTTLS), so passwords would travel "
        "unencrypted; enable it on the server or use its implicit-TLS port (995)."
    ),
    "starttls_refused": "The POP3 server at {where} offers STLS but refused to start it ({text}).",
    "no_sign_in": (
        "The POP3 server at {where} answers but advertises no way to sign in (no SASL mechanism "
        "and no USER), so mail programs cannot fetch mail."
    ),
}

# ---- https: webmail's TLS and the status of one GET ({where} is its URL)
HTTPS = {
    "ok": "The web server at {where} answers over {version} ({status}{redirecting_to}).",
    "not_found": (
        "The web server at {where} answered {status} {reason}: the page does not exist (check the "
        "webmail address)."
    ),
    "server_error": (
        "The web server at {where} answered {status} {reason}: the webmail service behind it is "
        "not working (the web server itself answers)."
    ),
    "refused": "The web server at {where} answered {status} {reason}: it refuses the request.",
    "not_http": "The server at {where} did not answer in HTTP: {line!r}.",
}

DETAILS = {
    "check": CHECK,
    "link": LINK,
    "internet": INTERNET,
    "dns": DNS,
    "tcp": TCP,
    "conversation": CONVERSATION,
    "tls": TLS,
    "smtp": SMTP,
    "imap": IMAP,
    "pop3": POP3,
    "https": HTTPS,
}

# the optional parts of a sentence, each named after the placeholder it fills
PIECES = {
    "gateway": ", default gateway {gateway}",  # LINK
    "vpn": "; a VPN seems to be connected",  # LINK
    "redirect_to": " to {location}",  # INTERNET
    "expired_on": " on {when}",  # TLS
    "issued_by": " issued by {issuer}",  # TLS
    "over_tls": " over {version}",  # SMTP, IMAP, POP3
    "after_tls": " after TLS",  # SMTP
    "redirecting_to": ", redirecting to {location}",  # HTTPS
}


def where(host: str, port: object) -> str:
    """The place a detail names: WHERE."""
    return WHERE.format(host=host, port=port)


def detail(family: str, key: str, **values: Any) -> str:
    """DETAILS[family][key] with its values; a sentence never has a doubled stop."""
    return _one_stop(DETAILS[family][key].format(**values))


def piece(key: str, **values: Any) -> str:
    """PIECES[key] with its values, for a sentence's placeholder of that name."""
    return PIECES[key].format(**values)


def timed_out(phase: str) -> str:
    """The detail of a probe whose deadline passed in `phase`."""
    return TIMEOUT.get(phase, TIMEOUT["any"])


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


def _ended(text: str) -> str:
    """A sentence whose last value may be empty ("... HTTP 503 ."): no space before its stop, and
    one stop."""
    return _one_stop(text.replace(" .", "."))


def feed_error(key: str, **values: Any) -> str:
    """One of FEED_ERROR with its values; a sentence never has a doubled stop."""
    return _ended(FEED_ERROR[key].format(**values))


def feed_line(it_status: dict[str, Any] | None) -> str | None:
    """'IT status feed: <why it could not be read>' for Details for IT, or None."""
    error = (it_status or {}).get("error")
    return f"IT status feed: {error}" if error else None


# ---------------------------------------------------------------- discovery's attempts
# One sentence per outcome of an attempt, by where discovery asked (SPEC section 7): a source picks
# the key and passes the values, attempt("mx", "provider", domain=..., host=..., provider=...).
# The run cleans and bounds each detail as it records it; whatever shows it scrubs it (a URL or a
# server's error message may carry a secret).

DISCOVERY = {
    # a DNS question (SRV, MX) for {name}
    "dns": {
        "nxdomain": "{name} does not exist (NXDOMAIN).",
        "no_answer": "{name} has no {rdtype} record.",
        "invalid": "{name} is not a valid name.",
        "timeout": "The name server did not answer for {name} in time.",
        "no_server": "No name server could answer for {name}.",
        "failed": "The lookup of {name} failed: {reason}.",
    },
    # one fetch of an XML document (autoconfig, Autodiscover); {reason} is app.httpio's phrase
    "fetch": {
        "not_here": "The server answered HTTP {status} (no document here).",
        "sign_in": "The server wants a sign-in (HTTP {status}); MailBeacon never sends passwords.",
        "status": "The server answered HTTP {status} {reason}.",
        "timeout": "It did not answer in time.",
        "too_large": "Refused: {reason}.",
        "redirect": "Not followed: {reason}.",
        "failed": "Could not fetch it: {reason}.",
        "entities": (
            "The answer declares a DTD or entities, which could expand or reach elsewhere: refused."
        ),
        "not_xml": "The answer is not valid XML.",
    },
    # Thunderbird's clientConfig document
    "autoconfig": {
        "found": "A clientConfig document lists {kinds}.",
        "no_server": "The document names no usable mail server.",
        # said after either of the above when the document came over http://
        "plain_http": "Fetched over plain http (insecure: anyone on the way could change it).",
    },
    # Exchange's POX answer, its redirects, and the host SRV _autodiscover._tcp names
    "autodiscover": {
        "found": "The Autodiscover answer lists {kinds}.",
        "no_server": "The answer lists no IMAP, POP3 or SMTP server.",
        "error": "The server answered with an error.",
        "error_message": "The server answered with an error: {message}.",
        "no_account": "The answer is not an Autodiscover account.",
        "to_address": "It redirects to the address {address}.",
        "to_url": "It redirects to {target}.",
        "not_an_address": "It redirects to an address that is not one.",
        "not_https": "It redirects to {target}, which is not an https URL: not followed.",
        "too_many": "Redirected more than {limit} times: stopped.",
        "no_host": "No usable Autodiscover host is named.",
    },
    # SRV records of the mail services
    "srv": {
        "found": "{kind} at {host}:{port} ({tls}).",
        "not_offered": 'The domain says it does not offer this service (target ".").',
        "no_host": "The record names no usable host.",
    },
    # the MX host, and the provider it belongs to
    "mx": {
        "none": "{domain} names no mail exchanger.",
        "provider": "Mail for {domain} goes to {host}: {provider}.",
        "asked_already": (
            "Mail for {domain} goes to {host}, not a known provider; its domain was already asked."
        ),
        "asking": "Mail for {domain} goes to {host}, not a known provider: asking {parent}.",
    },
    # the ordered run itself
    "run": {
        "out_of_time": "Not tried: discovery ran out of time.",
        "source_failed": "This source failed unexpectedly ({error}).",
    },
}
# what an attempt's sentence says in place of a value it does not have
DISCOVERY_STAND_IN = {
    "target": "nothing",  # an Autodiscover redirect with an empty RedirectUrl
}


def attempt(family: str, key: str, **values: Any) -> str:
    """DISCOVERY[family][key] with its values: the detail of one discovery attempt."""
    return _ended(DISCOVERY[family][key].format(**values))


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
