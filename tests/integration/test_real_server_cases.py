"""What real servers showed (Postfix postscreen, smtpd_tls_auth_only, a TLS-mode mismatch, a 521
blocklist, a webmail-only 503, a company CA missing on this laptop), replayed against loopback
servers: what the probe keeps in data, what its detail tells IT, and what the headline tells staff."""

from __future__ import annotations

import pytest

from app.config import Endpoint
from app.diagnosis import engine
from app.diagnosis.model import Check, status_of
from app.diagnosis.probes import https as https_probe
from app.diagnosis.probes import smtp as smtp_probe
from app.diagnosis.verdict import decide
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.probing import run_probe
from tests.servers.smtp import HostileServer, SMTPServer, close, hang, http_response, send

BASE = [Check("link", "link", "this computer", "ok", "ok", ""), Check("dns", "dns", "localhost", "ok", "ok", "")]


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')


def smtp(config, port: int, tls: str, seconds: float = 2.5):
    return run_probe(smtp_probe.probe, config, Endpoint("smtp", "127.0.0.1", port, tls=tls), seconds)


def headline_for(kind: str, code: str, data: dict, *, ca_file_set: bool = True) -> str:
    check = Check(f"{kind} x", kind, "127.0.0.1:1", status_of(code), code, "", data=data)
    return decide([*BASE, check], ca_file_set=ca_file_set).headline


def test_postscreen_greet_delay_keeps_the_partial_greeting(config):
    # postscreen sends "220-" at once and the final "220" only after its greet wait
    script = [send(b"220-mx.test ESMTP postscreen greet pause\r\n"), hang()]
    with HostileServer(script) as srv:
        code, detail, ctx = smtp(config, srv.port, "none", seconds=1.5)
    assert code == "banner_timeout"
    assert ctx.data["greeting"] == "220-mx.test ESMTP postscreen greet pause"
    assert "started its greeting" in detail and "did not finish" in detail
    assert "never sent" not in detail


def test_the_engine_keeps_the_partial_greeting_in_the_check(make_config, certs):  # noqa: F811
    with HostileServer([send(b"220-mx.test ESMTP\r\n"), hang()]) as srv:
        config = make_config(
            '[network]\ninternet_url = ""\n[check]\ntimeout_s = 1.5\n'
            f'[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {srv.port}\ntls = "none"\n'
        )
        diagnosis = engine.diagnose(config)
    (check,) = diagnosis.endpoint_checks
    assert check.code == "banner_timeout" and check.data["greeting"] == "220-mx.test ESMTP"
    assert "did not finish" in check.detail


def test_521_at_connect_is_the_server_refusing_service(config):
    script = [send(b"521 5.3.2 mx.test Service currently unavailable\r\n"), close()]
    with HostileServer(script) as srv:
        code, detail, ctx = smtp(config, srv.port, "starttls")
    assert code == "service_unavailable"
    assert ctx.data["greeting"].startswith("521 5.3.2")
    assert "refuses service" in detail and "RFC 7504" in detail
    assert "refusing service" in headline_for("smtp", code, ctx.data)


def test_starttls_configured_on_an_implicit_tls_port_says_so(config, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("good")) as srv:
        code, detail, _ctx = smtp(config, srv.port, "starttls", seconds=3.0)
    assert code == "banner_timeout"
    assert "implicit TLS" in detail and 'tls = "implicit"' in detail


def test_a_silent_plain_port_is_not_called_tls(config):
    with HostileServer([hang()]) as srv:
        code, detail, _ctx = smtp(config, srv.port, "starttls", seconds=3.0)
    assert code == "banner_timeout" and "implicit TLS" not in detail


def test_implicit_tls_configured_on_a_starttls_port_says_so_and_blames_no_certificate(config):
    with SMTPServer("plain") as srv:
        code, detail, ctx = smtp(config, srv.port, "implicit")
    assert code == "tls_handshake_failed"
    assert "before any certificate" in detail and "expects STARTTLS" in detail
    assert ctx.data["greeting"].startswith("220 ")
    headline = headline_for("smtp", code, ctx.data)
    assert "certificate" not in headline and "secure connection" in headline


def test_plain_endpoint_on_a_port_with_sign_in_only_after_starttls(config, certs):  # noqa: F811
    # aiosmtpd's auth_require_tls is Postfix's smtpd_tls_auth_only: AUTH appears after STARTTLS
    with SMTPServer("starttls", certs.server_context("good")) as srv:
        code, detail, ctx = smtp(config, srv.port, "none")
    assert code == "auth_not_offered"
    assert ctx.data["auth_mechanisms"] == []  # what the configured, plain session offers
    assert "PLAIN" in ctx.data["auth_after_starttls"]
    assert "sign-in is offered after STARTTLS" in detail and 'tls = "starttls"' in detail
    assert "tls" not in ctx.data  # the look past STARTTLS does not change the plain session's facts


def test_rejected_certificate_facts_match_an_accepted_ones(config, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("good")) as srv:
        code, _d, good = smtp(config, srv.port, "implicit")
    assert code == "ok"
    with SMTPServer("implicit", certs.server_context("wrong_host")) as srv:
        code, _d, bad = smtp(config, srv.port, "implicit")
    assert code == "tls_hostname_mismatch"
    assert list(bad.data["tls"]) == list(good.data["tls"])
    assert bad.data["tls"]["cipher"] and bad.data["tls"]["cipher"] == good.data["tls"]["cipher"]


def test_webmail_only_503_says_webmail(config, certs):  # noqa: F811
    script = [*http_response(503, "Service Unavailable", b"down")]
    with HostileServer(script, tls_context=certs.server_context("good")) as srv:
        endpoint = Endpoint("https", "127.0.0.1", srv.port, url=f"https://127.0.0.1:{srv.port}/owa/")
        code, detail, ctx = run_probe(https_probe.probe, config, endpoint, 3.0)
    assert code == "http_status" and ctx.data["http_status"] == 503
    assert "webmail service" in detail
    headline = headline_for("https", code, ctx.data)
    assert headline.startswith("Webmail") and "mail server" not in headline


def test_untrusted_certificate_without_a_company_ca_does_not_say_not_your_computer(make_config, certs):  # noqa: F811
    bare = make_config("")  # tls.ca_file unset: only the system store
    with SMTPServer("implicit", certs.server_context("good")) as srv:
        code, detail, ctx = smtp(bare, srv.port, "implicit")
    assert code == "tls_cert_untrusted"
    assert "tls.ca_file is not set" in detail
    headline = headline_for("smtp", code, ctx.data, ca_file_set=False)
    assert "not your computer" not in headline and "This computer does not trust" in headline
    # with the company CA configured, the same rejection is the server's
    assert "not your computer" in headline_for("smtp", code, ctx.data, ca_file_set=True)


def test_pop3_err_greeting_is_refused_service_and_kept(config):
    from app.diagnosis.probes import pop3

    with HostileServer([send(b"-ERR [SYS/TEMP] Server shutting down\r\n"), close()]) as srv:
        code, detail, ctx = run_probe(pop3.probe, config, Endpoint("pop3", "127.0.0.1", srv.port, tls="none"), 2.0)
    assert code == "service_unavailable" and ctx.data["greeting"].startswith("-ERR")
    assert "refuses service" in detail


def test_a_greeting_cut_off_by_a_close_is_kept(config):
    # a greeting that starts, then the server closes: still kept, and not "without a greeting"
    with HostileServer([send(b"220-mx.test first line\r\n"), close()]) as srv:
        code, detail, ctx = smtp(config, srv.port, "none")
    assert code == "bad_greeting" and ctx.data["greeting"] == "220-mx.test first line"
    assert "began a greeting" in detail
