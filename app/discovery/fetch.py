"""One bounded fetch of an XML document for a discovery source, through app.httpio, parsed
with defusedxml (no DTD, no entities, no external references); failures become attempts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError

from app import httpio
from app.words import it

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
        run.record(source, shown, "not_found", it.attempt("fetch", "not_here", status=resp.status))
        return None
    if resp.status in (401, 403):
        run.record(source, shown, "error", it.attempt("fetch", "sign_in", status=resp.status))
        return None
    if resp.status != 200:
        run.record(source, shown, "error",
                   it.attempt("fetch", "status", status=resp.status, reason=resp.reason))
        return None
    root = parse(run, source, shown, resp.body)
    return (root, resp.url) if root is not None else None


def parse(run: Run, source: str, shown: str, data: bytes) -> Element | None:
    import defusedxml
    import defusedxml.ElementTree as SafeET

    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        run.record(source, shown, "error", it.attempt("fetch", "entities"))
    except (ParseError, ValueError, RecursionError):
        run.record(source, shown, "error", it.attempt("fetch", "not_xml"))
    return None


def _sentence(exc: httpio.HttpError) -> str:
    if exc.kind == "timeout":
        return it.attempt("fetch", "timeout")
    if exc.kind == "too_large":
        return it.attempt("fetch", "too_large", reason=exc.reason)
    if exc.kind == "redirect":
        return it.attempt("fetch", "redirect", reason=exc.reason)
    return it.attempt("fetch", "failed", reason=exc.reason)


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
