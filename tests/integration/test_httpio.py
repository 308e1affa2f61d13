"""The one HTTP client against real loopback servers: names through the configured resolver with
TLS checked against the name, POST with a token, conditional GET, caps, the deadline and the
redirect policy (never https -> http, never into loopback from elsewhere, at most N)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import httpio
from tests.integration.test_netns import scratch_namespace
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.dns import DnsServer
from tests.servers.feed_http import DripServer
from tests.servers.http import HttpServer, Response
from tests.servers.web import WebHost

NAME = "feed.corp.example"


@pytest.fixture
def site(certs):  # noqa: F811
    with WebHost(certs.ca, NAME) as host, DnsServer({NAME: [host.address]}) as dns:
        yield host, dns


def _cfg(make_config, certs, dns, extra: str = ""):  # noqa: F811
    return make_config(
        f'[dns]\nnameservers = ["{dns.nameserver}"]\n[tls]\nca_file = "{certs.ca_pem}"\n{extra}'
    )


def test_name_resolved_through_configured_dns_and_certificate_checked_for_the_name(make_config, certs, site):  # noqa: F811
    host, dns = site
    host.https.route("/status.json", status=200, body={"ok": True})
    cfg = _cfg(make_config, certs, dns)
    resp = httpio.request(f"https://{NAME}/status.json", config=cfg, configured_dns=True, timeout_s=3)
    assert resp.status == 200 and resp.json() == {"ok": True}
    assert host.https.requests[0].header("Host") == NAME
    assert (NAME, "A") in dns.queries
    # without the configured resolver the name does not exist on this machine
    with pytest.raises(httpio.HttpError) as info:
        httpio.request(f"https://{NAME}/status.json", config=cfg, timeout_s=3)
    assert info.value.kind in ("dns", "timeout")


def test_certificate_for_another_name_is_refused(make_config, certs, site):  # noqa: F811
    host, dns = site
    dns.add("other.corp.example", host.address)
    host.https.route("/x", status=200)
    with pytest.raises(httpio.HttpError) as info:
        httpio.request("https://other.corp.example/x", config=_cfg(make_config, certs, dns),
                       configured_dns=True, timeout_s=3)
    assert info.value.kind == "tls" and "not trusted" in info.value.reason
    assert host.https.requests == []


def test_post_json_with_a_bearer_token(make_config, certs, site):  # noqa: F811
    host, dns = site
    host.https.route("/api/v1/state", status=202, body={"accepted": 1})
    resp = httpio.request(
        f"https://{NAME}/api/v1/state", config=_cfg(make_config, certs, dns), configured_dns=True,
        method="POST", json_body={"verdict": "ok"}, headers={"Authorization": "Bearer t0ken"}, timeout_s=3,
    )
    assert resp.status == 202
    [req] = host.https.requests
    assert req.method == "POST" and req.json() == {"verdict": "ok"}
    assert req.header("Authorization") == "Bearer t0ken"
    assert req.header("Content-Type") == "application/json"


def test_conditional_get_headers(http_server_plain):
    http_server_plain.route("/f", status=304)
    resp = httpio.request(http_server_plain.url("/f"), etag='"v7"', last_modified="Tue, 01 Dec 2026 07:00:00 GMT")
    assert resp.status == 304
    req = http_server_plain.requests[0]
    assert req.header("If-None-Match") == '"v7"'
    assert req.header("If-Modified-Since") == "Tue, 01 Dec 2026 07:00:00 GMT"


@pytest.fixture
def http_server_plain():
    with HttpServer() as server:
        yield server


def test_size_cap_by_length_by_stream_and_truncation(http_server_plain):
    srv = http_server_plain
    srv.route("/declared", status=200, body=b"x" * 2_000_000)
    srv.route("/stream", Response(200, stream=lambda: (b"y" * 65536 for _ in range(800))))  # 52 MB
    for path in ("/declared", "/stream"):
        with pytest.raises(httpio.HttpError) as info:
            httpio.request(srv.url(path), timeout_s=5)
        assert info.value.kind == "too_large" and "1 MB" in info.value.reason
    resp = httpio.request(srv.url("/stream"), timeout_s=5, max_bytes=1000, truncate=True)
    assert len(resp.body) == 1000 and resp.truncated


@pytest.mark.parametrize("mode", ["silent", "headers", "body"])
def test_dripping_server_is_cut_at_the_deadline(mode):
    with DripServer(mode) as srv:
        started = time.monotonic()
        with pytest.raises(httpio.HttpError) as info:
            httpio.request(srv.url(), timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert info.value.kind == "timeout"
    assert elapsed < 1.5


def test_https_to_http_redirect_is_refused(make_config, certs, site):  # noqa: F811
    host, dns = site
    host.https.route("/feed.json", status=302, headers={"Location": f"http://{NAME}/feed.json"})
    host.http.route("/feed.json", status=200, body={"schema": 1})
    with pytest.raises(httpio.HttpError) as info:
        httpio.request(f"https://{NAME}/feed.json", config=_cfg(make_config, certs, dns),
                       configured_dns=True, timeout_s=3)
    assert info.value.kind == "redirect" and "https to plain http" in info.value.reason
    assert host.http.requests == []


def test_feed_refuses_https_to_http(certs, site):  # noqa: F811
    from app import feed

    host, _dns = site
    host.https.route("/feed.json", status=301, headers={"Location": f"http://{host.address}/feed.json"})
    host.http.route("/feed.json", status=200, body={"schema": 1, "incidents": []})
    status = feed.FeedReader(f"https://{host.address}/feed.json", ca_file=str(certs.ca_pem)).read(3)
    assert "https to plain http" in status["error"] and status["incidents"] == []
    assert len(host.https.requests) == 1 and host.http.requests == []


def test_redirects_are_bounded(http_server_plain):
    srv = http_server_plain
    for i in range(5):
        srv.route(f"/r{i}", status=307, headers={"Location": f"/r{i + 1}"})
    srv.route("/r5", status=200, body="end")
    assert httpio.request(srv.url("/r2"), timeout_s=3).text() == "end"  # three: fine
    with pytest.raises(httpio.HttpError) as info:
        httpio.request(srv.url("/r0"), timeout_s=3)  # five in a row: not
    assert info.value.kind == "redirect" and "more than 3" in info.value.reason
    assert httpio.request(srv.url("/r0"), timeout_s=3, max_redirects=10).text() == "end"
    assert httpio.request(srv.url("/r4"), timeout_s=3).redirects == [srv.url("/r4")]


@pytest.mark.parametrize("location", ["http://[::1/x", "ftp://files.example/feed.json", "http://:80/"])
def test_a_redirect_to_garbage_is_an_error(http_server_plain, location):
    http_server_plain.route("/a", status=302, headers={"Location": location})
    with pytest.raises(httpio.HttpError) as info:
        httpio.request(http_server_plain.url("/a"), timeout_s=3)
    assert info.value.kind == "redirect"


def test_not_following_returns_the_redirect(http_server_plain):
    http_server_plain.route("/a", status=302, headers={"Location": "/b"})
    resp = httpio.request(http_server_plain.url("/a"), follow_redirects=False)
    assert resp.status == 302 and resp.header("Location") == "/b"
    assert http_server_plain.requests_to("/b") == []


def test_authorization_dropped_when_the_host_changes(http_server_plain):
    with HttpServer() as other:
        other.route("/b", status=200)
        http_server_plain.route("/a", status=302, headers={"Location": other.url("/b").replace("127.0.0.1", "localhost")})
        httpio.request(http_server_plain.url("/a"), headers={"Authorization": "Bearer secret"}, timeout_s=3)
        assert other.requests[0].header("Authorization") is None


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.9.8.7", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "other"), ("192.0.2.10", "other"), ("2001:db8::1", "other"),
])
def test_address_class(address, kind):
    assert httpio.address_class(address) == kind


# ---- a server that is not on loopback: a namespace of our own with a veth pair (192.0.2.0/24)

NETNS_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.servers.http import HttpServer
from app import httpio
out = {}
with HttpServer("192.0.2.10") as outside, HttpServer("127.0.0.1") as inside, HttpServer("127.0.0.2") as local:
    inside.route("/feed.json", status=200, body={"schema": 1, "incidents": []})
    outside.route("/to-loopback", status=302, headers={"Location": inside.url("/feed.json")})
    outside.route("/to-localhost", status=302, headers={"Location": inside.url("/feed.json").replace("127.0.0.1", "localhost")})
    outside.route("/to-link-local", status=302, headers={"Location": "http://169.254.169.254/latest/"})
    local.route("/to-loopback", status=302, headers={"Location": inside.url("/feed.json")})
    for name, url in [("loopback", outside.url("/to-loopback")), ("localhost", outside.url("/to-localhost")),
                      ("link_local", outside.url("/to-link-local")), ("from_loopback", local.url("/to-loopback"))]:
        try:
            out[name] = {"status": httpio.request(url, timeout_s=3).status}
        except httpio.HttpError as exc:
            out[name] = {"kind": exc.kind, "reason": exc.reason}
    from app import feed
    out["feed_error"] = feed.FeedReader(outside.url("/to-loopback")).read(3)["error"]
    out["inside_requests"] = len(inside.requests)
print(json.dumps(out))
"""


@pytest.mark.netns
def test_redirect_into_loopback_or_link_local_refused_from_a_server_elsewhere():
    with scratch_namespace("mbhttp") as ns:
        ip = ["ip", "-n", ns]
        for args in (["link", "set", "lo", "up"], ["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                     ["addr", "add", "192.0.2.10/24", "dev", "v0"], ["link", "set", "v0", "up"],
                     ["link", "set", "v1", "up"]):
            subprocess.run([*ip, *args], check=True, timeout=10)
        repo = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, NO_PROXY="*")
        proc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", NETNS_SCRIPT, repo],
                              capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    import json

    out = json.loads(proc.stdout)
    for name in ("loopback", "localhost", "link_local"):
        assert out[name]["kind"] == "redirect", out
    assert "loopback" in out["loopback"]["reason"] and "link-local" in out["link_local"]["reason"]
    assert out["from_loopback"] == {"status": 200}  # loopback to loopback is fine
    assert "loopback address" in out["feed_error"] and "refused" in out["feed_error"]
    assert out["inside_requests"] == 1  # only the loopback origin's redirect got there
