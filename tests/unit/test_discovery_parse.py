"""Reading autoconfig and Autodiscover documents: the SPEC's mapping rules, and garbage that
must become "nothing usable" instead of a crash or an endpoint nobody could connect to."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from app.discovery import autoconfig, autodiscover, mx, srv
from app.discovery.model import clean, ordered, valid_host, web_url
from tests.servers.mailworld import fixture


def test_autoconfig_document_mapping():
    found = autoconfig.read_document(SafeET.fromstring(fixture("autoconfig_corp.xml")), "jo@corp.example", "corp.example")
    assert [(e["kind"], e["host"], e["port"], e["tls"]) for e in ordered(found.endpoints)] == [
        ("smtp", "smtp.corp.example", 587, "starttls"),
        ("imap", "imap.corp.example", 993, "implicit"),
        ("pop3", "pop.corp.example", 995, "implicit"),
    ]
    assert found.webmail_url == "https://webmail.corp.example/"


@pytest.mark.parametrize(("server", "usable"), [
    ("<hostname>imap.corp.example</hostname><port>993</port><socketType>SSL</socketType>", True),
    ("<hostname>imap.corp.example</hostname><port>143</port><socketType>plain</socketType>", True),
    ("<hostname>imap.corp.example</hostname><port>99999</port><socketType>SSL</socketType>", False),
    ("<hostname>imap.corp.example</hostname><port>x</port><socketType>SSL</socketType>", False),
    ("<hostname>&lt;script&gt;.example</hostname><port>993</port><socketType>SSL</socketType>", False),
    ("<hostname>imap.corp.example:993</hostname><port>993</port><socketType>SSL</socketType>", False),
    ("<hostname>imap.corp.example</hostname><port>993</port><socketType>TLS-ish</socketType>", False),
    ("<port>993</port><socketType>SSL</socketType>", False),
])
def test_autoconfig_server_that_no_client_could_use_is_skipped(server, usable):
    doc = f'<clientConfig version="1.1"><emailProvider id="x"><incomingServer type="imap">{server}</incomingServer></emailProvider></clientConfig>'
    found = autoconfig.read_document(SafeET.fromstring(doc), "jo@corp.example", "corp.example")
    assert bool(found.endpoints) is usable


def test_autoconfig_other_documents_give_nothing():
    assert autoconfig.read_document(SafeET.fromstring("<html><body>hi</body></html>"), "", "x.example").endpoints == []


def test_autodiscover_mapping_of_ssl_and_encryption():
    doc = SafeET.fromstring(fixture("autodiscover_settings.xml"))
    found = autodiscover.read_account(autodiscover._account(doc))
    tls = {e["kind"]: (e["port"], e["tls"]) for e in found.endpoints}
    assert tls == {"imap": (993, "implicit"), "pop3": (110, "starttls"), "smtp": (587, "starttls"),
                   "https": (443, "implicit")}
    assert found.webmail_url == "https://mail.exch.example/owa/"


def test_autodiscover_request_escapes_the_address():
    body = autodiscover.request_body("a<b>&c@corp.example").decode()
    assert "<EMailAddress>a&lt;b&gt;&amp;c@corp.example</EMailAddress>" in body
    SafeET.fromstring(body.encode())  # still one well-formed document


@pytest.mark.parametrize(("mx_host", "provider"), [
    ("corp-example.mail.protection.outlook.com.", "Microsoft 365"),
    ("ASPMX.L.GOOGLE.COM", "Google"),
    ("alt1.aspmx.l.googlemail.com", "Google"),
    ("mail.protection.outlook.com.evil.example", None),
    ("notgoogle.com", None),
])
def test_known_providers_by_mx_suffix(mx_host, provider):
    known = mx.provider_of(mx_host)
    assert (known[0] if known else None) == provider


def test_mx_parent_domain():
    assert mx.parent_domain("mx1.mailhost.example.") == "mailhost.example"
    assert mx.parent_domain("mx.example") == ""


class _Srv:
    def __init__(self, priority, weight, port, target):
        self.priority, self.weight, self.port, self.target = priority, weight, port, target


def test_srv_choice():
    records = [_Srv(10, 100, 1, "a."), _Srv(0, 5, 2, "b."), _Srv(0, 50, 3, "c."), _Srv(0, 50, 4, "d.")]
    assert srv.best(records).target == "c."
    assert srv.best([]) is None


def test_outside_text_is_made_printable():
    assert clean("ok\x1b[31mred\x07\n") == "ok [31mred  "
    assert len(clean("x" * 1000)) == 300
    assert web_url("https://mail.corp.example/owa/") == "https://mail.corp.example/owa/"
    for bad in ("javascript:alert(1)", "https://mail.corp.example/\x1b[2J", "https://a b/", "https://h:99999/", "ftp://x.example/"):
        assert web_url(bad) == ""
    assert valid_host("imap.corp.example") and not valid_host("imap corp") and not valid_host("-")
