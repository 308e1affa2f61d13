"""The tcp probe (connect only) against loopback listeners: accepted, refused, blackholed, reset."""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time

import pytest

from app.config import Endpoint
from app.diagnosis import net
from app.diagnosis.probes import tcp
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.servers.dns import DnsServer


def _ctx(make_config, timeout: float = 3.0, text: str = "") -> ProbeContext:
    return ProbeContext(config=make_config(text), deadline=Deadline(timeout), phase="dns")


def _endpoint(host: str, port: int) -> Endpoint:
    return Endpoint(kind="tcp", host=host, port=port, tls="none")


def _fail(ctx: ProbeContext, endpoint: Endpoint) -> ProbeFailure:
    with pytest.raises(ProbeFailure) as info:
        tcp.probe(ctx, endpoint)
    return info.value


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def test_accepted_is_ok(make_config, listener):
    port = listener.getsockname()[1]
    ctx = _ctx(make_config)
    outcome = tcp.probe(ctx, _endpoint("127.0.0.1", port))
    assert outcome.code == "ok"
    assert ctx.data["connected_to"] == f"127.0.0.1:{port}"
    assert ctx.data["addresses"] == ["127.0.0.1"]
    conn, _ = listener.accept()  # the probe really connected
    conn.close()


def test_refused(make_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failure = _fail(_ctx(make_config), _endpoint("127.0.0.1", port))
    assert failure.code == "tcp_refused"


def test_blackholed_times_out_within_the_deadline(make_config):
    # backlog 0 and a full accept queue: the kernel drops further SYNs, as a firewall would
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.1)
        ctx = _ctx(make_config, timeout=1.0)
        started = time.monotonic()
        failure = _fail(ctx, _endpoint("127.0.0.1", port))
        elapsed = time.monotonic() - started
    finally:
        for c in fillers:
            c.close()
        server.close()
    assert failure.code == "tcp_timeout"
    assert ctx.phase == "tcp"
    assert elapsed < 1.5


def test_reset_right_after_accept(make_config):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]

    def accept_and_reset() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    thread = threading.Thread(target=accept_and_reset, daemon=True)
    thread.start()
    try:
        failure = _fail(_ctx(make_config), _endpoint("127.0.0.1", port))
    finally:
        thread.join(2)
        server.close()
    assert failure.code == "tcp_reset"


def test_greeting_server_is_ok(make_config):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def greet() -> None:
        conn, _ = server.accept()
        conn.sendall(b"220 hello\r\n")
        time.sleep(0.3)
        conn.close()

    thread = threading.Thread(target=greet, daemon=True)
    thread.start()
    try:
        assert tcp.probe(_ctx(make_config), _endpoint("127.0.0.1", server.getsockname()[1])).code == "ok"
    finally:
        thread.join(2)
        server.close()


def test_ipv6_loopback(make_config):
    try:
        server = socket.socket(socket.AF_INET6)
        server.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    server.listen(8)
    try:
        ctx = _ctx(make_config)
        assert tcp.probe(ctx, _endpoint("::1", server.getsockname()[1])).code == "ok"
        assert ctx.data["connected_to"].startswith("[::1]:")
    finally:
        server.close()


def test_name_through_configured_nameserver(make_config, listener):
    port = listener.getsockname()[1]
    with DnsServer({"mail.example.test": ["127.0.0.1"]}) as dns:
        ctx = _ctx(make_config, text=f'[dns]\nnameservers = ["{dns.nameserver}"]')
        assert tcp.probe(ctx, _endpoint("mail.example.test", port)).code == "ok"
    assert ctx.data["addresses"] == ["127.0.0.1"]


def test_missing_name_is_a_dns_code(make_config):
    with DnsServer({}) as dns:
        ctx = _ctx(make_config, text=f'[dns]\nnameservers = ["{dns.nameserver}"]')
        assert _fail(ctx, _endpoint("gone.example.test", 25)).code == "dns_nxdomain"


def test_falls_back_to_the_next_address(make_config, listener):
    # the name's first address refuses (nothing listens on 127.0.0.3); the second must be tried
    port = listener.getsockname()[1]
    with DnsServer({"mail.example.test": ["127.0.0.3", "127.0.0.1"]}) as dns:
        ctx = _ctx(make_config, text=f'[dns]\nnameservers = ["{dns.nameserver}"]')
        assert tcp.probe(ctx, _endpoint("mail.example.test", port)).code == "ok"
    assert ctx.data["connected_to"] == f"127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "tcp_unreachable"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "tcp_unreachable"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "tcp_refused"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "tcp_reset"),
        (TimeoutError("timed out"), "tcp_timeout"),
    ],
)
def test_connect_failure_codes(exc, code):
    assert net.connect_failure(exc, "192.0.2.1", 25).code == code
