"""The system proxy lookup shared by the feed reader and the internet probe."""

from __future__ import annotations

import base64

from app.httpio import proxy_for


def test_no_proxy_set(monkeypatch):
    monkeypatch.delenv("NO_PROXY")
    assert proxy_for("http", "example.org") is None


def test_scheme_proxy_with_login_and_default_port(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://jo:p%40ss@proxy.corp")
    monkeypatch.delenv("NO_PROXY")
    proxy = proxy_for("http", "example.org")
    assert proxy is not None
    assert (proxy.host, proxy.port) == ("proxy.corp", 80)
    assert proxy.authorization == "Basic " + base64.b64encode(b"jo:p@ss").decode()
    assert proxy_for("https", "example.org") is None


def test_all_proxy_without_scheme_and_bypass(monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.corp,127.0.0.1")
    proxy = proxy_for("https", "example.org")
    assert proxy is not None
    assert (proxy.host, proxy.port, proxy.authorization) == ("proxy.corp", 3128, None)
    assert proxy_for("https", "mail.intranet.corp") is None
    assert proxy_for("http", "127.0.0.1") is None
