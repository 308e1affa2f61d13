"""A line-based conversation with a server (SMTP, IMAP, POP3, HTTP headers) under the deadline,
mapping timeouts, resets and closed connections to SPEC codes by the phase the probe is in."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.diagnosis.probes.base import ProbeFailure, timed_out
from app.words import it

if TYPE_CHECKING:
    from app.config import Endpoint
    from app.diagnosis.probes.base import Outcome, ProbeContext

MAX_LINE = 8192
# a whole probe conversation is a few KB; a server that keeps talking past this is not a mail
# server answering, and reading on would hold memory until the deadline
MAX_TOTAL = 256 * 1024


class Conversation:
    """Reads CRLF lines and sends commands; every wait is bounded by the probe's deadline."""

    def __init__(self, ctx: ProbeContext, sock: socket.socket, where: str) -> None:
        self.ctx = ctx
        self.sock = sock
        self.where = where  # "smtp.example.com port 587", for sentences
        self._buffer = b""
        self._received = 0
        self.cap: float | None = None  # a shorter wait than the deadline, e.g. for QUIT
        # greeting lines as they arrive: a greeting begun but never finished is still evidence
        self.banner_lines: list[str] = []
        # for a plain-text endpoint: would this port complete a TLS handshake instead? Asked
        # when the server stays silent, with a little time kept back for it
        self.sniff_tls: Callable[[], bool] | None = None

    def upgrade(self, sock: socket.socket) -> None:
        """Continue over `sock` (after STARTTLS); bytes sent before the handshake are dropped,
        as a client must not trust anything the server pipelined in clear text."""
        self.sock = sock
        self._buffer = b""

    def goodbye(self, command: str, read_answer: Callable[[Conversation], object]) -> None:
        """Say goodbye (QUIT, LOGOUT) within a short cap: everything needed is known, and a
        server that mishandles it does not change the outcome."""
        self.cap = 1.0
        try:
            self.send(command)
            read_answer(self)
        except ProbeFailure:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, line: str) -> None:
        self.sock.settimeout(self.ctx.deadline.timeout(self.cap))
        try:
            self.sock.sendall(line.encode("ascii", "replace") + b"\r\n")
        except TimeoutError:
            raise self._timeout() from None
        except (ConnectionResetError, BrokenPipeError):
            raise self._reset() from None
        except (ssl.SSLError, OSError) as exc:
            raise ProbeFailure(
                "protocol_error",
                it.detail("conversation", "send_failed", where=self.where, reason=exc),
            ) from None

    def readline(self) -> str:
        """One line without its line ending; ProbeFailure on timeout, reset or close."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise self._garbage(self._buffer[:80])
            self.sock.settimeout(self.ctx.deadline.timeout(self._read_cap()))
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise self._timeout() from None
            except ConnectionResetError:
                raise self._reset() from None
            except (ssl.SSLError, OSError) as exc:
                raise ProbeFailure(
                    "protocol_error",
                    it.detail("conversation", "read_failed", where=self.where, reason=exc),
                ) from None
            if not chunk:
                raise self._closed()
            self._received += len(chunk)
            if self._received > MAX_TOTAL:
                raise ProbeFailure(
                    "bad_greeting" if self.ctx.phase == "banner" else "protocol_error",
                    it.detail(
                        "conversation", "too_much", where=self.where, kb=self._received // 1024
                    ),
                )
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\n")
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if self.ctx.phase == "banner":
            self.banner_lines.append(line)
        return line

    def _read_cap(self) -> float | None:
        if self.ctx.phase == "banner" and self.sniff_tls is not None and not self._received:
            # keep time back to ask whether the silent port speaks TLS instead
            remaining = self.ctx.deadline.remaining()
            reserve = 1.0 if remaining > 2.5 else remaining * 0.3
            return max(0.05, remaining - reserve) if self.cap is None else min(self.cap, remaining - reserve)
        return self.cap

    def _timeout(self) -> ProbeFailure:
        phase = self.ctx.phase
        if phase == "banner":
            return self._banner_timeout()
        return timed_out(phase)

    def _banner_timeout(self) -> ProbeFailure:
        partial = [*self.banner_lines]
        if self._buffer:
            partial.append(self._buffer[:512].decode("utf-8", "replace").rstrip("\r\n"))
        if partial:
            self.ctx.data["greeting"] = "\n".join(partial)
            first = shorten(partial[0], 60)
            return ProbeFailure(
                "banner_timeout",
                it.detail("conversation", "partial_greeting", where=self.where, first=first),
            )
        if self.sniff_tls is not None and self.ctx.deadline.remaining() > 0.05 and self.sniff_tls():
            return ProbeFailure(
                "banner_timeout", it.detail("conversation", "tls_on_plain", where=self.where)
            )
        return ProbeFailure("banner_timeout", it.timed_out("banner"))

    def _reset(self) -> ProbeFailure:
        return ProbeFailure("tcp_reset", it.detail("conversation", "reset", where=self.where))

    def _closed(self) -> ProbeFailure:
        if self.ctx.phase == "banner" and self.banner_lines:
            self.ctx.data["greeting"] = "\n".join(self.banner_lines)
            first = shorten(self.banner_lines[0], 60)
            return ProbeFailure(
                "bad_greeting",
                it.detail("conversation", "closed_in_greeting", where=self.where, first=first),
            )
        if self.ctx.phase == "banner":
            return ProbeFailure(
                "bad_greeting",
                it.detail("conversation", "closed_before_greeting", where=self.where),
            )
        return ProbeFailure("protocol_error", it.detail("conversation", "closed", where=self.where))

    def _garbage(self, sample: bytes) -> ProbeFailure:
        code = "bad_greeting" if self.ctx.phase == "banner" else "protocol_error"
        return ProbeFailure(
            code, it.detail("conversation", "overlong", where=self.where, sample=sample)
        )


def open_conversation(ctx: ProbeContext, endpoint: Endpoint) -> Conversation:
    """Connect (DNS, TCP) and, for implicit TLS, shake hands first: what every mail probe does
    before its protocol's first line."""
    from app.diagnosis import tls
    from app.diagnosis.net import connect

    sock = connect(ctx, endpoint.host, endpoint.port)
    reconnect = lambda: connect(ctx, endpoint.host, endpoint.port)  # noqa: E731
    if endpoint.tls == "implicit":
        ctx.enter("tls")
        sock = tls.handshake(ctx, sock, endpoint.host, reconnect=reconnect, first_contact=True)
    conv = Conversation(ctx, sock, it.where(endpoint.host, endpoint.port))
    if endpoint.tls != "implicit":
        conv.sniff_tls = lambda: tls.speaks_tls(ctx, endpoint.host, reconnect)
    return conv


def converse(
    ctx: ProbeContext,
    endpoint: Endpoint,
    talk: Callable[[ProbeContext, Endpoint, Conversation], Outcome],
) -> Outcome:
    """Open the conversation, let the protocol talk, and always close the socket."""
    conv = open_conversation(ctx, endpoint)
    try:
        return talk(ctx, endpoint, conv)
    finally:
        conv.close()


def over_tls(ctx: ProbeContext) -> str:
    """The " over TLS 1.3" of a sentence saying a server answers, "" when the session is plain."""
    version = (ctx.data.get("tls") or {}).get("version")
    return it.piece("over_tls", version=version) if version else ""


def shorten(text: str, limit: int = 120) -> str:
    """A server's words, cut to fit a sentence."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
