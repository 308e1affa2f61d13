"""The one TLS helper every probe uses: the client context (OS trust store plus `tls.ca_file`),
the handshake within the deadline, certificate facts, and failures classified into SPEC codes."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.diagnosis.probes.base import Outcome, ProbeFailure
from app.words import it

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.probes.base import ProbeContext

# OpenSSL verify results (x509_vfy.h) that tell which certificate problem it was
_EXPIRED = {9, 10}  # not yet valid, expired
_MISMATCH = {62, 63, 64}  # hostname, email, IP address mismatch
_UNTRUSTED = {2, 18, 19, 20, 21, 24, 27, 28}

_VERSION_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}


def client_context(config: Config) -> ssl.SSLContext:
    """A verifying client context: the OS trust store, plus `tls.ca_file` when set."""
    return _context_for(config.tls.ca_file or "")


def context_with_ca_file(ca_file: str) -> ssl.SSLContext:
    """The same verifying context for an explicit extra CA bundle ("" for the OS store alone)."""
    return _context_for(ca_file)


@functools.lru_cache(maxsize=8)
def _context_for(ca_file: str) -> ssl.SSLContext:
    ctx = _os_store_context()
    if ca_file:
        # added to the OS store, never replacing it: a company CA beside the public ones
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def _os_store_context() -> ssl.SSLContext:
    """A verifying client context on the OS trust store. Where that store is OpenSSL's own
    hashed folder (Debian, Ubuntu, the BSDs) it is read one certificate at a time as a handshake
    needs it: loading the bundle file as well, as truststore does, parsed about 150 CAs and kept
    1.3 MB more in every tray. The bundle is skipped only when it lies in that folder, where
    update-ca-certificates writes it from the same certificates; any other bundle (a file that
    SSL_CERT_FILE names elsewhere, Fedora's) is loaded. On macOS and Windows, truststore
    verifies with the OS itself."""
    import sys

    if sys.platform not in ("darwin", "win32"):
        paths = ssl.get_default_verify_paths()  # cafile and capath as SSL_CERT_FILE/_DIR say
        folder = os.path.realpath(paths.capath) if paths.capath else ""
        bundle_inside = not paths.cafile or os.path.dirname(os.path.realpath(paths.cafile)) == folder
        if folder and bundle_inside and _hashed_folder(folder):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, hostname checked
            ctx.load_verify_locations(capath=folder)
            return ctx
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception:  # truststore needs a supported OS; OpenSSL's default store is the fallback
        return ssl.create_default_context()


def _hashed_folder(path: str) -> bool:
    """True when `path` holds certificates by subject hash ("<8 hex digits>.<n>"), as
    c_rehash and Debian's update-ca-certificates leave them: OpenSSL can look CAs up there."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(len(n) >= 10 and n[8] == "." and n[9:].isdigit() and
               all(c in "0123456789abcdef" for c in n[:8].lower()) for n in names)


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def handshake(
    ctx: ProbeContext,
    sock: socket.socket,
    server_hostname: str,
    *,
    reconnect: Callable[[], socket.socket] | None = None,
    first_contact: bool = False,
) -> ssl.SSLSocket:
    """Wrap `sock` in verified TLS within the deadline; facts go to ctx.data["tls"].

    On a certificate failure, `reconnect` (when given) must return a fresh plain socket at the
    same point of the conversation, so the rejected certificate's facts can still be read.
    `first_contact`: the handshake is the first thing on the connection (implicit TLS), so a
    server that answers in plain text is told apart: its port expects STARTTLS.
    Raises ProbeFailure: tls_cert_expired, tls_cert_untrusted, tls_hostname_mismatch or
    tls_handshake_failed.
    """
    host = server_hostname.strip("[]")
    port = _peer_port(sock)
    sock.settimeout(ctx.deadline.timeout())
    try:
        tls_sock = client_context(ctx.config).wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        facts = _facts_after_failure(ctx, host, reconnect)
        if facts:
            ctx.data["tls"] = facts
        raise classify_verify_error(exc, host, facts, ca_file_set=bool(ctx.config.tls.ca_file)) from None
    except TimeoutError:
        sock.close()
        raise ProbeFailure("tls_handshake_failed", it.timed_out("tls")) from None
    except ConnectionResetError:
        sock.close()
        raise ProbeFailure("tls_handshake_failed", it.detail("tls", "reset")) from None
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        greeting = _plain_text_answer(ctx, reconnect) if first_contact and _not_tls_reply(exc) else None
        if greeting:
            ctx.data["greeting"] = greeting
            raise ProbeFailure(
                "tls_handshake_failed",
                it.detail("tls", "plain_on_tls", where=it.where(host, port), first=greeting[:60]),
            ) from None
        raise ProbeFailure(
            "tls_handshake_failed", it.detail("tls", "handshake_failed", reason=_ssl_reason(exc))
        ) from None
    # a certificate OpenSSL verified is already parsed; the DER parser (cryptography) is only
    # loaded for rejected ones and where the OS verified it (truststore on macOS and Windows)
    facts = peercert_facts(tls_sock.getpeercert())
    if not facts:
        der = tls_sock.getpeercert(binary_form=True)
        facts = cert_facts(der) if der else {}
    cipher = tls_sock.cipher()
    facts = {
        "version": _VERSION_NAMES.get(tls_sock.version() or "", tls_sock.version()),
        "cipher": cipher[0] if cipher else None,
        **facts,
    }
    ctx.data["tls"] = facts
    return tls_sock


def _not_tls_reply(exc: BaseException) -> bool:
    """OpenSSL's ways of saying the answer was not TLS at all (text where a record should be)."""
    reason = str(getattr(exc, "reason", "") or exc).lower()
    return any(word in reason for word in ("wrong version", "wrong_version", "record layer", "packet length",
                                            "http request", "unknown protocol"))


def _peer_port(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[1])
    except OSError:
        return "?"


def _second_look(ctx: ProbeContext, look: Callable[[], Any]) -> Any:
    """Run `look` (a fresh connection) without it changing what the probe reports."""
    saved_data, saved_phase = dict(ctx.data), ctx.phase
    try:
        return look()
    except (ProbeFailure, OSError, ValueError):
        return None
    finally:
        ctx.data.clear()
        ctx.data.update(saved_data)
        ctx.phase = saved_phase


def _plain_text_answer(ctx: ProbeContext, reconnect: Callable[[], socket.socket] | None) -> str | None:
    """The first line a server says unasked on a fresh plain connection, when it is text (a
    mail greeting): proof that the port expects STARTTLS rather than implicit TLS."""
    if reconnect is None or ctx.deadline.expired:
        return None

    def look() -> str | None:
        with reconnect() as raw:
            raw.settimeout(ctx.deadline.timeout(1.5))
            data = raw.recv(512)
        line = data.split(b"\n", 1)[0].rstrip(b"\r")
        if not line or line[:1] in (b"\x15", b"\x16") or not all(32 <= b < 127 or b == 9 for b in line):
            return None
        return line.decode("ascii")

    return _second_look(ctx, look)


def speaks_tls(ctx: ProbeContext, host: str, reconnect: Callable[[], socket.socket]) -> bool:
    """Whether a fresh connection completes a TLS handshake (any certificate): asked when a port
    configured for plain text or STARTTLS stays silent, as an implicit-TLS port does."""

    def look() -> bool:
        raw = reconnect()
        raw.settimeout(ctx.deadline.timeout())
        sni = None if _ip(host.strip("[]")) else host.strip("[]")
        with _unverified_context().wrap_socket(raw, server_hostname=sni):
            return True

    return bool(_second_look(ctx, look))


def expiry_warning(ctx: ProbeContext) -> Outcome | None:
    """tls_cert_expiring when the certificate seen in this probe expires within the warning days."""
    facts = ctx.data.get("tls") or {}
    days = facts.get("days_left")
    if days is None or days > ctx.config.tls.expiry_warn_days:
        return None
    when = facts.get("not_after", it.TLS_STAND_IN["when"])
    if days == 1:
        return Outcome("tls_cert_expiring", it.detail("tls", "expiring_one_day", when=when))
    return Outcome("tls_cert_expiring", it.detail("tls", "expiring", days=days, when=when))


def cert_facts(der: bytes, now: dt.datetime | None = None) -> dict[str, Any]:
    """Issuer, subject, not_after (ISO 8601 UTC), days_left and SAN of a DER certificate."""
    from cryptography import x509

    now = now or dt.datetime.now(dt.UTC)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    not_after = cert.not_valid_after_utc
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san = [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
        san += [f"IP:{a}" for a in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        san = []
    return {
        "issuer": cert.issuer.rfc4514_string(),
        "subject": cert.subject.rfc4514_string(),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(not_after),
        "days_left": int((not_after - now).total_seconds() // 86400),
        "san": san,
    }


# the short names RFC 4514 (and cryptography's rfc4514_string) use
_RDN_NAMES = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID",
    "emailAddress": "1.2.840.113549.1.9.1",
}


def _rfc4514(name: tuple) -> str:
    def escape(value: str) -> str:
        value = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
        if value[:1] in ("#", " "):
            value = "\\" + value
        if value.endswith(" "):
            value = value[:-1] + "\\ "
        return value

    rdns = ["+".join(f"{_RDN_NAMES.get(k, k)}={escape(v)}" for k, v in rdn) for rdn in name]
    return ",".join(reversed(rdns))


def peercert_facts(cert: dict[str, Any] | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The same facts as cert_facts, from ssl's parsed form of a verified certificate; {} when
    the ssl module did not parse it."""
    if not cert or "notAfter" not in cert:
        return {}
    now = now or dt.datetime.now(dt.UTC)

    def when(text: str) -> dt.datetime:
        return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), dt.UTC)

    not_after = when(cert["notAfter"])
    kinds = {"DNS": "DNS", "IP Address": "IP"}
    san = [
        f"{kinds[k]}:{ipaddress.ip_address(v.strip()).compressed if k == 'IP Address' else v.strip()}"
        for k, v in cert.get("subjectAltName", ())
        if k in kinds
    ]
    return {
        "issuer": _rfc4514(cert.get("issuer", ())),
        "subject": _rfc4514(cert.get("subject", ())),
        "not_before": _iso(when(cert["notBefore"])) if cert.get("notBefore") else None,
        "not_after": _iso(not_after),
        "days_left": int((not_after - now).total_seconds() // 86400),
        "san": san,
    }


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _facts_after_failure(
    ctx: ProbeContext, host: str, reconnect: Callable[[], socket.socket] | None
) -> dict[str, Any]:
    """The facts of a certificate that failed verification, from a second, unverified look."""
    if reconnect is None or ctx.deadline.expired:
        return {}

    def look() -> tuple[bytes | None, str | None, Any]:
        raw = reconnect()
        raw.settimeout(ctx.deadline.timeout())
        sni = None if _ip(host) else host
        with _unverified_context().wrap_socket(raw, server_hostname=sni) as tls_sock:
            return tls_sock.getpeercert(binary_form=True), tls_sock.version(), tls_sock.cipher()

    # the second look must not change what the probe reports about the first
    seen = _second_look(ctx, look)
    if not seen:
        return {}
    der, version, cipher = seen
    facts = cert_facts(der) if der else {}
    if not facts:
        return {}
    # the same keys in the same order as an accepted certificate's facts
    return {"version": _VERSION_NAMES.get(version or "", version), "cipher": cipher[0] if cipher else None, **facts}


def classify_verify_error(
    exc: ssl.SSLCertVerificationError, host: str, facts: dict[str, Any], *, ca_file_set: bool = True
) -> ProbeFailure:
    """Which certificate problem a verification failure is, as a ProbeFailure for IT."""
    code = getattr(exc, "verify_code", None)
    message = (getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)).lower()
    kind = None
    if code in _EXPIRED:
        kind = "expired"
    elif code in _MISMATCH:
        kind = "mismatch"
    elif code in _UNTRUSTED:
        kind = "untrusted"
    elif facts:
        # another platform's verifier: decide from the certificate itself
        if facts.get("days_left", 0) < 0 or _not_yet_valid(facts):
            kind = "expired"
        elif not matches_host(facts.get("san", []), facts.get("subject", ""), host):
            kind = "mismatch"
    if kind is None:
        if "expired" in message or "not yet valid" in message:
            kind = "expired"
        elif "mismatch" in message or "hostname" in message or "doesn't match" in message:
            kind = "mismatch"
        else:
            kind = "untrusted"
    return _failure(kind, host, facts, message, code, ca_file_set)


def _failure(
    kind: str, host: str, facts: dict[str, Any], message: str, code: Any, ca_file_set: bool = True
) -> ProbeFailure:
    subject = facts.get("subject") or it.TLS_STAND_IN["subject"]
    issuer = facts.get("issuer")
    if kind == "expired":
        if code == 9 or _not_yet_valid(facts):
            not_before = facts.get("not_before") or it.TLS_STAND_IN["not_before"]
            return ProbeFailure(
                "tls_cert_expired",
                it.detail("tls", "not_yet_valid", subject=subject, not_before=not_before),
            )
        when = facts.get("not_after")
        on = it.piece("expired_on", when=when) if when else ""
        return ProbeFailure(
            "tls_cert_expired", it.detail("tls", "expired", subject=subject, expired_on=on)
        )
    if kind == "mismatch":
        names = ", ".join(facts.get("san", [])) or subject
        return ProbeFailure(
            "tls_hostname_mismatch", it.detail("tls", "mismatch", host=host, names=names)
        )
    by = it.piece("issued_by", issuer=issuer) if issuer else ""
    reason = message or it.TLS_STAND_IN["reason"]
    return ProbeFailure(
        "tls_cert_untrusted",
        it.detail(
            "tls",
            "untrusted" if ca_file_set else "untrusted_no_ca_file",
            issued_by=by,
            reason=reason,
        ),
    )


def _not_yet_valid(facts: dict[str, Any]) -> bool:
    start = facts.get("not_before")
    return isinstance(start, str) and start > _iso(dt.datetime.now(dt.UTC))


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def matches_host(san: list[str], subject: str, host: str) -> bool:
    """Whether the certificate names `host`: IP SANs for IP literals, DNS SANs (one wildcard
    label) otherwise, the subject CN only when there is no SAN at all."""
    address = _ip(host)
    if address is not None:
        return any(s.startswith("IP:") and _ip(s[3:]) == address for s in san)
    names = [s[4:] for s in san if s.startswith("DNS:")]
    if not san:
        names = [part[3:] for part in subject.split(",") if part.startswith("CN=")]
    host = host.rstrip(".").lower()
    for name in names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    if isinstance(exc, ssl.SSLEOFError) or "EOF" in str(exc):
        return it.TLS_STAND_IN["eof"]
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
