"""A proxy setting without a scheme and with a password that is not percent-encoded
("user:p@ss/w#rd@127.0.0.1:<port>", which curl and requests accept) reaches the right proxy, which
gets the login; the origin never does, and no part of the password is shown. The proxy is a real
forwarding/CONNECT proxy on loopback that answers 407 without the right login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import httpio
from app.diagnosis.probes import internet
from app.diagnosis.probes.base import Deadline, ProbeContext
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.http import HttpServer
from tests.servers.proxy import LoginProxy

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p@ss/w#rd"
PIECES = ("p@ss", "ss/w", "w#rd", "p%40ss", "cEBzcy93I3Jk")  # the last: base64 of the password


def _use_proxy(monkeypatch, proxy: LoginProxy, *, scheme_var: str = "HTTP_PROXY") -> str:
    setting = f"user:{PASSWORD}@127.0.0.1:{proxy.port}"
    monkeypatch.setenv(scheme_var, setting)
    monkeypatch.setenv(scheme_var.lower(), setting)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return setting


def _no_password(text: str) -> None:
    for piece in PIECES:
        assert piece not in text, piece


@pytest.fixture
def origin():
    with HttpServer() as server:
        server.route("/generate_204", status=204)
        yield server


def test_internet_probe_goes_through_the_right_proxy_with_the_login(make_config, origin, monkeypatch):
    with LoginProxy("user", PASSWORD) as proxy:
        _use_proxy(monkeypatch, proxy)
        cfg = make_config(f'[network]\ninternet_url = "{origin.url("/generate_204")}"\n')
        ctx = ProbeContext(config=cfg, deadline=Deadline(5), phase="internet")
        outcome = internet.probe(ctx, None)
    assert outcome.code == "ok"
    assert ctx.data["status"] == 204
    [seen] = proxy.seen
    assert seen.authorized and seen.method == "GET"
    assert seen.target == origin.url("/generate_204")
    assert seen.forwarded_to == ("127.0.0.1", origin.port)
    # the login went to the proxy only
    [got] = origin.requests
    assert not any(name.lower().startswith("proxy-") for name in got.headers)
    assert ctx.data["proxy"] == f"127.0.0.1:{proxy.port}"
    _no_password(json.dumps(ctx.data) + outcome.detail)


def test_httpio_request_tunnels_https_through_the_proxy(make_config, certs, monkeypatch):  # noqa: F811
    with HttpServer(tls=certs.server_context("good")) as secure, LoginProxy("user", PASSWORD) as proxy:
        secure.route("/state", status=200, body={"ok": True})
        _use_proxy(monkeypatch, proxy, scheme_var="HTTPS_PROXY")
        cfg = make_config(f'[tls]\nca_file = "{certs.ca_pem}"\n')
        response = httpio.request(secure.url("/state"), config=cfg, timeout_s=5)
        port = secure.port
    assert response.status == 200 and response.json() == {"ok": True}
    [seen] = proxy.seen
    assert seen.method == "CONNECT" and seen.authorized
    assert seen.forwarded_to == ("127.0.0.1", port)
    [got] = secure.requests
    assert not any(name.lower().startswith("proxy-") for name in got.headers)
    _no_password(str(response.proxy))


def test_a_wrong_login_is_a_407_from_that_proxy(make_config, origin, monkeypatch):
    with LoginProxy("user", "another") as proxy:
        _use_proxy(monkeypatch, proxy)
        cfg = make_config("")
        response = httpio.request(origin.url("/generate_204"), config=cfg, timeout_s=5)
    assert response.status == 407
    [seen] = proxy.seen
    assert not seen.authorized and seen.headers["proxy-authorization"].startswith("Basic ")
    assert origin.requests == []


def test_check_json_through_the_proxy_shows_no_part_of_the_password(tmp_path, origin):
    with LoginProxy("user", PASSWORD) as proxy:
        config = tmp_path / "mb.toml"
        config.write_text(
            '[dns]\ncontrol_name = "localhost"\n[check]\ntimeout_s = 10\nslow_ms = 5000\n'
            f'[network]\ninternet_url = "{origin.url("/generate_204")}"\n'
        )
        setting = f"user:{PASSWORD}@127.0.0.1:{proxy.port}"
        env = dict(os.environ, HTTP_PROXY=setting, http_proxy=setting)
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        check = subprocess.run([sys.executable, "-m", "app", "check", "--json", "--config", str(config)],
                               capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert check.returncode in (0, 1, 2, 3, 4), check.stderr
    assert any(s.authorized and s.target == origin.url("/generate_204") for s in proxy.seen)
    assert len(origin.requests_to("/generate_204")) >= 1
    [net] = [c for c in json.loads(check.stdout)["checks"] if c["kind"] == "internet"]
    assert net["code"] == "ok", net
    assert f"127.0.0.1:{proxy.port}" in check.stdout
    _no_password(check.stdout + check.stderr)
