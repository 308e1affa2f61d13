"""SRV records for mail services (RFC 6186, with RFC 8314's implicit TLS first): the lowest
priority wins, then the highest weight; a target of "." means the service is not offered
(SPEC section 7, step 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.discovery.dnsq import query
from app.discovery.model import Found, endpoint, has_mail, valid_host
from app.words import it

if TYPE_CHECKING:
    from app.discovery.model import Run

SOURCE = "srv"
# (service label, kind, tls): for each kind the implicit-TLS service is asked first
SERVICES = (
    ("_submissions._tcp", "smtp", "implicit"),
    ("_submission._tcp", "smtp", "starttls"),
    ("_imaps._tcp", "imap", "implicit"),
    ("_imap._tcp", "imap", "starttls"),
    ("_pop3s._tcp", "pop3", "implicit"),
    ("_pop3._tcp", "pop3", "starttls"),
)


def best(records: list[Any]) -> Any | None:
    """The record a client uses: lowest priority, then highest weight (ties: the first)."""
    if not records:
        return None
    return sorted(records, key=lambda r: (r.priority, -r.weight))[0]


def target_of(record: Any) -> str:
    return str(record.target).rstrip(".")


def find(run: Run) -> Found:
    endpoints: list[dict[str, Any]] = []
    have: set[str] = set()
    for label, kind, tls in SERVICES:
        if kind in have:
            continue  # the implicit-TLS service of this kind is already found
        if run.out_of_time(SOURCE):
            break
        name = f"{label}.{run.domain}"
        shown = f"SRV {name}"
        got = query(run, name, "SRV")
        if got.error:
            run.record(SOURCE, shown, "error", got.error)
            continue
        record = best(got.records)
        if record is None:
            missing = got.missing or it.attempt("dns", "no_answer", name=name, rdtype="SRV")
            run.record(SOURCE, shown, "not_found", missing)
            continue
        target = target_of(record)
        if not target or record.port == 0:
            run.record(SOURCE, shown, "not_found", it.attempt("srv", "not_offered"))
            continue
        if not valid_host(target):
            run.record(SOURCE, shown, "error", it.attempt("srv", "no_host"))
            continue
        endpoints.append(endpoint(kind, target, record.port, tls))
        have.add(kind)
        said = it.attempt("srv", "found", kind=kind, host=target, port=record.port, tls=tls)
        run.record(SOURCE, shown, "found", said)
    return Found(endpoints) if has_mail(endpoints) else Found()


def autodiscover_host(run: Run) -> tuple[str, int] | None:
    """The host and port `_autodiscover._tcp.<domain>` names, for Autodiscover's last try."""
    name = f"_autodiscover._tcp.{run.domain}"
    got = query(run, name, "SRV")
    record = best(got.records)
    if record is None or not target_of(record) or not valid_host(target_of(record)):
        run.record("autodiscover", f"SRV {name}", "error" if got.error else "not_found",
                   got.error or got.missing or it.attempt("autodiscover", "no_host"))
        return None
    return target_of(record), int(record.port)
