"""Fetching the feed over http(s) or from a file, bounded in size and time, with conditional
GET and the last good result kept (stale marking)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from app import jsonio, version
from app.httpio import proxy_for
from app.jsonio import iso_utc, parse_iso, utc_now

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.probes.base import Deadline

from app.feed.parse import _CHUNK, _MAX_REDIRECTS, STALE_AFTER, _BadFeed, parse_feed

# ---------------------------------------------------------------- fetching


@dataclass
class _Fetched:
    """What one attempt brought back: a body, "not modified", or an error sentence."""

    body: bytes | None = None
    not_modified: bool = False
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    mtime: tuple[int, ...] | None = None


@dataclass
class _Abort:
    """Lets the caller cut a fetch short from another thread when its time is up."""

    event: threading.Event = field(default_factory=threading.Event)
    sock: socket.socket | None = None

    def set_socket(self, sock: socket.socket | None) -> None:
        self.sock = sock
        if self.event.is_set():
            self.cut()

    def cut(self) -> None:
        self.event.set()
        sock = self.sock
        if sock is not None:
            try:
                # shutdown (not close) wakes a recv blocked in the other thread
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _tls_context(ca_file: str) -> ssl.SSLContext:
    try:
        import truststore

        ctx: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except ImportError:  # the OS store through OpenSSL's defaults is the fallback
        ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(os.path.expanduser(ca_file))
    return ctx


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"the secure connection failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return "its name could not be resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "it refused the connection"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "it did not answer in time"
    if isinstance(exc, http.client.HTTPException):
        return "it did not answer with valid HTTP"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _http_fetch(
    url: str,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    ca_file: str,
    abort: _Abort,
) -> _Fetched:
    where = f"The IT status feed at {url}"
    headers = {
        "User-Agent": f"MailBeacon/{version()}",
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "Cache-Control": "no-cache",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        proxy = proxy_for(parts.scheme, host)
        conn: http.client.HTTPConnection
        try:
            if parts.scheme == "https":
                ctx = _tls_context(ca_file)
                if proxy:
                    conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=ctx)
                    # the login goes to the proxy with CONNECT, never inside the tunnel
                    tunnel = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
                    conn.set_tunnel(host, port, headers=tunnel)
                else:
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
            elif proxy:
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
                target = current
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.connect()
            abort.set_socket(conn.sock)
            sent = dict(headers)
            if proxy and proxy.authorization and parts.scheme != "https":
                sent["Proxy-Authorization"] = proxy.authorization
            conn.request("GET", target, headers=sent)
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                current = urljoin(current, resp.getheader("Location", ""))
                conn.close()
                continue
            if resp.status == 304:
                conn.close()
                return _Fetched(not_modified=True)
            if resp.status != 200:
                conn.close()
                return _Fetched(error=f"{where} answered HTTP {resp.status} {resp.reason}.".rstrip())
            length = resp.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                conn.close()
                return _Fetched(error=f"{where} is larger than {_megabytes(max_bytes)}.")
            body = bytearray()
            while len(body) <= max_bytes:
                if abort.event.is_set():
                    conn.close()
                    return _Fetched(error=f"{where} did not answer in time.")
                chunk = resp.read1(min(_CHUNK, max_bytes + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            conn.close()
            if len(body) > max_bytes:
                return _Fetched(error=f"{where} is larger than {_megabytes(max_bytes)}.")
            return _Fetched(
                body=bytes(body),
                etag=resp.getheader("ETag"),
                last_modified=resp.getheader("Last-Modified"),
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if abort.event.is_set():
                return _Fetched(error=f"{where} did not answer in time.")
            return _Fetched(error=f"Could not read the IT status feed at {url}: {_describe_os_error(exc)}.")
    return _Fetched(error=f"{where} redirects too many times.")


def _file_path(url: str) -> Path:
    if url.lower().startswith("file:"):
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc and parts.netloc != "localhost":  # file://server/share/feed.json
            path = f"//{parts.netloc}{path}"
        elif re.match(r"^/[A-Za-z]:", path):  # file:///C:/feeds/feed.json
            path = path[1:]
        return Path(path)
    return Path(url).expanduser()


def _file_fetch(path: Path, known_mtime: tuple[int, ...] | None, max_bytes: int) -> _Fetched:
    where = f"The IT status file {path}"
    try:
        info = path.stat()
        # the inode and ctime too: each atomic write is a new file, while mtime may tick only
        # once a second (or two) on shares, and an update can keep the size
        mtime = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns)
        if known_mtime is not None and mtime == known_mtime:
            return _Fetched(not_modified=True)
        if info.st_size > max_bytes:
            return _Fetched(error=f"{where} is larger than {_megabytes(max_bytes)}.")
        with path.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return _Fetched(error=f"{where} was not found.")
    except OSError as exc:
        return _Fetched(error=f"{where} could not be read: {_describe_os_error(exc)}.")
    if len(body) > max_bytes:
        return _Fetched(error=f"{where} is larger than {_megabytes(max_bytes)}.")
    return _Fetched(body=body, mtime=mtime)


def _run_bounded(fn: Callable[[], _Fetched], timeout: float, abort: _Abort) -> _Fetched | None:
    """fn() in a daemon thread; None when it does not finish within timeout (a hung file share
    or a server that drips bytes must not hold the caller)."""
    box: list[_Fetched] = []

    def work() -> None:
        try:
            box.append(fn())
        except Exception as exc:  # a reader must never raise: the feed never breaks a check
            box.append(_Fetched(error=f"The IT status feed could not be read: {exc}."))

    thread = threading.Thread(target=work, name="feed read", daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))
    if thread.is_alive():
        abort.cut()
        return None
    return box[0]


class FeedReader:
    """Reads one feed again and again, keeping ETag / Last-Modified (or the file's mtime) and the
    last good document, so an unreadable feed shows the last incidents marked stale."""

    def __init__(self, url: str, *, max_bytes: int = 1_000_000, ca_file: str = "") -> None:
        self.url = url.strip()
        self.max_bytes = max_bytes
        self.ca_file = ca_file
        self._lock = threading.Lock()
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._mtime: tuple[int, ...] | None = None
        self._good: tuple[str, list[dict[str, Any]], str | None] | None = None
        self._good_at: str | None = None

    @property
    def is_http(self) -> bool:
        return self.url.lower().startswith(("http://", "https://"))

    def read(self, timeout: float) -> dict[str, Any]:
        """The SPEC it_status object plus "stale"; returns within `timeout`, never raises."""
        try:
            return self._read(timeout)
        except Exception as exc:  # a last line of defence: the feed never crashes a check
            return self._result(error=f"The IT status feed could not be read: {exc}.")

    def _read(self, timeout: float) -> dict[str, Any]:
        abort = _Abort()
        with self._lock:
            etag, last_modified, mtime = self._etag, self._last_modified, self._mtime
            have_good = self._good is not None
        if self.is_http:
            fetch: Callable[[], _Fetched] = lambda: _http_fetch(  # noqa: E731
                self.url,
                etag if have_good else None,
                last_modified if have_good else None,
                timeout,
                self.max_bytes,
                self.ca_file,
                abort,
            )
            late = f"The IT status feed at {self.url} did not answer within {timeout:.3g} s."
        else:
            path = _file_path(self.url)
            fetch = lambda: _file_fetch(path, mtime if have_good else None, self.max_bytes)  # noqa: E731
            late = f"The IT status file {path} could not be read within {timeout:.3g} s."
        got = _run_bounded(fetch, timeout, abort)
        if got is None:
            return self._result(error=late)
        if got.error:
            return self._result(error=got.error)
        if got.not_modified:
            if self._good is None:
                return self._result(error=f"The IT status feed at {self.url} said 'not modified' to a first read.")
            with self._lock:
                self._good_at = iso_utc(utc_now())  # the last good feed is confirmed current
            return self._result()
        try:
            doc = jsonio.loads((got.body or b"").decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return self._result(error=f"{self._what()} is not valid JSON.")
        try:
            parsed = parse_feed(doc)
        except _BadFeed as exc:
            return self._result(error=f"{self._what()} {exc}.")
        with self._lock:
            self._good = parsed
            self._good_at = iso_utc(utc_now())
            self._etag, self._last_modified, self._mtime = got.etag, got.last_modified, got.mtime
        return self._result()

    def _what(self) -> str:
        return f"The IT status feed at {self.url}" if self.is_http else f"The IT status file {_file_path(self.url)}"

    def _result(self, error: str | None = None) -> dict[str, Any]:
        with self._lock:
            good, good_at = self._good, self._good_at
        now = utc_now()
        if good is None:
            return {
                "source": None,
                "incidents": [],
                "fetched_at": iso_utc(now),
                "error": error,
                "stale": error is not None,
            }
        source, incidents, fresh = good
        old = fresh is not None and now - parse_iso(fresh) > STALE_AFTER
        return {
            "source": source,
            "incidents": [dict(i) for i in incidents],
            # when the incidents shown were last confirmed, not when this attempt ran
            "fetched_at": good_at,
            "error": error,
            "stale": error is not None or old,
        }


_readers: dict[tuple[str, str], FeedReader] = {}
_readers_lock = threading.Lock()


def reader_for(config: Config) -> FeedReader:
    """One FeedReader per feed URL for the whole process, so repeated checks send conditional
    requests and keep the last good feed."""
    key = (config.feed.url, config.tls.ca_file)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = FeedReader(config.feed.url, ca_file=config.tls.ca_file)
        return reader


def read_it_status(config: Config, deadline: Deadline) -> dict[str, Any] | None:
    """it_status for a diagnosis: None when no feed is configured, else one bounded read."""
    if not config.feed.url:
        return None
    return reader_for(config).read(deadline.timeout())


# ---------------------------------------------------------------- for people


def known_incident(it_status: dict[str, Any] | None) -> str | None:
    """The id of the unresolved incident affecting mail that IT already posted, or None."""
    if not it_status:
        return None
    incidents = it_status.get("incidents") or []
    return str(incidents[0]["id"]) if incidents else None

