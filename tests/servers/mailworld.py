"""A small mail internet on loopback for discovery tests: one dnslib name server that knows
every name, and web hosts (HTTPS on 443 with trustme certificates, HTTP on 80) on random
127.x.y.z addresses, so URLs look exactly like the real ones (https://autoconfig.corp.example/...).

    world = MailWorld(certs)
    host = world.host("autoconfig.corp.example")             # A record + HTTPS/HTTP servers
    host.https.route("/mail/config-v1.1.xml", status=200, body=XML)
    world.zone("_imaps._tcp.corp.example. 60 IN SRV 0 1 993 imap.corp.example.")
    cfg = world.config(make_config)                           # dns.nameservers + tls.ca_file
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.dns import DnsServer
from tests.servers.web import WebHost

FIXTURES = Path(__file__).parent.parent / "fixtures" / "discovery"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class MailWorld:
    def __init__(self, certs) -> None:
        self.certs = certs
        self.dns = DnsServer().start()
        self.hosts: list[WebHost] = []

    def host(self, *names: str, http: bool = True, https: bool = True) -> WebHost:
        web = WebHost(self.certs.ca, *names, http=http, https=https).start()
        self.hosts.append(web)
        for name in names:
            self.dns.add(name, web.address)
        return web

    def zone(self, text: str) -> None:
        self.dns.add_zone(text)

    def config(self, make_config, extra: str = "", timeout_s: float = 5):
        return make_config(self.config_text(extra, timeout_s))

    def config_text(self, extra: str = "", timeout_s: float = 5) -> str:
        return (
            f'[dns]\nnameservers = ["{self.dns.nameserver}"]\n'
            f'[tls]\nca_file = "{self.certs.ca_pem}"\n'
            f"[check]\ntimeout_s = {timeout_s}\n{extra}"
        )

    def stop(self) -> None:
        for web in self.hosts:
            web.stop()
        self.dns.stop()


@pytest.fixture
def world(certs) -> Iterator[MailWorld]:
    w = MailWorld(certs)
    try:
        yield w
    finally:
        w.stop()
