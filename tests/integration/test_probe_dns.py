"""The dns probe and net.resolve against a loopback dnslib server in each of its moods."""

from __future__ import annotations

import socket
import time

import pytest

from app.diagnosis import net
from app.diagnosis.probes import dns as dns_probe
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.servers.dns import DnsServer, dead_nameserver, unused_nameserver


def _ctx(make_config, nameserver: str | None, control: str = "control.example.test", timeout: float = 3.0):
    servers = f'nameservers = ["{nameserver}"]' if nameserver else ""
    cfg = make_config(f'[dns]\n{servers}\ncontrol_name = "{control}"\n[network]\ninternet_url = ""')
    return ProbeContext(config=cfg, deadline=Deadline(timeout), phase="dns")


def _code(ctx: ProbeContext) -> str:
    with pytest.raises(ProbeFailure) as info:
        dns_probe.probe(ctx, None)
    return info.value.code


def test_resolves_a_and_aaaa(make_config):
    with DnsServer({"control.example.test": ["192.0.2.10", "2001:db8::10"]}) as server:
        ctx = _ctx(make_config, server.nameserver)
        outcome = dns_probe.probe(ctx, None)
    assert outcome.code == "ok"
    assert ctx.data["addresses"] == ["192.0.2.10", "2001:db8::10"]
    assert ctx.data["resolver"] == "configured"
    assert ("control.example.test", "A") in server.queries
    assert ("control.example.test", "AAAA") in server.queries


def test_unknown_name_is_nxdomain(make_config):
    with DnsServer({"other.example.test": ["192.0.2.1"]}) as server:
        assert _code(_ctx(make_config, server.nameserver)) == "dns_nxdomain"


def test_servfail(make_config):
    with DnsServer({"control.example.test": ["192.0.2.10"]}, mode="servfail") as server:
        assert _code(_ctx(make_config, server.nameserver)) == "dns_servfail"


def test_no_records_is_no_answer(make_config):
    with DnsServer(mode="empty") as server:
        assert _code(_ctx(make_config, server.nameserver)) == "dns_no_answer"


def test_only_ipv4_is_enough(make_config):
    with DnsServer({"control.example.test": ["192.0.2.10"]}) as server:
        ctx = _ctx(make_config, server.nameserver)
        assert dns_probe.probe(ctx, None).code == "ok"
    assert ctx.data["addresses"] == ["192.0.2.10"]


def test_silent_server_is_timeout_within_deadline(make_config):
    with DnsServer(mode="dead") as server:
        ctx = _ctx(make_config, server.nameserver, timeout=1.0)
        started = time.monotonic()
        assert _code(ctx) == "dns_timeout"
        elapsed = time.monotonic() - started
    assert elapsed < 1.4  # the deadline (1 s) plus margin: dnspython backoff must not overrun it
    assert server.queries, "the query must have reached the server"


def test_unread_socket_is_timeout(make_config):
    sock, address = dead_nameserver()
    with sock:
        assert _code(_ctx(make_config, address, timeout=0.8)) == "dns_timeout"


def test_nothing_listening_is_unreachable_or_timeout(make_config):
    started = time.monotonic()
    code = _code(_ctx(make_config, unused_nameserver(), timeout=1.0))
    assert code in ("dns_unreachable", "dns_timeout")
    assert time.monotonic() - started < 1.4


def test_two_nameservers_on_one_address_keep_their_ports(make_config):
    # the first server answers SERVFAIL, so the answer can only come from the second port
    with DnsServer(mode="servfail") as bad, DnsServer({"control.example.test": ["192.0.2.7"]}) as good:
        cfg = make_config(
            f'[dns]\nnameservers = ["{bad.nameserver}", "{good.nameserver}"]\n'
            'control_name = "control.example.test"'
        )
        ctx = ProbeContext(config=cfg, deadline=Deadline(3), phase="dns")
        assert dns_probe.probe(ctx, None).code == "ok"
    assert ctx.data["addresses"] == ["192.0.2.7"]


def test_ipv6_nameserver(make_config):
    try:
        server = DnsServer({"control.example.test": ["192.0.2.10"]}, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert dns_probe.probe(_ctx(make_config, server.nameserver), None).code == "ok"
    finally:
        server.stop()


def test_ip_literals_never_reach_the_resolver(make_config):
    with DnsServer({"control.example.test": ["192.0.2.10"]}) as server:
        ctx = _ctx(make_config, server.nameserver)
        assert net.resolve(ctx, "192.0.2.55") == ["192.0.2.55"]
        assert net.resolve(ctx, "[2001:db8::5]") == ["2001:db8::5"]
        assert net.resolve(ctx, "::1") == ["::1"]
    assert server.queries == []


def test_system_resolver_uses_the_hosts_file(make_config):
    ctx = _ctx(make_config, None, control="localhost")
    assert dns_probe.probe(ctx, None).code == "ok"
    assert ctx.data["resolver"] == "system"
    assert "127.0.0.1" in ctx.data["addresses"] or "::1" in ctx.data["addresses"]


def test_system_resolver_that_hangs_times_out_at_the_deadline(make_config, monkeypatch):
    # getaddrinfo cannot be pointed at a local server, so a stuck one is simulated
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(3))
    ctx = _ctx(make_config, None, control="hangs.example.test", timeout=0.5)
    started = time.monotonic()
    assert _code(ctx) == "dns_timeout"
    assert time.monotonic() - started < 1.2


def test_system_resolver_error_codes(make_config, monkeypatch):
    for number, code in ((socket.EAI_NONAME, "dns_nxdomain"), (socket.EAI_AGAIN, "dns_timeout"),
                         (socket.EAI_FAIL, "dns_servfail")):
        def fail(*a, number=number, **k):
            raise socket.gaierror(number, "simulated")
        monkeypatch.setattr(socket, "getaddrinfo", fail)
        assert _code(_ctx(make_config, None, control="x.example.test")) == code


def test_no_control_name_is_skipped(make_config):
    cfg = make_config('[network]\ninternet_url = ""')
    ctx = ProbeContext(config=cfg, deadline=Deadline(1), phase="dns")
    assert dns_probe.probe(ctx, None).code == "skipped"


def test_zone_lines_serve_other_records(make_config):
    with DnsServer(zone="example.test. 60 IN MX 10 mail.example.test.") as server:
        cfg = make_config(f'[dns]\nnameservers = ["{server.nameserver}"]')
        answer = net.make_resolver(cfg).resolve("example.test", "MX", lifetime=2)
    assert [str(r.exchange) for r in answer] == ["mail.example.test."]
