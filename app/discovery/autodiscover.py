"""Exchange Autodiscover (POX): POST the request for the address, follow redirectAddr and
redirectUrl over https only (10 at most), read IMAP/POP3/SMTP protocols and the OWA URL
(SPEC section 7, step 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from app.discovery import srv
from app.discovery.fetch import child, children, descendants, fetch_xml, local, text_of
from app.discovery.model import IMPLICIT_PORTS, Found, endpoint, has_mail, valid_host, web_url
from app.words import it

if TYPE_CHECKING:
    from app.discovery.model import Run

SOURCE = "autodiscover"
MAX_REDIRECTS = 10
_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
_KINDS = {"IMAP": "imap", "POP3": "pop3", "SMTP": "smtp"}
_ENCRYPTION = {"SSL": "implicit", "TLS": "starttls", "NONE": "none"}


def request_body(address: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{_REQUEST_NS}">\n'
        "  <Request>\n"
        f"    <EMailAddress>{escape(address)}</EMailAddress>\n"
        f"    <AcceptableResponseSchema>{_RESPONSE_NS}</AcceptableResponseSchema>\n"
        "  </Request>\n"
        "</Autodiscover>\n"
    ).encode()


def urls(domain: str) -> list[str]:
    return [
        f"https://{domain}/autodiscover/autodiscover.xml",
        f"https://autodiscover.{domain}/autodiscover/autodiscover.xml",
    ]


def find(run: Run) -> Found:
    budget = [MAX_REDIRECTS]  # shared by every redirect of this run
    for url in urls(run.domain):
        if run.out_of_time(SOURCE):
            return Found()
        found = _follow(run, url, run.request_address, budget)
        if found is not None:
            return found
    if run.out_of_time(SOURCE):
        return Found()
    named = srv.autodiscover_host(run)
    if named is not None:
        host, port = named
        where = host if port in (443, 0) else f"{host}:{port}"
        found = _follow(run, f"https://{where}/autodiscover/autodiscover.xml", run.request_address, budget)
        if found is not None:
            return found
    return Found()


def _follow(run: Run, url: str, address: str, budget: list[int]) -> Found | None:
    """Ask `url` for `address`, following the answer's redirects; None when nothing came of it."""
    while True:
        got = fetch_xml(run, SOURCE, url, method="POST", body=request_body(address),
                        headers={"Content-Type": "text/xml; charset=utf-8"}, max_redirects=MAX_REDIRECTS)
        if got is None:
            return None
        root, _answered = got
        account = _account(root)
        if account is None:
            run.record(SOURCE, url, "not_found", _no_account_detail(root))
            return None
        action = text_of(account, "Action").lower()
        if action in ("redirectaddr", "redirecturl"):
            target = text_of(account, "RedirectAddr" if action == "redirectaddr" else "RedirectUrl")
            if budget[0] <= 0:
                said = it.attempt("autodiscover", "too_many", limit=MAX_REDIRECTS)
                run.record(SOURCE, url, "error", said)
                return Found()
            budget[0] -= 1
            if action == "redirectaddr":
                if "@" not in target or not valid_host(target.rpartition("@")[2]):
                    run.record(SOURCE, url, "error", it.attempt("autodiscover", "not_an_address"))
                    return Found()
                said = it.attempt("autodiscover", "to_address", address=target)
                run.record(SOURCE, url, "not_found", said)
                # a new address starts Autodiscover over on its own domain
                for next_url in urls(target.rpartition("@")[2]):
                    found = _follow(run, next_url, target, budget)
                    if found is not None:
                        return found
                return Found()
            parts = urlsplit(target)
            if parts.scheme != "https" or not parts.hostname:
                shown = target or it.DISCOVERY_STAND_IN["target"]
                run.record(SOURCE, url, "error", it.attempt("autodiscover", "not_https", target=shown))
                return Found()
            run.record(SOURCE, url, "not_found", it.attempt("autodiscover", "to_url", target=target))
            url = target
            continue
        found = read_account(account)
        if has_mail(found.endpoints):
            kinds = ", ".join(sorted({ep["kind"] for ep in found.endpoints if ep["kind"] != "https"}))
            run.record(SOURCE, url, "found", it.attempt("autodiscover", "found", kinds=kinds))
            return found
        run.record(SOURCE, url, "not_found", it.attempt("autodiscover", "no_server"))
        return None


def _account(root: Element) -> Element | None:
    if local(root.tag) != "Autodiscover":
        return None
    response = child(root, "Response")
    return child(response, "Account") if response is not None else None


def _no_account_detail(root: Element) -> str:
    error = next(descendants(root, "Error"), None)
    if error is not None:
        message = text_of(error, "Message")
        if message:
            return it.attempt("autodiscover", "error_message", message=message[:120])
        return it.attempt("autodiscover", "error")
    return it.attempt("autodiscover", "no_account")


def read_account(account: Element) -> Found:
    endpoints: list[dict[str, Any]] = []
    kept: set[str] = set()
    webmail = ""
    for proto in children(account, "Protocol"):
        kind = _KINDS.get(text_of(proto, "Type").upper())
        if kind and kind not in kept:
            made = _endpoint(proto, kind)
            if made is not None:
                endpoints.append(made)
                kept.add(kind)
    for owa in descendants(account, "OWAUrl"):
        url = web_url(owa.text or "")
        parts = urlsplit(url)
        if parts.scheme == "https":
            webmail = url
            endpoints.append(endpoint("https", parts.hostname, parts.port or 443, "implicit", url))
            break
    return Found(endpoints, webmail)


def _endpoint(proto: Element, kind: str) -> dict[str, Any] | None:
    host = text_of(proto, "Server")
    port_text = text_of(proto, "Port")
    if not valid_host(host) or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return None
    port = int(port_text)
    encryption = text_of(proto, "Encryption").upper()
    if encryption in _ENCRYPTION:
        tls = _ENCRYPTION[encryption]
    elif text_of(proto, "SSL").lower() == "off":
        tls = "none"
    else:  # SSL on (the default) or Encryption "Auto": the port tells which kind of TLS
        tls = "implicit" if port in IMPLICIT_PORTS else "starttls"
    return endpoint(kind, host, port, tls)
