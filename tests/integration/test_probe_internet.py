"""The internet probe against a scripted loopback HTTP server: portal, proxy login, no answer."""

from __future__ import annotations

import socket
import time

import pytest

from app.diagnosis.probes import internet
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.servers.http import HttpServer, Response


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
