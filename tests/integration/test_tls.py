"""The TLS helper: trust (OS store plus tls.ca_file), certificate facts and classification."""

from __future__ import annotations

import datetime as dt
import ssl
import time

import pytest

from app.diagnosis import tls
from app.diagnosis.net import connect
from app.diagnosis.probes.base import Deadline, ProbeContext, ProbeFailure
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.smtp import HostileServer, hang, receive, reset, send


def handshake(config, server, host: str = "localhost", seconds: float = 3.0):
    """(code, ctx): "ok" or the ProbeFailure code of a handshake with `server`."""
    ctx = ProbeContext(config, Deadline(seconds))
    try:
        sock = connect(ctx, host, server.port)
        ctx.enter("tls")
        tls.handshake(ctx, sock, host, reconnect=lambda: connect(ctx, host, server.port)).close()
    except ProbeFailure as failure:
        return failure.code, ctx, failure.detail
    return "ok", ctx, ""


def tls_server(certs, kind: str = "good", host: str = "127.0.0.1"):  # noqa: F811
    return HostileServer([hang()], tls_context=certs.server_context(kind), host=host)


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')


def test_test_ca_is_not_trusted_without_ca_file(make_config, certs):  # noqa: F811
    with tls_server(certs) as srv:
        code, ctx, detail = handshake(make_config(""), srv)
    assert code == "tls_cert_untrusted"
    assert "MailBeacon Test CA" in detail
    assert ctx.data["tls"]["subject"].startswith("CN=localhost")


@pytest.fixture
def fresh_contexts():
    # OpenSSL keeps every CA once loaded: a context that saw the stand-in store must not be reused
    tls._context_for.cache_clear()
    yield
    tls._context_for.cache_clear()


def test_ca_file_is_added_to_the_os_store_not_replacing_it(
    make_config, certs, monkeypatch, fresh_contexts  # noqa: F811
):
    # stand in for the OS store with the "other" CA: both must be trusted at once
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.other_ca_pem))
    monkeypatch.setenv("SSL_CERT_DIR", str(certs.directory / "no-such-dir"))
    config = make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')
    with tls_server(certs, "good") as srv:
        assert handshake(config, srv)[0] == "ok"
    with tls_server(certs, "untrusted") as srv:
        assert handshake(config, srv)[0] == "ok"


def test_context_is_cached_per_ca_file(make_config, certs):  # noqa: F811
    a = make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')
    b = make_config(f'[tls]\nca_file = "{certs.ca_pem}"\nexpiry_warn_days = 3\n')
    c = make_config("")
    assert tls.client_context(a) is tls.client_context(b)
    assert tls.client_context(a) is not tls.client_context(c)
    assert tls.client_context(a).verify_mode == ssl.CERT_REQUIRED


def test_facts_of_a_good_certificate(config, certs):  # noqa: F811
    with tls_server(certs) as srv:
        code, ctx, _ = handshake(config, srv)
    assert code == "ok"
    facts = ctx.data["tls"]
    assert set(facts) >= {"version", "cipher", "issuer", "subject", "not_after", "days_left", "san"}
    assert facts["san"] == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    when = dt.datetime.strptime(facts["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((when - dt.datetime.now(dt.UTC)).days - facts["days_left"]) <= 1
    assert tls.expiry_warning(ctx) is None


def test_expiring_certificate_warning(config, certs):  # noqa: F811
    with tls_server(certs, "expiring") as srv:
        code, ctx, _ = handshake(config, srv)
    assert code == "ok"
    warning = tls.expiry_warning(ctx)
    assert warning is not None and warning.code == "tls_cert_expiring"
    ctx.config.tls.expiry_warn_days = 2  # a shorter window: no warning yet
    assert tls.expiry_warning(ctx) is None


@pytest.mark.parametrize(
    ("kind", "host", "code"),
    [
        ("expired", "localhost", "tls_cert_expired"),
        ("not_yet_valid", "localhost", "tls_cert_expired"),
        ("untrusted", "localhost", "tls_cert_untrusted"),
        ("wrong_host", "localhost", "tls_hostname_mismatch"),
        ("wrong_host", "127.0.0.1", "tls_hostname_mismatch"),  # IP literal: the IP SANs
    ],
)
def test_certificate_failures(config, certs, kind, host, code):  # noqa: F811
    with tls_server(certs, kind) as srv:
        got, ctx, detail = handshake(config, srv, host=host)
    assert got == code, detail
    assert ctx.data["tls"]["subject"]  # facts from the unverified second look
    assert ctx.phase == "tls"


def test_ipv6_literal_matches_ip_san(config, certs):  # noqa: F811
    with tls_server(certs, "good", host="::1") as srv:
        code, ctx, _ = handshake(config, srv, host="::1")
    assert code == "ok"


def test_server_that_never_handshakes_fails_within_deadline(config):
    with HostileServer([hang()]) as srv:
        started = time.monotonic()
        code, _ctx, _ = handshake(config, srv, seconds=1.0)
    assert code == "tls_handshake_failed"
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("script", [[receive(), reset()], [send(b"220 plain text here\r\n"), hang()]])
def test_reset_or_plain_text_is_handshake_failed(config, script):
    with HostileServer(script) as srv:
        code, _ctx, detail = handshake(config, srv)
    assert code == "tls_handshake_failed", detail


def test_classification_from_facts_when_the_verifier_gives_no_code():
    # another platform's verifier (macOS, Windows) reports without OpenSSL's verify codes
    error = ssl.SSLCertVerificationError("certificate verify failed")
    expired = {"days_left": -2, "not_after": "2020-01-01T00:00:00Z", "san": ["DNS:localhost"]}
    assert tls.classify_verify_error(error, "localhost", expired).code == "tls_cert_expired"
    other = {"days_left": 90, "san": ["DNS:mail.example.com"], "subject": "CN=mail.example.com"}
    assert tls.classify_verify_error(error, "localhost", other).code == "tls_hostname_mismatch"
    good_name = {"days_left": 90, "san": ["DNS:*.example.com"]}
    assert tls.classify_verify_error(error, "mail.example.com", good_name).code == "tls_cert_untrusted"


def test_a_certificate_not_valid_yet_without_its_start_date_never_says_none():
    error = ssl.SSLCertVerificationError("certificate verify failed")
    error.verify_code = 9  # OpenSSL's "certificate is not yet valid"
    for facts in ({}, {"subject": "CN=mail.example.com", "not_before": None}):
        failure = tls.classify_verify_error(error, "mail.example.com", facts)
        assert failure.code == "tls_cert_expired", failure.detail
        assert "(from a future date)" in failure.detail and "None" not in failure.detail, failure.detail


def test_host_matching():
    assert tls.matches_host(["DNS:*.example.com"], "", "mail.example.com")
    assert not tls.matches_host(["DNS:*.example.com"], "", "a.b.example.com")
    assert tls.matches_host(["IP:::1"], "", "[::1]")
    assert not tls.matches_host(["DNS:127.0.0.1"], "", "127.0.0.1")
    assert tls.matches_host([], "CN=mail.example.com", "MAIL.example.com.")
