"""A small threaded HTTP server on loopback whose answers a test scripts per path, and which
records every request it gets.

    with HttpServer() as srv:
        srv.route("/generate_204", status=204)
        srv.route("/hook", [Response(503, headers={"Retry-After": "1"}), Response(200)])
        url = srv.url("/hook")
        ...
        assert srv.requests[0].json()["schema"] == 1

A route is one Response (answered every time), a list (answered in turn; the last one
repeats), or a callable(Request) -> Response. Unknown paths answer 404.

`HttpServer(host, port=443, tls=ssl_context)` serves HTTPS on a fixed port (tests run as root;
pick a random 127.x.y.z with `tests.servers.web.random_loopback()` so parallel runs never meet).
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    reset: bool = False  # abort the connection with a TCP RST instead of answering
    stream: Callable[[], Iterator[bytes]] | None = None  # body written chunk by chunk, no length

    def payload(self) -> bytes:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default


Route = Response | list[Response] | Callable[[Request], Response]


class HttpServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.fixed_port = port
        self.tls = tls
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- scripting

    def route(self, path: str, response: Route | None = None, **kwargs: Any) -> None:
        """route("/x", status=204) or route("/x", Response(...)) or a list or a callable."""
        with self._lock:
            self.routes[path] = response if response is not None else Response(**kwargs)
            self._served[path] = 0

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The URL of `path`, by address or by a `host` name a test resolves to this server."""
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        scheme = "https" if self.tls else "http"
        default = 443 if self.tls else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{scheme}://{host}{port}{path}"

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    # ---- lifecycle

    def start(self) -> HttpServer:
        owner = self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self._server = Server((self.host, self.fixed_port), _handler_for(owner))
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(request)
            route = self.routes.get(path)
            count = self._served.get(path, 0)
            self._served[path] = count + 1
        if route is None:
            return Response(404, body="not found")
        if callable(route) and not isinstance(route, Response):
            return route(request)
        if isinstance(route, list):
            return route[min(count, len(route) - 1)]
        return route


def _handler_for(owner: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
            response = owner._answer(request)
            if response.delay:
                time.sleep(response.delay)
            if response.reset:
                # linger 0 makes close() send RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if response.drop:
                self.close_connection = True
                return
            if response.stream is not None:
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in response.stream():
                        self.wfile.write(chunk)
                except OSError:  # the client hung up: what a bounded client should do
                    pass
                return
            payload = response.payload()
            self.send_response(response.status)
            headers = {k.lower(): v for k, v in response.headers.items()}
            for key, value in response.headers.items():
                self.send_header(key, value)
            if "content-length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            if "content-type" not in headers and payload:
                self.send_header("Content-Type", "application/json" if isinstance(response.body, dict | list) else "text/html; charset=utf-8")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        # CONNECT too, so a test can play an HTTPS proxy (route "host:443")
        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_CONNECT = _handle

    return Handler


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A started HttpServer on 127.0.0.1; import this fixture into a test module to use it."""
    with HttpServer() as server:
        yield server
