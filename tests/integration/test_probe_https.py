"""The HTTPS probe against scripted TLS web servers on loopback."""

from __future__ import annotations

import time

import pytest

from app.config import Endpoint
from app.diagnosis.probes.https import probe
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.probing import run_probe
from tests.servers.smtp import HostileServer, close, expect_blank, hang, http_response, send


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')


def run(config, port: int, path: str = "/owa/", seconds: float = 3.0, host: str = "localhost"):
    endpoint = Endpoint("https", host, port, tls="implicit", url=f"https://{host}:{port}{path}")
    return run_probe(probe, config, endpoint, seconds)


@pytest.mark.parametrize("status", [200, 302, 401, 403])
def test_answering_statuses_are_ok(config, certs, status):  # noqa: F811
    with HostileServer(http_response(status), tls_context=certs.server_context()) as srv:
        code, detail, ctx = run(config, srv.port)
        request = srv.sessions[0].received
    assert code == "ok", detail
    assert ctx.data["http_status"] == status
    assert ctx.data["tls"]["subject"].startswith("CN=localhost")
    assert request[0] == b"GET /owa/ HTTP/1.1"
    assert f"Host: localhost:{srv.port}".encode() in request


def test_redirect_is_not_followed(config, certs):  # noqa: F811
    script = [expect_blank(), send(b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test/\r\n\r\n")]
    with HostileServer(script, tls_context=certs.server_context()) as srv:
        code, _detail, ctx = run(config, srv.port)
    assert code == "ok"
    assert ctx.data["location"] == "https://elsewhere.test/"
    assert len(srv.sessions) == 1


@pytest.mark.parametrize("status", [503, 404])
def test_failing_statuses_are_http_status(config, certs, status):  # noqa: F811
    with HostileServer(http_response(status), tls_context=certs.server_context()) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "http_status"
    assert str(status) in detail
    assert ctx.data["http_status"] == status


def test_retry_after_of_a_busy_server_is_kept(config, certs):  # noqa: F811
    script = [expect_blank(), send(b"HTTP/1.1 503 Busy\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n")]
    with HostileServer(script, tls_context=certs.server_context()) as srv:
        code, _detail, ctx = run(config, srv.port)
    assert code == "http_status"
    assert ctx.data["http_status"] == 503 and ctx.data["retry_after"] == 120


def test_silent_https_server_is_http_timeout_within_deadline(config, certs):  # noqa: F811
    with HostileServer([hang()], tls_context=certs.server_context()) as srv:
        started = time.monotonic()
        code, _detail, ctx = run(config, srv.port, seconds=1.0)
        elapsed = time.monotonic() - started
    assert code == "http_timeout"
    assert elapsed < 2.0
    assert ctx.data["tls"]["version"]


def test_not_http_is_protocol_error(config, certs):  # noqa: F811
    script = [expect_blank(), send(b"SSH-2.0-OpenSSH_9.2\r\n")]
    with HostileServer(script, tls_context=certs.server_context()) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "protocol_error"


def test_expiring_certificate_warns(config, certs):  # noqa: F811
    with HostileServer(http_response(200), tls_context=certs.server_context("expiring")) as srv:
        code, _detail, ctx = run(config, srv.port)
    assert code == "tls_cert_expiring"
    assert ctx.data["http_status"] == 200


def test_plain_http_server_is_tls_handshake_failed(config):
    # what a plain web server does with a TLS ClientHello: a 400 in clear text
    with HostileServer([send(b"HTTP/1.1 400 Bad Request\r\n\r\n"), close()]) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "tls_handshake_failed"
