"""A real HTTP receiver on loopback for report tests: records every request and answers with
scripted responses (status, headers), or holds a request open until released."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: bool = False  # hold the request open until release() (or the server stops)


class Receiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []  # used in order; the last one repeats
        self.got_request = threading.Event()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = receiver._next_reply()
                receiver.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
                receiver.got_request.set()
                if reply.hang:
                    receiver._release.wait(30)
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next_reply(self) -> Reply:
        if not self.replies:
            return Reply()
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
