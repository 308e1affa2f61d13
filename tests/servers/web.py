"""Web hosts on the standard ports for tests that need real names and URLs without a port
(https://autoconfig.corp.example/...): one random 127.a.b.c per host, HTTPS on 443 with a
trustme certificate for its names, and HTTP on 80. Tests run as root; a random address per host
keeps parallel runs apart.

    with WebHost(certs.ca, "autoconfig.corp.example") as host:
        host.https.route("/mail/config-v1.1.xml", status=200, body=XML)
        dns.add("autoconfig.corp.example", host.address)
"""

from __future__ import annotations

import errno
import random
import socket
import ssl

import trustme

from tests.servers.http import HttpServer


def random_loopback() -> str:
    """A 127.a.b.c nobody else is likely to use (never 127.0.0.x, where resolvers live)."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


class WebHost:
    """HTTPS on 443 and HTTP on 80 on one random loopback address, for the names given."""

    def __init__(self, ca: trustme.CA, *names: str, http: bool = True, https: bool = True) -> None:
        self.names = names
        self.ca = ca
        self.want_http, self.want_https = http, https
        self.address = ""
        self.https: HttpServer = HttpServer()
        self.http: HttpServer = HttpServer()

    def start(self) -> WebHost:
        for _ in range(20):
            address = random_loopback()
            if not all(port_free(address, p) for p in (80, 443)):
                continue
            try:
                self._start_on(address)
            except OSError as exc:
                self.stop()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            return self
        raise RuntimeError("no free loopback address for ports 80 and 443")

    def _start_on(self, address: str) -> None:
        self.address = address
        if self.want_https:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ca.issue_cert(*self.names, address).configure_cert(ctx)
            self.https = HttpServer(address, 443, tls=ctx).start()
        if self.want_http:
            self.http = HttpServer(address, 80).start()

    def stop(self) -> None:
        for server in (self.https, self.http):
            if server._server is not None:
                server.stop()

    def __enter__(self) -> WebHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
