"""The IMAP probe against a real Dovecot and scripted hostile servers on loopback."""

from __future__ import annotations

import pytest

from app.config import Endpoint
from app.diagnosis.probes.imap import probe
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.imap import dovecot  # noqa: F401  (fixture)
from tests.servers.probing import run_probe
from tests.servers.smtp import HostileServer, expect, hang, reply, send

GREETING = b"* OK IMAP4rev1 ready\r\n"


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')


def run(config, port: int, tls: str = "starttls", seconds: float = 3.0):
    return run_probe(probe, config, Endpoint("imap", "127.0.0.1", port, tls=tls), seconds)


def test_dovecot_starttls(config, dovecot):  # noqa: F811
    code, detail, ctx = run(config, dovecot.ports["imap"])
    assert code == "ok", detail
    assert "Dovecot" in ctx.data["greeting"]
    assert ctx.data["starttls"] is True
    assert "IMAP4REV1" in ctx.data["capabilities"]
    assert "STARTTLS" not in ctx.data["capabilities"]  # asked again after TLS
    assert ctx.data["auth_mechanisms"] == ["PLAIN"]
    assert ctx.data["tls"]["subject"].startswith("CN=localhost")


def test_dovecot_implicit_tls(config, dovecot):  # noqa: F811
    code, detail, ctx = run(config, dovecot.ports["imaps"], tls="implicit")
    assert code == "ok", detail
    assert ctx.data["tls"]["version"] in ("TLS 1.2", "TLS 1.3")
    assert ctx.data["auth_mechanisms"] == ["PLAIN"]


def test_dovecot_plain(config, dovecot):  # noqa: F811
    code, detail, ctx = run(config, dovecot.ports["imap"], tls="none")
    assert code == "ok", detail
    assert "tls" not in ctx.data
    assert ctx.data["starttls"] is True


def test_plain_text_port_where_implicit_tls_expected(config, dovecot):  # noqa: F811
    code, _detail, _ = run(config, dovecot.ports["imap"], tls="implicit")
    assert code == "tls_handshake_failed"


def test_bye_greeting_is_service_unavailable(config):
    with HostileServer([send(b"* BYE Too many connections from your IP\r\n"), hang()]) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "service_unavailable"
    assert "Too many connections" in detail


def test_smtp_greeting_on_imap_port_is_bad_greeting(config):
    with HostileServer([send(b"220 mail.test ESMTP Postfix\r\n"), hang()]) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "bad_greeting"
    assert "not an IMAP server" in detail


def test_starttls_not_offered(config):
    script = [send(GREETING),
              reply(b"a1 CAPABILITY", b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n"), hang()]
    with HostileServer(script) as srv:
        code, _detail, ctx = run(config, srv.port)
    assert code == "starttls_unsupported"
    assert ctx.data["starttls"] is False


def test_starttls_refused(config):
    script = [send(GREETING),
              reply(b"a1 CAPABILITY", b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
              reply(b"a2 STARTTLS", b"a2 NO TLS is broken today\r\n"), hang()]
    with HostileServer(script) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "starttls_failed"
    assert "TLS is broken today" in detail


def test_no_way_to_sign_in_after_tls_warns(config, certs):  # noqa: F811
    script = [send(GREETING),
              reply(b"a1 CAPABILITY", b"* CAPABILITY IMAP4rev1 LOGINDISABLED\r\na1 OK done\r\n"),
              reply(b"a9 LOGOUT", b"* BYE bye\r\na9 OK bye\r\n")]
    with HostileServer(script, tls_context=certs.server_context("good")) as srv:
        code, detail, ctx = run(config, srv.port, tls="implicit")
    assert code == "auth_not_offered", detail
    assert ctx.data["auth_mechanisms"] == []
    assert srv.sessions[0].received[-1] == b"a9 LOGOUT"


def test_garbage_mid_conversation_is_protocol_error(config):
    with HostileServer([send(GREETING), expect(b"a1"), send(b"%%% what %%%\r\n"), hang()]) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "protocol_error"


def test_bye_mid_conversation_is_service_unavailable(config):
    script = [send(GREETING), reply(b"a1", b"* BYE Server shutting down\r\n"), hang()]
    with HostileServer(script) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "service_unavailable"


def test_check_json_with_dovecot(tmp_path, certs, dovecot):  # noqa: F811
    from tests.integration.test_probe_smtp import by_kind, check_json

    status, result, _ = check_json(
        tmp_path, certs,
        [("imap", dovecot.ports["imaps"], "implicit"), ("pop3", dovecot.ports["pop3"], "starttls")],
    )
    assert (status, result["verdict"]) == (0, "ok"), result
    checks = by_kind(result)
    assert checks["imap"]["data"]["tls"]["subject"].startswith("CN=localhost")
    assert checks["pop3"]["data"]["starttls"] is True
