"""One bounded fetch of an XML document for a discovery source, through app.httpio, parsed
with defusedxml (no DTD, no entities, no external references); failures become attempts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError

from app import httpio

if TYPE_CHECKING:
    from app.discovery.model import Run

_NOT_FOUND_STATUS = {404, 410}


def fetch_xml(
    run: Run,
    source: str,
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_redirects: int = httpio.DEFAULT_MAX_REDIRECTS,
    shown_url: str | None = None,
) -> tuple[Element, str] | None:
    """(root element, the URL that answered) or None with the attempt recorded."""
    shown = shown_url or url
    try:
        resp = httpio.request(
            url,
            config=run.config,
            method=method,
            body=body,
            headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1", **(headers or {})},
            timeout_s=run.fetch_timeout(),
            max_redirects=max_redirects,
            configured_dns=True,
        )
    except httpio.HttpError as exc:
        result = "not_found" if exc.kind == "dns" else "error"
        run.record(source, shown, result, _sentence(exc))
        return None
    if resp.status in _NOT_FOUND_STATUS:
        run.record(source, shown, "not_found", f"The server answered HTTP {resp.status} (no document here).")
        return None
    if resp.status in (401, 403):
        run.record(source, shown, "error",
                   f"The server wants a sign-in (HTTP {resp.status}); MailBeacon never sends passwords.")
        return None
    if resp.status != 200:
        run.record(source, shown, "error", f"The server answered HTTP {resp.status} {resp.reason}.".rstrip())
        return None
    root = parse(run, source, shown, resp.body)
    return (root, resp.url) if root is not None else None


def parse(run: Run, source: str, shown: str, data: bytes) -> Element | None:
    import defusedxml
    import defusedxml.ElementTree as SafeET

    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        run.record(source, shown, "error",
                   "The answer declares a DTD or entities, which could expand or reach elsewhere: refused.")
    except (ParseError, ValueError, RecursionError):
        run.record(source, shown, "error", "The answer is not valid XML.")
    return None


def _sentence(exc: httpio.HttpError) -> str:
    reason = exc.reason
    text = {
        "timeout": "It did not answer in time.",
        "too_large": f"Refused: {reason}.",
        "redirect": f"Not followed: {reason}.",
    }.get(exc.kind)
    return text or f"Could not fetch it: {reason}."


# ---- reading elements by local name (documents come with and without namespaces)


def local(tag: str) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children(elem: Element, name: str) -> Iterator[Element]:
    return (child for child in elem if local(child.tag) == name)


def child(elem: Element, name: str) -> Element | None:
    return next(children(elem, name), None)


def text_of(elem: Element, name: str) -> str:
    found = child(elem, name)
    return (found.text or "").strip() if found is not None else ""


def descendants(elem: Element, name: str) -> Iterator[Element]:
    return (e for e in elem.iter() if local(e.tag) == name)
