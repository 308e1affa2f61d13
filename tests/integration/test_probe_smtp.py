"""The SMTP probe against aiosmtpd and hostile loopback servers: every code it can produce."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from app.config import Endpoint
from app.diagnosis.probes.smtp import probe
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.probing import run_probe
from tests.servers.smtp import (
    HostileServer,
    SMTPServer,
    close,
    expect,
    hang,
    reply,
    reset,
    send,
)

EHLO_OK = b"250-mail.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"


@pytest.fixture
def config(make_config, certs):  # noqa: F811
    return make_config(f'[tls]\nca_file = "{certs.ca_pem}"\nexpiry_warn_days = 14\n')


def run(config, port: int, tls: str = "starttls", host: str = "127.0.0.1", seconds: float = 3.0):
    return run_probe(probe, config, Endpoint("smtp", host, port, tls=tls), seconds)


def test_starttls_ok_records_facts(config, certs):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("good")) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "ok", detail
    assert ctx.data["greeting"].startswith("220 mail.test")
    assert ctx.data["starttls"] is True
    assert ctx.data["auth_mechanisms"] == ["LOGIN", "PLAIN"]
    assert not any("STARTTLS" in line for line in ctx.data["ehlo"])  # the EHLO after TLS
    facts = ctx.data["tls"]
    assert facts["version"] in ("TLS 1.2", "TLS 1.3")
    assert "MailBeacon Test CA" in facts["issuer"]
    assert facts["subject"].startswith("CN=localhost")
    assert facts["not_after"].endswith("Z") and facts["days_left"] > 300
    assert "IP:127.0.0.1" in facts["san"]
    assert srv.handler.messages == []  # a probe never sends mail


def test_implicit_tls_ok(config, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("good")) as srv:
        code, detail, ctx = run(config, srv.port, tls="implicit")
    assert code == "ok", detail
    assert ctx.data["tls"]["subject"].startswith("CN=localhost")
    assert ctx.data["auth_mechanisms"] == ["LOGIN", "PLAIN"]


def test_ipv6_loopback_checks_ip_san(config, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("good"), host="::1") as srv:
        code, detail, ctx = run(config, srv.port, tls="implicit", host="::1")
    assert code == "ok", detail
    assert "IP:::1" in ctx.data["tls"]["san"]


def test_starttls_not_offered(config):
    with SMTPServer("plain") as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "starttls_unsupported"
    assert ctx.data["starttls"] is False
    assert "STARTTLS" in detail


def test_plain_endpoint_with_auth_is_ok(config):
    with SMTPServer("plain") as srv:
        code, detail, ctx = run(config, srv.port, tls="none")
    assert code == "ok", detail
    assert "tls" not in ctx.data


def test_no_auth_after_tls_warns(config, certs):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("good"), auth=False) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "auth_not_offered"
    assert ctx.data["auth_mechanisms"] == []
    assert "AUTH" in detail


def test_soon_expiring_certificate_warns(config, certs):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("expiring")) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "tls_cert_expiring"
    assert ctx.data["tls"]["days_left"] == 5
    assert "5 days" in detail


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("expired", "tls_cert_expired"),
        ("untrusted", "tls_cert_untrusted"),
        ("wrong_host", "tls_hostname_mismatch"),
    ],
)
def test_bad_certificates_after_starttls(config, certs, kind, code):  # noqa: F811
    with SMTPServer("starttls", certs.server_context(kind)) as srv:
        got, detail, ctx = run(config, srv.port)
    assert got == code, detail
    # the facts of the rejected certificate come from a second, unverified look
    assert ctx.data["tls"]["subject"]
    assert ctx.data["greeting"].startswith("220")


def test_expired_certificate_implicit_has_facts(config, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("expired")) as srv:
        code, detail, ctx = run(config, srv.port, tls="implicit")
    assert code == "tls_cert_expired"
    assert ctx.data["tls"]["days_left"] < 0
    assert ctx.data["tls"]["not_after"] in detail


def test_silent_server_is_banner_timeout_within_deadline(config):
    with HostileServer([hang()]) as srv:
        started = time.monotonic()
        code, _detail, ctx = run(config, srv.port, seconds=1.0)
        elapsed = time.monotonic() - started
    assert code == "banner_timeout"
    assert elapsed < 2.0
    assert ctx.data["connected_to"] == f"127.0.0.1:{srv.port}"


@pytest.mark.parametrize(
    "banner", [b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"HTTP/1.1 400 Bad Request\r\n\r\n"]
)
def test_other_service_on_smtp_port_is_bad_greeting(config, banner):
    with HostileServer([send(banner), hang()]) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "bad_greeting"
    assert "not an SMTP server" in detail


def test_closed_without_greeting_is_bad_greeting(config):
    with HostileServer([close()]) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "bad_greeting"


@pytest.mark.parametrize("greeting", [b"421 mail.test Too busy, try later\r\n", b"554 No service\r\n"])
def test_refusing_greeting_is_service_unavailable(config, greeting):
    with HostileServer([send(greeting), hang()]) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "service_unavailable"
    assert greeting[:3].decode() in detail


def test_a_busy_server_is_seen_as_overloaded_by_the_monitor(config):
    from app.diagnosis.model import Check, Diagnosis
    from app.monitor import overload_of

    with HostileServer([send(b"421 4.7.0 mail.test Too many connections\r\n"), hang()]) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "service_unavailable" and ctx.data["reply_code"] == 421
    check = Check("smtp", "smtp", f"127.0.0.1:{srv.port}", "fail", code, detail, data=dict(ctx.data))
    diagnosis = Diagnosis("down", "service", "", "", "", 0.0, [check])
    assert overload_of(diagnosis) == (True, None)


def test_reset_after_connect_is_tcp_reset(config):
    with HostileServer([reset()]) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "tcp_reset"


def test_starttls_answered_454(config):
    script = [send(b"220 mail.test ESMTP\r\n"), reply(b"EHLO", EHLO_OK),
              reply(b"STARTTLS", b"454 4.7.0 TLS not available due to temporary reason\r\n"), hang()]
    with HostileServer(script) as srv:
        code, detail, _ = run(config, srv.port)
    assert code == "starttls_failed"
    assert "454" in detail


def test_broken_handshake_after_starttls(config):
    script = [send(b"220 mail.test ESMTP\r\n"), reply(b"EHLO", EHLO_OK),
              reply(b"STARTTLS", b"220 Go ahead\r\n"), send(b"this is not TLS at all\r\n"), close()]
    with HostileServer(script) as srv:
        code, _detail, _ = run(config, srv.port)
    assert code == "starttls_failed"


def test_garbage_mid_conversation_is_protocol_error(config):
    script = [send(b"220 mail.test ESMTP\r\n"), expect(b"EHLO"), send(b"\x00\xffhello?? whatever\r\n"), hang()]
    with HostileServer(script) as srv:
        code, detail, ctx = run(config, srv.port)
    assert code == "protocol_error"
    assert ctx.data["greeting"] == "220 mail.test ESMTP"
    assert "not SMTP" in detail


def test_silence_after_ehlo_is_protocol_error_within_deadline(config):
    with HostileServer([send(b"220 mail.test ESMTP\r\n"), expect(b"EHLO"), hang()]) as srv:
        started = time.monotonic()
        code, _detail, _ = run(config, srv.port, seconds=1.0)
    assert code == "protocol_error"
    assert time.monotonic() - started < 2.0


def test_plain_text_server_where_implicit_tls_expected(config):
    with SMTPServer("plain") as srv:
        code, detail, _ = run(config, srv.port, tls="implicit")
    assert code == "tls_handshake_failed"
    assert "TLS" in detail


# ---------------------------------------------------------------- `mailbeacon check --json`


def check_json(tmp_path, certs, endpoints: list[tuple[str, int, str]], timeout_s: int = 10):  # noqa: F811
    """Run `python -m app check --json` on loopback endpoints [(kind, port, tls)];
    (exit status, the JSON object, seconds taken). A server that answers is done long before
    timeout_s; a generous one keeps a busy machine from turning "ok" into a timeout."""
    text = f'[network]\ninternet_url = ""\n[tls]\nca_file = "{certs.ca_pem}"\n'
    # slow_ms: these tests are about verdicts, not speed; a loaded machine must not make "ok" "slow"
    text += f"[check]\ntimeout_s = {timeout_s}\nslow_ms = 5000\n"
    for kind, port, tls in endpoints:
        text += f'[[endpoints]]\nkind = "{kind}"\nhost = "127.0.0.1"\nport = {port}\ntls = "{tls}"\n'
    path = tmp_path / "check.toml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app", "check", "--json", "--config", str(path)],
        capture_output=True, text=True, timeout=30,
    )
    elapsed = time.monotonic() - started
    assert done.stderr == "" or "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout), elapsed


def by_kind(result: dict) -> dict[str, dict]:
    return {c["kind"]: c for c in result["checks"]}


def test_check_json_ok(tmp_path, certs):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("good")) as srv:
        status, result, _ = check_json(tmp_path, certs, [("smtp", srv.port, "starttls")])
    assert (status, result["verdict"]) == (0, "ok"), result
    smtp = by_kind(result)["smtp"]
    assert smtp["code"] == "ok" and smtp["data"]["auth_mechanisms"] == ["LOGIN", "PLAIN"]
    assert smtp["data"]["tls"]["days_left"] > 300


def test_check_json_degraded_by_silent_server_within_deadline(tmp_path, certs):  # noqa: F811
    with SMTPServer("implicit", certs.server_context("good")) as srv, HostileServer([hang()]) as bad:
        status, result, elapsed = check_json(
            tmp_path, certs, [("smtp", srv.port, "implicit"), ("imap", bad.port, "starttls")], timeout_s=2
        )
    assert (status, result["verdict"], result["layer"]) == (1, "degraded", "service")
    checks = by_kind(result)
    assert checks["smtp"]["code"] == "ok"
    assert (checks["imap"]["status"], checks["imap"]["code"]) == ("fail", "banner_timeout")
    assert elapsed < 2 + 1 + 3  # timeout_s + 1 s, plus interpreter start-up margin


def test_check_json_down_on_expired_certificate(tmp_path, certs):  # noqa: F811
    with SMTPServer("starttls", certs.server_context("expired")) as srv:
        status, result, _ = check_json(tmp_path, certs, [("smtp", srv.port, "starttls")])
    assert (status, result["verdict"]) == (2, "down"), result
    smtp = by_kind(result)["smtp"]
    assert smtp["code"] == "tls_cert_expired"
    assert smtp["data"]["tls"]["days_left"] < 0


def test_endless_reply_is_protocol_error_without_eating_memory(config):
    """A server that answers EHLO with "250-" lines forever: the probe stops reading after a
    bounded amount, long before the deadline (otherwise it holds hundreds of MB per check)."""

    def flood(session) -> None:
        chunk = (b"250-" + b"A" * 40 + b"\r\n") * 2000
        try:
            while not session.stop.is_set():
                session.sock.sendall(chunk)
        except OSError:
            pass

    with HostileServer([send(b"220 flood.test ESMTP\r\n"), expect(b"EHLO"), flood]) as srv:
        started = time.monotonic()
        code, detail, _ = run(config, srv.port, tls="none", seconds=5)
        elapsed = time.monotonic() - started
    assert code == "protocol_error", detail
    assert "too much" in detail
    assert elapsed < 4, elapsed
