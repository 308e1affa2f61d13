"""The POP3 probe against a real Dovecot and scripted hostile servers on loopback."""

from __future__ import annotations

import pytest

from app.config import Endpoint
from app.diagnosis.probes.pop3 import probe
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.imap import dovecot  # noqa: F401  (fixture)
from tests.servers.probing import run_probe
from tests.servers.smtp import HostileServer, hang, reply, send


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')


def run(config, port: int, tls: str = "starttls", seconds: float = 3.0):
    return run_probe(probe, config, Endpoint("pop3", "127.0.0.1", port, tls=tls), seconds)


def test_dovecot_stls(config, dovecot):  # noqa: F811
    code, detail, ctx = run(config, dovecot.ports["pop3"])
    assert code == "ok", detail
    assert ctx.data["greeting"].startswith("+OK")
    assert ctx.data["starttls"] is True
    assert "STLS" not in ctx.data["capabilities"]  # CAPA again after TLS
    # USER is a way to sign in too: data lists what the detail lists
    assert ctx.data["auth_mechanisms"] == ["PLAIN", "USER"]
    assert "(PLAIN, USER)" in detail
    assert ctx.data["tls"]["days_left"] > 300


def test_dovecot_implicit_tls(config, dovecot):  # noqa: F811
    code, detail, ctx = run(config, dovecot.ports["pop3s"], tls="implicit")
    assert code == "ok", detail
    assert ctx.data["tls"]["issuer"]


def test_imap_port_is_bad_greeting(config, dovecot):  # noqa: F811
    code, detail, _ = run(config, dovecot.ports["imap"])
    assert code == "bad_greeting"
    assert "not a POP3 server" in detail


def test_err_greeting_is_service_unavailable(config):
    with HostileServer([send(b"-ERR [SYS/TEMP] maintenance\r\n"), hang()]) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "service_unavailable"
    assert "maintenance" in detail


def test_stls_not_offered(config):
    script = [send(b"+OK ready\r\n"), reply(b"CAPA", b"+OK\r\nUSER\r\nUIDL\r\n.\r\n"), hang()]
    with HostileServer(script) as srv:
        code, _detail, ctx = run(config, srv.port)
    assert code == "starttls_unsupported"
    assert ctx.data["capabilities"] == ["USER", "UIDL"]


def test_stls_refused(config):
    script = [send(b"+OK ready\r\n"), reply(b"CAPA", b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
              reply(b"STLS", b"-ERR not now\r\n"), hang()]
    with HostileServer(script) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "starttls_failed"


def test_plain_without_any_sign_in_warns(config):
    script = [send(b"+OK ready\r\n"), reply(b"CAPA", b"+OK\r\nUIDL\r\n.\r\n"),
              reply(b"QUIT", b"+OK bye\r\n")]
    with HostileServer(script) as srv:
        code, _detail, ctx = run(config, srv.port, tls="none")
    assert code == "auth_not_offered"
    assert ctx.data["auth_mechanisms"] == []
