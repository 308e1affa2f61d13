"""The feed reader against real HTTP servers on loopback: both formats, conditional GET,
bounded time and size, and garbage that must never break a check."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app import feed
from app.jsonio import iso_utc, parse_iso, utc_now
from tests.servers.feed_http import DripServer
from tests.servers.http import Request, Response, http_server  # noqa: F401 (fixture)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "feeds"


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def native_updated(ago: timedelta) -> bytes:
    """native.json with every time moved so that the feed was last updated `ago` before now:
    the reader calls a feed older than a day stale, so a fixed date would rot."""
    doc = json.loads(fixture_body("native.json"))
    shift = utc_now() - ago - parse_iso(doc["updated_at"])

    def move(obj):
        if isinstance(obj, dict):
            return {k: (iso_utc(parse_iso(v) + shift) if k.endswith("_at") and v else move(v))
                    for k, v in obj.items()}
        return [move(v) for v in obj] if isinstance(obj, list) else obj

    return json.dumps(move(doc)).encode()


def conditional(body: bytes, etag: str = '"v1"', last_modified: str | None = None):
    """A route that answers 304 when the client already holds this version."""

    def answer(request: Request) -> Response:
        if request.header("If-None-Match") == etag:
            return Response(304, headers={"ETag": etag})
        if last_modified and request.header("If-Modified-Since") == last_modified:
            return Response(304)
        headers = {"ETag": etag, "Content-Type": "application/json"}
        if last_modified:
            headers["Last-Modified"] = last_modified
        return Response(200, body=body, headers=headers)

    return answer


@pytest.mark.parametrize(
    ("name", "source", "ids"),
    [
        ("native.json", "native", ["INC-20261126-1", "INC-20261126-3"]),
        ("statuspage_summary.json", "statuspage", ["p31zjtct2jer"]),
        ("statuspage_status.json", "statuspage", []),
        ("statuspage_unresolved.json", "statuspage", ["cp306tmzcl0y"]),
    ],
)
def test_both_formats_over_http(http_server, name, source, ids):  # noqa: F811
    http_server.route("/feed.json", Response(200, body=fixture_body(name)))
    status = feed.FeedReader(http_server.url("/feed.json")).read(3)
    assert status["error"] is None
    assert status["source"] == source
    assert [i["id"] for i in status["incidents"]] == ids
    assert set(status) >= {"source", "incidents", "fetched_at", "error", "stale"}


def test_etag_304_returns_the_last_good_feed(http_server):  # noqa: F811
    http_server.route("/feed.json", conditional(fixture_body("native.json")))
    reader = feed.FeedReader(http_server.url("/feed.json"))
    first = reader.read(3)
    second = reader.read(3)
    requests = http_server.requests_to("/feed.json")
    assert len(requests) == 2
    assert requests[0].header("If-None-Match") is None
    assert requests[1].header("If-None-Match") == '"v1"'
    assert second["error"] is None
    assert second["incidents"] == first["incidents"] and len(second["incidents"]) == 2


def test_last_modified_304(http_server):  # noqa: F811
    stamp = "Thu, 26 Nov 2026 16:00:00 GMT"
    http_server.route("/feed.json", conditional(fixture_body("statuspage_summary.json"), etag='"x"', last_modified=stamp))
    reader = feed.FeedReader(http_server.url("/feed.json"))
    reader._etag = None  # only Last-Modified is left to match
    reader.read(3)
    reader._etag = None
    status = reader.read(3)
    assert http_server.requests_to("/feed.json")[1].header("If-Modified-Since") == stamp
    assert [i["id"] for i in status["incidents"]] == ["p31zjtct2jer"]


def test_server_error_keeps_last_good_marked_stale(http_server):  # noqa: F811
    http_server.route("/feed.json", [Response(200, body=native_updated(timedelta(minutes=10))),
                                     Response(500)])
    reader = feed.FeedReader(http_server.url("/feed.json"))
    assert reader.read(3)["stale"] is False
    status = reader.read(3)
    assert "HTTP 500" in status["error"]
    assert status["stale"] is True
    assert len(status["incidents"]) == 2


def test_a_feed_nobody_updated_for_over_a_day_is_stale_though_readable(http_server):  # noqa: F811
    http_server.route("/feed.json", Response(200, body=native_updated(timedelta(days=1, hours=1))))
    status = feed.FeedReader(http_server.url("/feed.json")).read(3)
    assert status["error"] is None and len(status["incidents"]) == 2
    assert status["stale"] is True


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html>login page</html>", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'{"hello": "world"}', "not in a format"),
        (b'{"schema": 1, "incidents": "none"}', "not a list"),
    ],
)
def test_garbage_is_a_sentence_not_a_crash(http_server, body, words):  # noqa: F811
    http_server.route("/feed.json", Response(200, body=body))
    status = feed.FeedReader(http_server.url("/feed.json")).read(3)
    assert words in status["error"]
    assert status["incidents"] == []


def test_oversized_body_is_refused_by_length_and_by_stream(http_server):  # noqa: F811
    big = b'{"schema":1,"incidents":[],"pad":"' + b"x" * 1_100_000 + b'"}'
    http_server.route("/declared.json", Response(200, body=big))
    status = feed.FeedReader(http_server.url("/declared.json")).read(3)
    assert "larger than 1 MB" in status["error"]

    def chunked_liar(request: Request) -> Response:  # no Content-Length: read until close
        return Response(200, body=big, headers={"Content-Length": "", "Connection": "close"})

    http_server.route("/undeclared.json", chunked_liar)
    status = feed.FeedReader(http_server.url("/undeclared.json")).read(3)
    assert "larger than 1 MB" in status["error"]


def test_connection_refused_is_a_sentence():
    with DripServer() as srv:
        url = srv.url()
    status = feed.FeedReader(url).read(2)
    assert status["error"] and "refused" in status["error"]


@pytest.mark.parametrize("mode", ["silent", "headers", "body"])
def test_slow_feed_is_bounded(mode):
    with DripServer(mode) as srv:
        reader = feed.FeedReader(srv.url())
        started = time.monotonic()
        status = reader.read(0.6)
        elapsed = time.monotonic() - started
        assert srv.connections == 1
    assert elapsed < 1.5  # a hard bound with margin: dripping must not stretch the read
    assert "did not answer" in status["error"]
    assert status["incidents"] == []


def test_redirect_is_followed(http_server):  # noqa: F811
    http_server.route("/old.json", Response(301, headers={"Location": "/feed.json"}))
    http_server.route("/feed.json", Response(200, body=fixture_body("native.json")))
    status = feed.FeedReader(http_server.url("/old.json")).read(3)
    assert status["error"] is None and len(status["incidents"]) == 2


def test_check_json_carries_it_status_and_keeps_the_verdict(http_server, make_config):  # noqa: F811
    from app.diagnosis import engine

    http_server.route("/feed.json", Response(200, body=b"garbage"))
    cfg = make_config(f'[network]\ninternet_url = ""\n[feed]\nurl = "{http_server.url("/feed.json")}"\n')
    broken = engine.diagnose(cfg)
    http_server.route("/feed.json", Response(200, body=fixture_body("native.json")))
    good = engine.diagnose(make_config(f'[network]\ninternet_url = ""\n[feed]\nurl = "{http_server.url("/feed.json")}"\n'))
    assert broken.verdict == good.verdict == "unknown"
    assert "not valid JSON" in broken.it_status["error"]
    assert feed.known_incident(good.it_status) == "INC-20261126-1"
    json.dumps(good.to_json())


@pytest.fixture
def https_feed(tmp_path):
    """An HTTPS server on loopback with a certificate from a throwaway CA; yields (url, ca_file)."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    body = fixture_body("native.json")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/feed.json", str(ca_file)
    finally:
        server.shutdown()
        server.server_close()


def test_https_feed_trusted_through_ca_file(https_feed):
    url, ca_file = https_feed
    status = feed.FeedReader(url, ca_file=ca_file).read(3)
    assert status["error"] is None and len(status["incidents"]) == 2
    untrusted = feed.FeedReader(url).read(3)
    assert "not trusted" in untrusted["error"] or "secure connection" in untrusted["error"]
    assert untrusted["incidents"] == []


def test_login_in_the_http_proxy_url_is_sent(http_server, monkeypatch):  # noqa: F811
    # a company proxy that wants a login: the feed must send it, as the internet probe does
    def proxy(request: Request) -> Response:
        if request.header("Proxy-Authorization") != "Basic " + base64.b64encode(b"jo:s3cret").decode():
            return Response(407, headers={"Proxy-Authenticate": 'Basic realm="corp"'})
        return Response(200, body=fixture_body("native.json"))

    http_server.route("http://intranet.invalid/feed.json", proxy)
    monkeypatch.setenv("HTTP_PROXY", "http://jo:s3cret@" + http_server.url("").split("//")[1])
    monkeypatch.delenv("NO_PROXY")
    status = feed.FeedReader("http://intranet.invalid/feed.json").read(3)
    assert status["error"] is None and len(status["incidents"]) == 2


def test_login_in_the_https_proxy_url_goes_with_connect(http_server, monkeypatch):  # noqa: F811
    http_server.route("intranet.invalid:443", Response(407, headers={"Proxy-Authenticate": "Basic"}))
    monkeypatch.setenv("HTTPS_PROXY", "http://jo:s3cret@" + http_server.url("").split("//")[1])
    monkeypatch.delenv("NO_PROXY")
    status = feed.FeedReader("https://intranet.invalid/feed.json").read(3)
    assert status["error"]  # the loopback proxy refuses the tunnel; what matters is what it got
    [connect] = http_server.requests_to("intranet.invalid:443")
    assert connect.method == "CONNECT"
    assert connect.header("Proxy-Authorization") == "Basic " + base64.b64encode(b"jo:s3cret").decode()
    assert "s3cret" not in status["error"]
