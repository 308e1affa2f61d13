"""DNS questions of discovery (SRV, MX) through the configured resolver (dns.nameservers, else
the system's), each bounded by the discovery's deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.words import it

if TYPE_CHECKING:
    from app.discovery.model import Run


class Lookup:
    """The answer to one question: records, or why there are none."""

    def __init__(self, records: list[Any] | None = None, missing: str = "", error: str = "") -> None:
        self.records = records or []
        self.missing = missing  # the name or record does not exist: a plain "not found"
        self.error = error  # the question got no answer: an error


def query(run: Run, name: str, rdtype: str) -> Lookup:
    import dns.exception
    import dns.name
    import dns.resolver

    from app.diagnosis import net
    from app.diagnosis.probes.base import Deadline, ProbeContext

    resolver = net.make_resolver(run.config)
    seconds = run.fetch_timeout()
    ctx = ProbeContext(config=run.config, deadline=Deadline(seconds), phase="dns")
    try:
        answer = net.within(ctx, seconds, resolver.resolve, name, rdtype, lifetime=seconds, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(missing=it.attempt("dns", "nxdomain", name=name))
    except dns.resolver.NoAnswer:
        return Lookup(missing=it.attempt("dns", "no_answer", name=name, rdtype=rdtype))
    except (dns.exception.Timeout, TimeoutError):
        return Lookup(error=it.attempt("dns", "timeout", name=name))
    except dns.resolver.NoNameservers:
        return Lookup(error=it.attempt("dns", "no_server", name=name))
    except (dns.name.NameTooLong, dns.name.EmptyLabel, dns.name.LabelTooLong, UnicodeError):
        return Lookup(missing=it.attempt("dns", "invalid", name=name))
    except (OSError, dns.exception.DNSException) as exc:
        return Lookup(error=it.attempt("dns", "failed", name=name, reason=exc))
    return Lookup(list(answer))
