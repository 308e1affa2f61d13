"""Report email through a real aiosmtpd relay on loopback: summary text plus the JSON attached."""

from __future__ import annotations

import email
import email.policy
import json
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.report.build import body_bytes, build_report
from app.report.channels import configured
from app.report.outbox import Outbox
from tests.servers.certs import certs  # noqa: F401
from tests.servers.smtp import free_port
from tests.unit.test_report_build import diag


class Collect:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 no such mailbox"


@pytest.fixture
def relay():
    started = []

    def start(handler, **kwargs):
        port = free_port()
        ctl = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        ctl.start()
        started.append(ctl)
        return port

    yield start
    for ctl in started:
        ctl.stop()


def relay_config(make_config, port, extra=""):
    return make_config(f"""
        [mail]
        address = "jo@example.com"
        [report]
        email_to = "it@example.com"
        relay = "127.0.0.1:{port}"
        {extra or 'relay_tls = "none"'}
    """)


def parse(envelope):
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_relay_receives_summary_and_json_attachment(make_config, relay):
    handler = Collect()
    port = relay(handler)
    cfg = relay_config(make_config, port)
    report = build_report(cfg, diag(), note="cannot send since 9")
    outcome = Outbox().submit(report, configured(cfg))
    assert outcome.delivered == ["email"] and outcome.path is None
    (env,) = handler.envelopes
    assert env.mail_from == "jo@example.com" and env.rcpt_tos == ["it@example.com"]
    msg = parse(env)
    assert msg["Subject"].startswith("MailBeacon report: The mail server is not answering.")
    assert msg["From"] == "jo@example.com" and msg["X-MailBeacon-Report-Id"] == report["id"]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "cannot send since 9" in text and "tcp_refused" in text
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_content() == body_bytes(report)
    assert json.loads(attachment.get_content())["id"] == report["id"]


def test_default_from_without_address_is_mailbeacon_at_host(make_config, relay):
    handler = Collect()
    port = relay(handler)
    cfg = make_config(f'[report]\nemail_to = "it@example.com"\nrelay = "127.0.0.1:{port}"\nrelay_tls = "none"\n')
    Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert parse(handler.envelopes[0])["From"] == f"mailbeacon@{socket.gethostname()}"


def test_auth_with_relay_password_from_the_secret_store(make_config, relay, monkeypatch):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"relay-pw", handled=False)

    handler = Collect()
    port = relay(handler, authenticator=authenticator, auth_require_tls=False, auth_required=True)
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_RELAY_PASSWORD", "relay-pw")
    cfg = relay_config(make_config, port, 'relay_username = "reporter"\nrelay_tls = "none"')
    report = build_report(cfg, diag())
    outcome = Outbox().submit(report, configured(cfg))
    assert outcome.delivered == ["email"], outcome
    assert seen == [(b"reporter", b"relay-pw")]
    assert b"relay-pw" not in handler.envelopes[0].content


def test_wrong_relay_password_is_a_permanent_refusal(make_config, relay, monkeypatch):
    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    port = relay(Collect(), authenticator=authenticator, auth_require_tls=False)
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_RELAY_PASSWORD", "wrong")
    cfg = relay_config(make_config, port, 'relay_username = "reporter"\nrelay_tls = "none"')
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.failed and "login" in outcome.failed[0]["reason"]
    assert outcome.path.endswith(f"failed/{outcome.id}.json")


def test_starttls_relay_with_the_configured_ca(make_config, relay, certs):  # noqa: F811
    handler = Collect()
    port = relay(handler, tls_context=certs.server_context("good"), require_starttls=True)
    cfg = relay_config(make_config, port, f'relay_tls = "starttls"\n[tls]\nca_file = "{certs.ca_pem}"')
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.delivered == ["email"], outcome
    assert len(handler.envelopes) == 1


def test_refused_recipient_goes_to_failed(make_config, relay):
    port = relay(Refuse())
    cfg = relay_config(make_config, port)
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.failed and "550" in outcome.failed[0]["reason"]


def test_relay_down_is_retried(make_config):
    cfg = relay_config(make_config, free_port())
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.queued == ["email"] and outcome.exit_status == 75


def test_without_username_the_from_does_not_name_the_user(make_config, relay):
    handler = Collect()
    port = relay(handler)
    cfg = relay_config(make_config, port, 'relay_tls = "none"\ninclude_username = false')
    report = build_report(cfg, diag())
    assert Outbox().submit(report, configured(cfg)).delivered == ["email"]
    (env,) = handler.envelopes
    assert b"jo@example.com" not in env.content and env.mail_from != "jo@example.com"
    assert parse(env)["From"] == f"mailbeacon@{socket.gethostname()}"


def test_a_temporary_login_failure_is_retried(make_config, relay, monkeypatch):
    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")

    port = relay(Collect(), authenticator=authenticator, auth_require_tls=False)
    monkeypatch.setenv("MAILBEACON_SECRET_REPORT_RELAY_PASSWORD", "pw")
    cfg = relay_config(make_config, port, 'relay_username = "reporter"\nrelay_tls = "none"')
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.queued == ["email"] and not outcome.failed, outcome
    assert "454" in outcome.retry_reasons["email"]


# ---------------------------------------------------------------- international addresses


def test_an_international_domain_goes_as_idna_through_a_relay_without_smtputf8(make_config, relay):
    handler = Collect()
    port = relay(handler, enable_SMTPUTF8=False)  # aiosmtpd's Controller offers it by default
    cfg = make_config(f"""
        [mail]
        address = "jo@bücher.example"
        [report]
        email_to = "it@exämple.com, desk@example.com"
        relay = "127.0.0.1:{port}"
        relay_tls = "none"
    """)
    report = build_report(cfg, diag())
    outcome = Outbox().submit(report, configured(cfg))
    assert outcome.delivered == ["email"], outcome
    (env,) = handler.envelopes
    assert env.mail_from == "jo@xn--bcher-kva.example"
    assert env.rcpt_tos == ["it@xn--exmple-cua.com", "desk@example.com"]
    msg = parse(env)
    assert msg["From"] == "jo@xn--bcher-kva.example"
    assert "it@xn--exmple-cua.com" in msg["To"]


def to_one_address(make_config, port: int, to: str):
    return make_config(
        f'[report]\nemail_to = "{to}"\nemail_from = "mailbeacon@example.com"\n'
        f'relay = "127.0.0.1:{port}"\nrelay_tls = "none"\n'
    )


def test_a_non_ascii_local_part_without_smtputf8_is_refused_with_the_reason(make_config, relay):
    handler = Collect()
    cfg = to_one_address(make_config, relay(handler, enable_SMTPUTF8=False), "jürgen@example.com")
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    # settled, not retried for ever: the report is kept in failed/ with the reason
    assert outcome.queued == [] and handler.envelopes == []
    (failure,) = outcome.failed
    assert failure["channel"] == "email" and "SMTPUTF8" in failure["reason"]
    assert "jürgen@example.com" in failure["reason"]
    assert outcome.path and "failed" in outcome.path


def test_a_relay_with_smtputf8_gets_the_addresses_as_written(make_config, relay):
    handler = Collect()
    cfg = to_one_address(make_config, relay(handler, enable_SMTPUTF8=True), "jürgen@exämple.com")
    outcome = Outbox().submit(build_report(cfg, diag()), configured(cfg))
    assert outcome.delivered == ["email"], outcome
    assert handler.envelopes[0].rcpt_tos == ["jürgen@exämple.com"]
