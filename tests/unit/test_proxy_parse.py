"""Reading a proxy setting as curl and requests do: with or without a scheme, with the password
percent-encoded or not, IPv6 literals; a setting that cannot be used is skipped with a warning
that never holds the password."""

from __future__ import annotations

import base64
import logging

import pytest

from app.proxy import parse_proxy_url, proxy_for, without_credentials
from app.report.redact import scrub_text

PW = "p@ss/w#rd"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("proxy.corp:3128", ("http", "proxy.corp", 3128, None, None)),
        ("proxy.corp", ("http", "proxy.corp", 80, None, None)),
        ("http://proxy.corp", ("http", "proxy.corp", 80, None, None)),
        ("https://proxy.corp", ("https", "proxy.corp", 443, None, None)),
        ("HTTP://Proxy.Corp:8080/", ("http", "Proxy.Corp", 8080, None, None)),
        ("proxy.corp:", ("http", "proxy.corp", 80, None, None)),
        ("  user:pass@proxy.corp:3128  ", ("http", "proxy.corp", 3128, "user", "pass")),
        ("user:p@ss/w#rd@host:3128", ("http", "host", 3128, "user", PW)),
        ("http://user:p@ss/w#rd@host:3128", ("http", "host", 3128, "user", PW)),
        ("http://user:p%40ss%2Fw%23rd@host:3128", ("http", "host", 3128, "user", PW)),
        ("user:p%40ss@host:3128/", ("http", "host", 3128, "user", "p@ss")),
        ("user:a:b:c@host:3128", ("http", "host", 3128, "user", "a:b:c")),
        ("user:a://b@host:3128", ("http", "host", 3128, "user", "a://b")),
        ("user:pw?x=1@host:3128/path?q#f", ("http", "host", 3128, "user", "pw?x=1")),
        ("corp%5Cjo:s3cret@host", ("http", "host", 80, "corp\\jo", "s3cret")),
        ("user@host:3128", ("http", "host", 3128, "user", None)),
        ("user:@host:3128", ("http", "host", 3128, "user", "")),
        ("[::1]:3128", ("http", "::1", 3128, None, None)),
        ("http://[2001:db8::1]", ("http", "2001:db8::1", 80, None, None)),
        ("user:p@ss/w#rd@[fe80::1]:8080/", ("http", "fe80::1", 8080, "user", PW)),
        ("socks5h://u:p@127.0.0.1:1080", ("socks5h", "127.0.0.1", 1080, "u", "p")),
    ],
)
def test_shapes(setting, expected):
    assert tuple(parse_proxy_url(setting)) == expected


@pytest.mark.parametrize(
    "setting",
    [
        "user:p@ss/w#rd@host:31x8",
        "host:abc",
        "host:0",
        "host:65536",
        "host:-1",
        "host:３１２８",  # full-width digits are digits to str.isdigit, not to a socket
        "user:p@ss@",
        "user:secret@:3128",
        "[::1",
        "[not-v6]:3128",
        "[::1]x",
        "::1:3128",
        "",
    ],
)
def test_unusable_settings_are_a_value_error_without_the_login(setting):
    with pytest.raises(ValueError) as info:
        parse_proxy_url(setting)
    assert "p@ss" not in str(info.value) and "secret" not in str(info.value)


def test_proxy_for_unencoded_login_without_scheme(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"user:{PW}@127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    proxy = proxy_for("http", "example.org")
    assert proxy is not None
    assert (proxy.host, proxy.port) == ("127.0.0.1", 3128)
    assert proxy.authorization == "Basic " + base64.b64encode(f"user:{PW}".encode()).decode()
    assert proxy.shown == "127.0.0.1:3128"


def test_proxy_for_ipv6(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://[::1]:8080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    proxy = proxy_for("https", "example.org")
    assert proxy is not None and (proxy.host, proxy.port) == ("::1", 8080)


def test_bad_port_is_no_proxy_with_one_scrubbed_warning(monkeypatch, caplog):
    setting = f"user:{PW}-Zq81@127.0.0.1:31x8"
    monkeypatch.setenv("HTTP_PROXY", setting)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with caplog.at_level(logging.WARNING, logger="app.proxy"):
        assert proxy_for("http", "example.org") is None
        assert proxy_for("http", "example.org") is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.proxy"]
    assert len(warnings) == 1
    assert "127.0.0.1:31x8" in warnings[0] and "port" in warnings[0]
    for part in ("p@ss", "ss/w", "w#rd", "Zq81"):
        assert part not in warnings[0]


@pytest.mark.parametrize(
    "setting",
    [
        f"user:{PW}-Zq81@127.0.0.1:3128",
        f"http://user:{PW}-Zq81@127.0.0.1:3128",
        f"http://user:{PW}-Zq81@[::1]:3128/",
        "user:p%40ss%2Fw%23rd-Zq81@127.0.0.1:3128",
    ],
)
def test_the_password_is_masked_in_every_form(setting):
    # the scrubber and without_credentials, alone and inside a sentence or a key=value
    for text in (setting, f"proxy {setting} failed", f"HTTP_PROXY={setting}", f'{{"proxy": "{setting}"}}'):
        for shown in (scrub_text(text), without_credentials(text)):
            for part in ("p@ss", "ss/w", "w#rd", "Zq81", "%40ss"):
                assert part not in shown, (text, shown)
