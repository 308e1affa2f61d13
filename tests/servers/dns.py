"""A loopback DNS server (dnslib for the wire format) whose behaviour a test chooses.

    with DnsServer({"mail.example.test": ["127.0.0.1", "::1"]}) as dns:
        cfg = make_config(f'[dns]\\nnameservers = ["{dns.nameserver}"]')

records: name -> addresses (A or AAAA by the address), or zone lines for anything else
(MX, SRV, TXT, CNAME): `zone="_submission._tcp.example.test. 60 IN SRV 0 1 587 mail.example.test."`.
Names it does not know answer NXDOMAIN. mode: "normal", "servfail" (every answer SERVFAIL),
"refused", "empty" (NOERROR with no records), "dead" (reads queries, never answers).
`dead_nameserver()` is a socket that never answers; `unused_nameserver()` is a port nothing
listens on. Every query received is kept in `queries` as (name, type).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

MODES = ("normal", "servfail", "refused", "empty", "dead")


class DnsServer:
    def __init__(
        self,
        records: dict[str, list[str]] | None = None,
        *,
        zone: str = "",
        mode: str = "normal",
        host: str = "127.0.0.1",
        delay: float = 0.0,
        ttl: int = 60,
    ) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.host = host
        self.delay = delay
        self.queries: list[tuple[str, str]] = []
        self._rrs: list[RR] = []
        self._names: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        for name, addresses in (records or {}).items():
            for address in addresses:
                self.add(name, address, ttl)
        if zone:
            for rr in RR.fromZone(zone):
                self._rrs.append(rr)
                self._names.add(_norm(str(rr.rname)))

    def add_zone(self, zone: str) -> None:
        """More records from zone lines (SRV, MX, ...), while the server runs."""
        for rr in RR.fromZone(zone):
            self._rrs.append(rr)
            self._names.add(_norm(str(rr.rname)))

    def add(self, name: str, address: str, ttl: int = 60) -> None:
        rdata = AAAA(address) if ":" in address else A(address)
        rtype = QTYPE.AAAA if ":" in address else QTYPE.A
        self._rrs.append(RR(name, rtype, rdata=rdata, ttl=ttl))
        self._names.add(_norm(name))

    @property
    def port(self) -> int:
        assert self._udp is not None, "server not started"
        return self._udp.getsockname()[1]

    @property
    def nameserver(self) -> str:
        """As dns.nameservers wants it: "127.0.0.1:5353" or "[::1]:5353"."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # ---- answering

    def answer(self, data: bytes) -> bytes | None:
        request = DNSRecord.parse(data)
        qname = _norm(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        if self.mode == "dead":
            return None
        reply = request.reply()
        if self.mode == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
        elif self.mode == "refused":
            reply.header.rcode = RCODE.REFUSED
        elif self.mode == "empty":
            pass
        elif qname not in self._names:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for rr in self._rrs:
                if _norm(str(rr.rname)) == qname and (rr.rtype == request.q.qtype or request.q.qtype == QTYPE.ANY):
                    reply.add_answer(rr)
        if self.delay:
            time.sleep(self.delay)
        return reply.pack()

    # ---- lifecycle

    def start(self) -> DnsServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._udp = socket.socket(family, socket.SOCK_DGRAM)
        self._udp.bind((self.host, 0))
        self._udp.settimeout(0.05)
        # TCP on the same port, for truncated answers and resolvers that prefer it
        self._tcp = socket.socket(family, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._tcp.bind((self.host, self.port))
            self._tcp.listen(16)
            self._tcp.settimeout(0.05)
        except OSError:
            self._tcp.close()
            self._tcp = None
        self._spawn(self._serve_udp)
        if self._tcp is not None:
            self._spawn(self._serve_tcp)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _serve_udp(self) -> None:
        assert self._udp is not None
        while not self._stop.is_set():
            try:
                data, peer = self._udp.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                reply = self.answer(data)
            except Exception:  # a malformed query gets no answer, like a real server
                continue
            if reply is not None:
                self._udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except (TimeoutError, OSError):
                continue
            self._spawn(lambda c=conn: self._tcp_conn(c))

    def _tcp_conn(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                while not self._stop.is_set():
                    header = _recv_exact(conn, 2)
                    if not header:
                        return
                    reply = self.answer(_recv_exact(conn, struct.unpack("!H", header)[0]))
                    if reply is None:
                        self._stop.wait(5)
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, ValueError):
                return


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def dead_nameserver(host: str = "127.0.0.1") -> tuple[socket.socket, str]:
    """A bound UDP socket nobody reads: queries vanish. Close the socket when done."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    shown = f"[{host}]" if ":" in host else host
    return sock, f"{shown}:{sock.getsockname()[1]}"


def unused_nameserver(host: str = "127.0.0.1") -> str:
    """"host:port" where nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """A started, empty DnsServer; add names with `dns_server.add(name, address)`."""
    with DnsServer() as server:
        yield server
