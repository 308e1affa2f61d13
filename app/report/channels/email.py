"""Email to IT through `report.relay` (never the watched server): a plain-text summary with the
full JSON report attached. STARTTLS, implicit TLS or none; AUTH when a relay password is set."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from app import secrets
from app.config import split_host_port
from app.report import build
from app.report.channels import REFUSED, RETRY, Channel, Result, _ssl_context, user_agent

if TYPE_CHECKING:
    from app.config import Config

SMTP_TIMEOUT = 15.0


def sender(config: Config) -> str:
    if config.report.email_from:
        return config.report.email_from
    if config.mail.address and config.report.include_username:
        return config.mail.address  # with include_username off, the From must not name the user
    host = socket.gethostname() if config.report.include_hostname else "localhost"
    return f"mailbeacon@{host or 'localhost'}"


def subject(report: dict[str, Any]) -> str:
    headline = report.get("diagnosis", {}).get("headline", "") or "mail problem"
    return f"MailBeacon report: {headline} ({build.who(report)})"


def summary_text(report: dict[str, Any]) -> str:
    d = report.get("diagnosis", {})
    lines = [
        d.get("headline", ""),
        "",
        f"Reported by: {build.who(report)}",
        f"Computer:    {build.host(report)}",
        f"Since:       {build.since(report)}",
        f"Verdict:     {d.get('verdict', '?')} (layer: {d.get('layer', '?')})",
    ]
    if report.get("known_incident"):
        lines.append(f"Known incident: {report['known_incident']}")
    if report.get("note"):
        lines += ["", "Their note:", report["note"]]
    failing = build.failing_checks(report)
    if failing:
        lines += ["", "Failing checks:"]
        lines += [f"  - {c.get('id', '')}: {c.get('code', '')} — {c.get('detail', '')}" for c in failing]
    lines += [
        "",
        f"Report {report.get('id', '')}, fingerprint {report.get('fingerprint', '')}.",
        "The full report is attached as JSON.",
        "",
    ]
    return "\n".join(lines)


def message(config: Config, report: dict[str, Any], body: bytes) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender(config)
    msg["To"] = ", ".join(a.strip() for a in config.report.email_to.split(",") if a.strip())
    msg["Subject"] = subject(report)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=report["id"].replace("-", ""), domain="mailbeacon.invalid")
    msg["X-Mailer"] = user_agent()
    msg["X-MailBeacon-Report-Id"] = report["id"]
    msg.set_content(summary_text(report))
    msg.add_attachment(body, maintype="application", subtype="json", filename=f"mailbeacon-report-{report['id']}.json")
    return msg


class EmailChannel(Channel):
    name = "email"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.host, self.port = split_host_port(config.report.relay, 587)
        self.tls = config.report.relay_tls

    def send(self, report: dict[str, Any], body: bytes) -> Result:
        return self.deliver(message(self.config, report, body))

    def deliver(self, msg: EmailMessage) -> Result:
        """Send one finished message through the relay (the hub sends its own summaries)."""
        local = None if self.config.report.include_hostname else "localhost"
        try:
            if self.tls == "implicit":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, local_hostname=local, timeout=SMTP_TIMEOUT, context=_ssl_context(self.config)
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=SMTP_TIMEOUT)
            with smtp:
                smtp.ehlo()
                if self.tls == "starttls":
                    if not smtp.has_extn("starttls"):
                        return Result(REFUSED, f"the relay {self.config.report.relay} does not offer STARTTLS (set report.relay_tls)")
                    smtp.starttls(context=_ssl_context(self.config))
                    smtp.ehlo()
                username = self.config.report.relay_username
                password = secrets.get_secret("report.relay_password")
                if username and password:
                    refusal = _login(smtp, username, password)
                    if refusal:
                        return Result(REFUSED, refusal)
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return _recipients(exc.recipients)
        except smtplib.SMTPAuthenticationError as exc:
            # 454 and other 4xx are the relay's own trouble (its user store is down): try again later
            status = RETRY if 400 <= exc.smtp_code < 500 else REFUSED
            return Result(status, f"the relay refused the login: {exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            status = RETRY if 400 <= exc.smtp_code < 500 else REFUSED
            return Result(status, f"the relay answered {exc.smtp_code} {_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:
            return Result(RETRY, f"could not deliver through {self.config.report.relay}: {exc or type(exc).__name__}")
        if refused:
            return _recipients(refused)
        return Result("delivered", "250 accepted by the relay")


def _login(smtp: smtplib.SMTP, username: str, password: str) -> str:
    """AUTH with one mechanism only: a wrong password is not retried under every mechanism the
    relay offers (each try counts toward an account lockout). "" on success."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5"):
        if mechanism in offered:
            smtp.user, smtp.password = username, password
            method = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
            smtp.auth(mechanism, method, initial_response_ok=True)
            return ""
    return f"the relay offers no supported login method (offered: {' '.join(offered) or 'none'})"


def _recipients(refused: dict[str, tuple[int, bytes]]) -> Result:
    codes = {addr: code for addr, (code, _msg) in refused.items()}
    text = ", ".join(f"{addr} ({code})" for addr, code in codes.items())
    if any(400 <= c < 500 for c in codes.values()):
        return Result(RETRY, f"recipients deferred: {text}")
    return Result(REFUSED, f"recipients refused: {text}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
