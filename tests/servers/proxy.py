"""A real forwarding HTTP proxy on loopback that wants a login, for tests of the system proxy.

    with LoginProxy(user="jo", password="p@ss/w#rd") as proxy:
        os.environ["HTTP_PROXY"] = f"jo:p@ss/w#rd@127.0.0.1:{proxy.port}"
        ...
        assert proxy.seen[0].authorized

It answers 407 to a request without the right Proxy-Authorization; with it, a plain request in
absolute form ("GET http://host:port/path") is forwarded to that origin without the proxy's
headers, and CONNECT host:port opens a byte tunnel to it. Every request head it read is kept in
`seen`; it only ever connects to loopback origins, so a test can never reach outside.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import socketserver
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    authorized: bool
    forwarded_to: tuple[str, int] | None  # where the proxy connected on the client's behalf


class LoginProxy:
    def __init__(self, user: str, password: str, host: str = "127.0.0.1") -> None:
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoginProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        head = _read_head(client)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        authorized = headers.get("proxy-authorization") == self.expected
        where = _origin(method, target) if authorized else None
        with self._lock:
            self.seen.append(Seen(method, target, headers, authorized, where))
        if not authorized:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                           b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
            return
        if where is None:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(where, timeout=10)
        with upstream:
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [f"{k}: {v}" for k, v in headers.items()
                        if not k.startswith("proxy-") and k != "connection"]
                request = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
                upstream.sendall((request + "\r\n\r\n").encode("latin-1"))
            _relay(client, upstream)


def _origin(method: str, target: str) -> tuple[str, int] | None:
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
    else:
        parts = urlsplit(target)
        host, port = parts.hostname or "", str(parts.port or 80)
    try:
        if not ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        return None  # a name: tests use addresses, and nothing may leave this machine
    return host, int(port)


def _read_head(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)  # byte by byte: after a CONNECT's head comes the client's TLS
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    return data[:-4]


def _relay(a: socket.socket, b: socket.socket) -> None:
    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(10)
