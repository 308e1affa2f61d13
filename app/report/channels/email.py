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
                envelope = self._envelope(smtp, msg)
                if isinstance(envelope, Result):
                    return envelope
                refused = smtp.send_message(msg, from_addr=envelope[0], to_addrs=envelope[1])
        except smtplib.SMTPNotSupportedError as exc:
            # what the relay lacks stays lacking: retrying would retry for ever
            return Result(REFUSED, f"the relay {self.config.report.relay} cannot take this message: {exc}")
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


    def _envelope(self, smtp: smtplib.SMTP, msg: EmailMessage) -> tuple[str, list[str]] | Result:
        """Sender and recipients in a form this relay takes. Without SMTPUTF8 an international
        domain goes as IDNA (xn--…), in the envelope and the headers alike; an address whose
        local part is not ASCII cannot be written for such a relay, which is a refusal that
        says so rather than a retry that can never succeed."""
        sender_addr = sender(self.config)
        recipients = [a.strip() for a in self.config.report.email_to.split(",") if a.strip()]
        if smtp.has_extn("smtputf8") or all(a.isascii() for a in (sender_addr, *recipients)):
            return sender_addr, recipients
        converted = {a: ascii_address(a) for a in (sender_addr, *recipients)}
        impossible = [a for a, ascii_form in converted.items() if ascii_form is None]
        if impossible:
            return Result(
                REFUSED,
                f"the relay {self.config.report.relay} does not accept international addresses "
                f"(no SMTPUTF8) and {', '.join(impossible)} has no ASCII form; use an ASCII address "
                "in report.email_from or report.email_to, or a relay that offers SMTPUTF8",
            )
        del msg["From"], msg["To"]
        msg["From"] = converted[sender_addr]
        msg["To"] = ", ".join(converted[a] for a in recipients)
        return converted[sender_addr], [converted[a] for a in recipients]  # type: ignore[misc]


def ascii_address(address: str) -> str | None:
    """local@domain with the domain in IDNA when it is not ASCII; None when the local part is
    not ASCII (that needs SMTPUTF8) or the domain has no IDNA form."""
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{domain}"


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
