"""Loopback servers for probe tests: a real SMTP server (aiosmtpd) in plain, STARTTLS or
implicit-TLS mode, with or without AUTH; and a scripted raw-socket "hostile server" that can stay
silent, greet with anything, reset, break TLS or run a tiny dialogue.

    with SMTPServer(mode="starttls", tls_context=certs.server_context()) as srv:
        endpoint = Endpoint("smtp", "127.0.0.1", srv.port, tls="starttls")

    with HostileServer([send(b"220 hi\\r\\n"), expect(b"EHLO"), send(b"garbage\\r\\n"), hang()]) as srv:
        ...
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0 themselves)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- aiosmtpd


class _Handler:
    """Accepts and drops messages; hides AUTH from EHLO when the server has no AUTH."""

    def __init__(self, auth: bool) -> None:
        self.auth = auth
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if not self.auth:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


class _Controller(Controller):
    def __init__(self, handler, *, smtp_kwargs: dict, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self._smtp_kwargs = smtp_kwargs

    def factory(self):
        return SMTP(self.handler, **self._smtp_kwargs)


class SMTPServer:
    """aiosmtpd on loopback. mode: "plain" | "starttls" | "implicit"; tls_context: a server
    ssl.SSLContext (certs.server_context(kind)); auth: advertise AUTH PLAIN LOGIN (after TLS
    when there is TLS). `port`, `host` and `handler.messages` are available while running."""

    def __init__(
        self,
        mode: str = "starttls",
        tls_context: ssl.SSLContext | None = None,
        *,
        auth: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        if mode != "plain" and tls_context is None:
            raise ValueError(f"mode {mode!r} needs a tls_context")
        self.mode = mode
        self.host = host
        self.port = free_port(host)
        self.handler = _Handler(auth)
        smtp_kwargs: dict = {
            "hostname": "mail.test",
            # aiosmtpd does not count implicit TLS as TLS; there, the whole session is secure
            "auth_require_tls": mode == "starttls",
            "auth_callback": lambda *a: False,  # nobody signs in: probes never do
        }
        if mode == "starttls":
            smtp_kwargs["tls_context"] = tls_context
        self._controller = _Controller(
            self.handler,
            hostname=host,
            port=self.port,
            smtp_kwargs=smtp_kwargs,
            ssl_context=tls_context if mode == "implicit" else None,
        )

    def __enter__(self) -> SMTPServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


# ---------------------------------------------------------------- hostile server

Step = Callable[["Session"], None]


@dataclass
class Session:
    """One accepted connection as a script sees it."""

    sock: socket.socket
    stop: threading.Event
    received: list[bytes] = field(default_factory=list)
    buffer: bytes = b""

    def read_line(self, timeout: float = 10.0) -> bytes:
        self.sock.settimeout(timeout)
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("client closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        self.received.append(line.rstrip(b"\r"))
        return line.rstrip(b"\r")


def send(data: bytes) -> Step:
    """Send bytes as they are."""
    return lambda s: s.sock.sendall(data)


def expect(prefix: bytes = b"") -> Step:
    """Read one line from the client (checking it starts with prefix, case-insensitive)."""

    def step(s: Session) -> None:
        line = s.read_line()
        if not line.upper().startswith(prefix.upper()):
            raise ConnectionError(f"expected {prefix!r}, got {line!r}")

    return step


def receive(count: int = 1) -> Step:
    """Wait for at least `count` bytes of anything (a TLS ClientHello has no line ending)."""

    def step(s: Session) -> None:
        s.sock.settimeout(10)
        while len(s.buffer) < count:
            chunk = s.sock.recv(4096)
            if not chunk:
                raise ConnectionError("client closed")
            s.buffer += chunk

    return step


def expect_blank() -> Step:
    """Read lines up to an empty one (the end of HTTP request headers)."""

    def step(s: Session) -> None:
        while s.read_line():
            pass

    return step


def reply(prefix: bytes, data: bytes) -> list[Step]:
    return [expect(prefix), send(data)]


def hang() -> Step:
    """Stay silent with the connection open until the server stops."""
    return lambda s: s.stop.wait(30)


def reset() -> Step:
    """Close with an RST instead of a FIN (SO_LINGER 0)."""

    def step(s: Session) -> None:
        s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sock.close()

    return step


def close() -> Step:
    return lambda s: s.sock.close()


def start_tls(context: ssl.SSLContext) -> Step:
    """Server side of a TLS handshake; continues over TLS (a failed handshake ends the script)."""

    def step(s: Session) -> None:
        s.sock.settimeout(10)
        s.sock = context.wrap_socket(s.sock, server_side=True)
        s.buffer = b""

    return step


def http_response(status: int, reason: str = "", body: bytes = b"") -> list[Step]:
    """Read an HTTP request, answer with `status`, close."""
    head = f"HTTP/1.1 {status} {reason or 'Status'}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return [expect_blank(), send(head.encode() + body), close()]


class HostileServer:
    """Accepts connections on loopback and runs `script` (a list of steps, nested lists
    flattened) on each, in its own thread. tls_context: wrap every connection first
    (implicit TLS). `sessions` records what clients sent."""

    def __init__(
        self,
        script: list,
        *,
        host: str = "127.0.0.1",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.script: list[Step] = list(_flatten(script))
        if tls_context is not None:
            self.script.insert(0, start_tls(tls_context))
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self.sessions: list[Session] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HostileServer:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for session in self.sessions:
            with contextlib.suppress(OSError):
                session.sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            session = Session(conn, self._stop)
            self.sessions.append(session)
            thread = threading.Thread(target=self._run, args=(session,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, session: Session) -> None:
        try:
            for step in self.script:
                step(session)
        except (OSError, ConnectionError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                session.sock.close()


def _flatten(items):
    for item in items:
        if isinstance(item, list | tuple):
            yield from _flatten(item)
        else:
            yield item
