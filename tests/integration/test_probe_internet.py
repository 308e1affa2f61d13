"""The internet probe against a scripted loopback HTTP server: portal, proxy login, no answer."""

from __future__ import annotations

import base64
import socket
import time

import pytest

from app.diagnosis.probes import internet
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.http import HttpServer, Response
from tests.servers.smtp import HostileServer, expect_blank, hang, http_response, send, start_tls


@pytest.fixture
def web():
    with HttpServer() as server:
        yield server


def _ctx(make_config, url: str, extra: str = "", timeout: float = 3.0) -> ProbeContext:
    cfg = make_config(f'[network]\ninternet_url = "{url}"\n{extra}')
    return ProbeContext(config=cfg, deadline=Deadline(timeout), phase="internet")


def _fail(ctx: ProbeContext) -> ProbeFailure:
    with pytest.raises(ProbeFailure) as info:
        internet.probe(ctx, None)
    return info.value


def test_204_is_ok(make_config, web):
    web.route("/generate_204", status=204)
    ctx = _ctx(make_config, web.url("/generate_204"))
    outcome = internet.probe(ctx, None)
    assert outcome.code == "ok"
    assert ctx.data["status"] == 204
    assert ctx.phase == "internet"
    assert len(web.requests_to("/generate_204")) == 1


def test_redirect_is_captive_portal_and_not_followed(make_config, web):
    web.route("/generate_204", status=302, headers={"Location": web.url("/login")})
    web.route("/login", status=200, body="<html>login</html>")
    ctx = _ctx(make_config, web.url("/generate_204"))
    failure = _fail(ctx)
    assert failure.code == "captive_portal"
    assert ctx.data["location"].endswith("/login")
    assert web.requests_to("/login") == []


def test_login_page_instead_of_204_is_captive_portal(make_config, web):
    web.route("/generate_204", status=200, body="<html><form>Sign in to Guest Wi-Fi</form></html>")
    ctx = _ctx(make_config, web.url("/generate_204"))
    failure = _fail(ctx)
    assert failure.code == "captive_portal"
    assert "Sign in" in ctx.data["body_excerpt"]


def test_expected_body_must_match(make_config, web):
    web.route("/success.txt", status=200, body="success\n")
    ok = _ctx(make_config, web.url("/success.txt"),
              'internet_expect_status = 200\ninternet_expect_body = "success"')
    assert internet.probe(ok, None).code == "ok"

    web.route("/success.txt", status=200, body="<html>portal</html>")
    portal = _ctx(make_config, web.url("/success.txt"),
                  'internet_expect_status = 200\ninternet_expect_body = "success"')
    assert _fail(portal).code == "captive_portal"


def test_407_is_proxy_auth_required(make_config, web):
    web.route("/generate_204", status=407, headers={"Proxy-Authenticate": 'Basic realm="corp"'})
    assert _fail(_ctx(make_config, web.url("/generate_204"))).code == "proxy_auth_required"


def test_407_from_the_system_proxy(make_config, web, monkeypatch):
    # the loopback server plays the proxy: requests sends it the absolute URL
    web.route("http://internet.invalid/generate_204", status=407)
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@" + web.url("").split("//")[1])
    monkeypatch.delenv("NO_PROXY")
    ctx = _ctx(make_config, "http://internet.invalid/generate_204")
    assert _fail(ctx).code == "proxy_auth_required"
    assert "secret" not in ctx.data["proxy"] and ctx.data["proxy"].startswith("http://127.0.0.1:")
    assert web.requests[0].path == "http://internet.invalid/generate_204"


def test_nothing_listening_is_internet_unreachable(make_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failure = _fail(_ctx(make_config, f"http://127.0.0.1:{port}/generate_204"))
    assert failure.code == "internet_unreachable"
    assert "refused" in failure.detail.lower()


def test_silent_server_is_internet_unreachable_within_deadline(make_config, web):
    web.route("/generate_204", Response(204, delay=3))
    started = time.monotonic()
    failure = _fail(_ctx(make_config, web.url("/generate_204"), timeout=1.0))
    assert failure.code == "internet_unreachable"
    assert time.monotonic() - started < 2.0


def test_reset_is_internet_unreachable(make_config, web):
    web.route("/generate_204", Response(reset=True))
    assert _fail(_ctx(make_config, web.url("/generate_204"))).code == "internet_unreachable"


def test_disabled_is_skipped(make_config):
    ctx = _ctx(make_config, "")
    assert internet.probe(ctx, None).code == "skipped"


def test_ipv6_loopback(make_config):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = HttpServer("::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        server.route("/generate_204", status=204)
        assert internet.probe(_ctx(make_config, server.url("/generate_204")), None).code == "ok"
    finally:
        server.stop()


def test_407_to_connect_through_the_system_proxy(make_config, web, monkeypatch):
    # for an https URL requests asks the proxy to CONNECT; the proxy wants a login
    web.route("internet.invalid:443", status=407, headers={"Proxy-Authenticate": "Basic"})
    monkeypatch.setenv("HTTPS_PROXY", web.url(""))
    monkeypatch.delenv("NO_PROXY")
    ctx = _ctx(make_config, "https://internet.invalid/generate_204")
    assert _fail(ctx).code == "proxy_auth_required"
    assert web.requests[0].method == "CONNECT"


def test_dead_proxy_is_internet_unreachable(make_config, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY")
    ctx = _ctx(make_config, "http://internet.invalid/generate_204")
    assert _fail(ctx).code == "internet_unreachable"
    assert ctx.data["proxy"] == f"http://127.0.0.1:{port}"


# ---- TLS, tunnels and proxy logins (HostileServer plays the origin or the proxy)


def _https_ctx(make_config, certs, url: str, extra: str = "", timeout: float = 3.0) -> ProbeContext:  # noqa: F811
    return _ctx(make_config, url, f'{extra}\n[tls]\nca_file = "{certs.ca_pem}"', timeout)


def test_https_trusted_through_tls_ca_file_is_ok(make_config, certs):  # noqa: F811
    with HostileServer(http_response(204), tls_context=certs.server_context("good")) as srv:
        ctx = _https_ctx(make_config, certs, f"https://localhost:{srv.port}/generate_204")
        assert internet.probe(ctx, None).code == "ok"
        request = srv.sessions[0].received
    assert request[0] == b"GET /generate_204 HTTP/1.1"
    assert ctx.data["status"] == 204


@pytest.mark.parametrize("kind", ["untrusted", "wrong_host", "expired"])
def test_certificate_error_on_the_probe_url_is_captive_portal(make_config, certs, kind):  # noqa: F811
    with HostileServer(http_response(204), tls_context=certs.server_context(kind)) as srv:
        ctx = _https_ctx(make_config, certs, f"https://localhost:{srv.port}/generate_204")
        failure = _fail(ctx)
    assert failure.code == "captive_portal"
    assert "intercepted" in failure.detail


def test_https_through_the_connect_tunnel_with_proxy_login(make_config, certs, monkeypatch):  # noqa: F811
    # the proxy accepts the CONNECT and then plays the origin itself, over TLS
    script = [
        expect_blank(),
        send(b"HTTP/1.1 200 Connection established\r\n\r\n"),
        start_tls(certs.server_context("good")),
        http_response(204),
    ]
    with HostileServer(script) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://corp%5Cjo:s3cret@127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY")
        ctx = _https_ctx(make_config, certs, "https://localhost/generate_204")
        assert internet.probe(ctx, None).code == "ok"
        received = proxy.sessions[0].received
    assert received[0].startswith(b"CONNECT localhost:443 HTTP/1.")
    # inside the tunnel the request is the origin's own form, and carries no proxy login
    get = received.index(b"GET /generate_204 HTTP/1.1")
    login = base64.b64encode(b"corp\\jo:s3cret").decode()
    assert f"Proxy-Authorization: Basic {login}".encode() in received[:get]
    assert not any(line.startswith(b"Proxy-Authorization") for line in received[get:])
    assert ctx.data["proxy"] == f"http://127.0.0.1:{proxy.port}"


def test_login_in_the_http_proxy_url_is_sent(make_config, web, monkeypatch):
    web.route("http://internet.invalid/generate_204", status=204)
    monkeypatch.setenv("HTTP_PROXY", "http://jo:s3cret@" + web.url("").split("//")[1])
    monkeypatch.delenv("NO_PROXY")
    ctx = _ctx(make_config, "http://internet.invalid/generate_204")
    assert internet.probe(ctx, None).code == "ok"
    expected = "Basic " + base64.b64encode(b"jo:s3cret").decode()
    assert web.requests[0].header("Proxy-Authorization") == expected


def test_no_proxy_bypasses_the_proxy(make_config, web, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    web.route("/generate_204", status=204)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    ctx = _ctx(make_config, web.url("/generate_204"))
    assert internet.probe(ctx, None).code == "ok"
    assert "proxy" not in ctx.data


def test_body_read_stops_at_the_cap(make_config):
    # a page that claims 100 MB and then stalls: only the first 64 KB are read, so no wait
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
    with HostileServer([expect_blank(), send(head + b"x" * 200_000), hang()]) as srv:
        ctx = _ctx(make_config, f"http://127.0.0.1:{srv.port}/", "internet_expect_status = 200", 5.0)
        started = time.monotonic()
        assert internet.probe(ctx, None).code == "ok"
    assert time.monotonic() - started < 2.5


def test_trickling_body_stops_at_the_deadline(make_config):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nsuc"
    with HostileServer([expect_blank(), send(head), hang()]) as srv:
        ctx = _ctx(make_config, f"http://127.0.0.1:{srv.port}/",
                   'internet_expect_status = 200\ninternet_expect_body = "success"', 1.0)
        started = time.monotonic()
        failure = _fail(ctx)
    assert failure.code == "internet_unreachable"
    assert time.monotonic() - started < 2.0
