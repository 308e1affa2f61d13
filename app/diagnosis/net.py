"""Name resolution and TCP connect for every endpoint probe, mapped to SPEC codes.

With no `dns.nameservers`, names resolve the way the OS does (getaddrinfo: hosts file, VPN
split DNS); with nameservers, through dnspython. IP literals never go to a resolver.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.diagnosis.probes.base import ProbeFailure
from app.words import it

if TYPE_CHECKING:
    import dns.resolver

    from app.config import Config
    from app.diagnosis.probes.base import ProbeContext

T = TypeVar("T")

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN, errno.EHOSTDOWN}


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolve(ctx: ProbeContext, host: str, *, system: bool = False) -> list[str]:
    """Addresses for `host`, IPv4 first; ProbeFailure with a dns_* code when it fails.
    `system` resolves the way the OS does even when dns.nameservers is set."""
    host = host.strip("[]")
    if is_ip_literal(host):
        ctx.data["addresses"] = [host]
        return [host]
    ctx.enter("dns")
    started = time.monotonic()
    if ctx.config.dns.nameservers and not system:
        addresses = _resolve_dnspython(ctx, host)
    else:
        addresses = _resolve_system(ctx, host)
    ctx.data["addresses"] = addresses
    ctx.data["dns_ms"] = round((time.monotonic() - started) * 1000, 1)
    return addresses


def _resolve_system(ctx: ProbeContext, host: str) -> list[str]:
    try:
        infos = within(ctx, ctx.deadline.timeout(), socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise ProbeFailure("dns_timeout", it.detail("dns", "timeout", host=host)) from None
    except socket.gaierror as exc:
        raise _gai_failure(exc, host) from None
    except UnicodeError:
        raise ProbeFailure("dns_nxdomain", it.detail("dns", "invalid", host=host)) from None
    except OSError as exc:
        raise ProbeFailure(
            "dns_unreachable",
            it.detail("dns", "lookup_failed", host=host, reason=exc.strerror or exc),
        ) from None
    seen: list[str] = []
    for family, *_rest, sockaddr in infos:
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in seen:
            seen.append(address)
    if not seen:
        raise ProbeFailure("dns_no_answer", it.detail("dns", "no_records", host=host))
    return sorted(seen, key=lambda a: ":" in a)


def within(ctx: ProbeContext, seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args) on a helper thread, waited for at most `seconds` (and never past the deadline).

    getaddrinfo has no timeout at all, and dnspython sleeps its retry backoff without looking
    at the lifetime: neither may hold a probe past its deadline. TimeoutError when late."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread as is
            box["error"] = exc

    worker = threading.Thread(target=run, name="resolve", daemon=True)
    worker.start()
    worker.join(min(seconds, ctx.deadline.timeout()))
    if worker.is_alive():
        raise TimeoutError("the name lookup did not finish in time")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _gai_failure(exc: socket.gaierror, host: str) -> ProbeFailure:
    number = exc.args[0] if exc.args else None
    nodata = getattr(socket, "EAI_NODATA", None)
    if number == socket.EAI_NONAME:
        return ProbeFailure("dns_nxdomain", it.detail("dns", "nxdomain", host=host))
    if nodata is not None and number == nodata:
        return ProbeFailure("dns_no_answer", it.detail("dns", "no_address", host=host))
    if number == socket.EAI_FAIL:
        return ProbeFailure("dns_servfail", it.detail("dns", "servfail", host=host))
    if number == socket.EAI_AGAIN:
        return ProbeFailure("dns_timeout", it.detail("dns", "timeout", host=host))
    return ProbeFailure(
        "dns_unreachable", it.detail("dns", "lookup_failed", host=host, reason=exc.strerror or exc)
    )


def _resolve_dnspython(ctx: ProbeContext, host: str) -> list[str]:
    import dns.exception
    import dns.name
    import dns.resolver

    resolver = make_resolver(ctx.config)
    addresses: list[str] = []
    nxdomain = False
    errors: list[ProbeFailure] = []
    for rdtype in ("A", "AAAA"):
        lifetime = ctx.deadline.timeout()
        if addresses:
            # IPv4 is enough to go on: a server that drops AAAA queries must not eat the deadline
            lifetime = min(lifetime / 2, 1.0)
        try:
            answer = within(ctx, lifetime, resolver.resolve, host, rdtype, lifetime=lifetime, search=False)
        except dns.resolver.NXDOMAIN:
            nxdomain = True
            break
        except dns.resolver.NoAnswer:
            continue
        except dns.resolver.NoNameservers as exc:
            errors.append(_no_nameservers(exc, host))
            break
        except (dns.exception.Timeout, TimeoutError):
            if addresses:
                break
            errors.append(ProbeFailure("dns_timeout", it.detail("dns", "timeout", host=host)))
            break
        except (dns.name.NameTooLong, dns.name.EmptyLabel, dns.name.LabelTooLong, UnicodeError):
            raise ProbeFailure("dns_nxdomain", it.detail("dns", "invalid", host=host)) from None
        except OSError as exc:
            unreachable = it.detail("dns", "server_unreachable", reason=exc.strerror or exc)
            errors.append(ProbeFailure("dns_unreachable", unreachable))
            break
        except dns.exception.DNSException as exc:
            errors.append(
                ProbeFailure("dns_unreachable", it.detail("dns", "failed", host=host, reason=exc))
            )
            break
        addresses.extend(r.address for r in answer)
    if addresses:
        return addresses
    if nxdomain:
        raise ProbeFailure("dns_nxdomain", it.detail("dns", "nxdomain", host=host))
    if errors:
        raise errors[0]
    raise ProbeFailure("dns_no_answer", it.detail("dns", "no_address", host=host))


def _no_nameservers(exc: Exception, host: str) -> ProbeFailure:
    text = str(exc)
    if "REFUSED" in text or "SERVFAIL" in text:
        return ProbeFailure("dns_servfail", it.detail("dns", "servfail", host=host))
    return ProbeFailure("dns_unreachable", it.detail("dns", "no_server", host=host))


def make_resolver(config: Config) -> dns.resolver.Resolver:
    """A dnspython resolver on the configured nameservers (or the system's, for MX/SRV)."""
    import dns.nameserver
    import dns.resolver

    if config.dns.nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        # one Nameserver object each, so two servers on one address with different ports
        # both stay (a {address: port} map would keep only one)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port) for host, port in config.nameservers()
        ]
    else:
        resolver = dns.resolver.Resolver()
    resolver.cache = None
    return resolver


def connect(ctx: ProbeContext, host: str, port: int) -> socket.socket:
    """A connected socket to host:port within the deadline, or ProbeFailure with a tcp_* code."""
    return connect_addresses(ctx, resolve(ctx, host), port)


def connect_addresses(ctx: ProbeContext, addresses: list[str], port: int) -> socket.socket:
    """A connected socket to the first of `addresses` that accepts, within the deadline."""
    ctx.enter("tcp")
    last: ProbeFailure | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(ctx.deadline.timeout())
        started = time.monotonic()
        try:
            sock.connect((address, port))
        except OSError as exc:
            sock.close()
            last = connect_failure(exc, address, port)
            if last.code == "tcp_timeout":
                break  # the deadline is spent: trying the next address cannot succeed
            continue
        ctx.data["connected_to"] = f"[{address}]:{port}" if family == socket.AF_INET6 else f"{address}:{port}"
        ctx.data["connect_ms"] = round((time.monotonic() - started) * 1000, 1)
        return sock
    assert last is not None
    raise last


def connect_failure(exc: OSError, address: str, port: int | None = None) -> ProbeFailure:
    """The tcp_* code and sentence for a failed connect; without a port, `address` names the
    place as it stands ("host:port")."""
    where = it.where(address, port) if port is not None else address
    if isinstance(exc, ConnectionRefusedError):
        return ProbeFailure("tcp_refused", it.detail("tcp", "refused", where=where))
    if isinstance(exc, TimeoutError | socket.timeout):
        return ProbeFailure("tcp_timeout", it.detail("tcp", "timeout", where=where))
    if isinstance(exc, ConnectionResetError):
        return ProbeFailure("tcp_reset", it.detail("tcp", "reset", where=where))
    if exc.errno in _UNREACHABLE:
        return ProbeFailure(
            "tcp_unreachable", it.detail("tcp", "no_route", where=where, reason=exc.strerror)
        )
    return ProbeFailure(
        "tcp_unreachable", it.detail("tcp", "failed", where=where, reason=exc.strerror or exc)
    )
