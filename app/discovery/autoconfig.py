"""Thunderbird's autoconfig (clientConfig 1.1): the document the mail domain publishes at
autoconfig.<domain> or under /.well-known, turned into endpoints (SPEC section 7, step 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from xml.etree.ElementTree import Element

from app.discovery.fetch import children, fetch_xml, local, text_of
from app.discovery.model import Found, endpoint, has_mail, valid_host, web_url
from app.words import it

if TYPE_CHECKING:
    from app.discovery.model import Run

SOURCE = "autoconfig"
_SOCKET = {"SSL": "implicit", "STARTTLS": "starttls", "PLAIN": "none"}
_INCOMING = ("imap", "pop3")


def urls(domain: str, address: str, *, insecure: bool = True) -> list[str]:
    """The places to look, in order; the plain-http one last (and only when `insecure`)."""
    query = f"?emailaddress={quote(address, safe='@')}" if address else ""
    first = f"https://autoconfig.{domain}/mail/config-v1.1.xml{query}"
    found = [first, f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"]
    if insecure:
        found.append("http://" + first[len("https://"):])
    return found


def find(run: Run, domain: str | None = None, *, insecure: bool = True, source: str = SOURCE) -> Found:
    """Try each URL until one gives a mail endpoint; every try goes into run.tried."""
    domain = domain or run.domain
    for url in urls(domain, run.address, insecure=insecure):
        if run.out_of_time(source):
            break
        got = fetch_xml(run, source, url)
        if got is None:
            continue
        root, answered = got
        found = read_document(root, run.address, domain)
        plain = urlsplit(answered).scheme == "http"
        note = " " + it.attempt("autoconfig", "plain_http") if plain else ""
        if has_mail(found.endpoints):
            kinds = ", ".join(sorted({ep["kind"] for ep in found.endpoints}))
            run.record(source, url, "found", it.attempt("autoconfig", "found", kinds=kinds) + note)
            return found
        run.record(source, url, "not_found", it.attempt("autoconfig", "no_server") + note)
    return Found()


def read_document(root: Element, address: str, domain: str) -> Found:
    """The first incomingServer of each type and the first outgoingServer, in document order."""
    if local(root.tag) != "clientConfig":
        return Found()
    local_part = address.partition("@")[0] if "@" in address else ""
    values = {"%EMAILADDRESS%": address, "%EMAILLOCALPART%": local_part, "%EMAILDOMAIN%": domain}

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    endpoints: list[dict[str, Any]] = []
    kept: set[str] = set()
    for provider in children(root, "emailProvider"):
        for server in provider:
            name = local(server.tag)
            if name not in ("incomingServer", "outgoingServer"):
                continue
            kind = (server.get("type") or "").lower()
            if name == "incomingServer" and kind not in _INCOMING:
                continue
            if name == "outgoingServer" and kind != "smtp":
                continue
            if kind in kept:
                continue
            made = _server(server, kind, fill)
            if made is not None:
                endpoints.append(made)
                kept.add(kind)
    webmail = ""
    for block in children(root, "webMail"):
        for page in children(block, "loginPage"):
            webmail = web_url(fill(page.get("url") or ""))
            if webmail:
                break
        if webmail:
            break
    return Found(endpoints, webmail)


def _server(server: Element, kind: str, fill) -> dict[str, Any] | None:
    host = fill(text_of(server, "hostname"))
    port_text = text_of(server, "port")
    tls = _SOCKET.get(text_of(server, "socketType").upper())
    if not valid_host(host) or not port_text.isdigit() or not 1 <= int(port_text) <= 65535 or tls is None:
        return None  # a server a client could not use is no endpoint
    return endpoint(kind, host, int(port_text), tls)
