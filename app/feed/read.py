"""Fetching the feed over http(s) (through app.httpio: proxy, trust store, redirect policy) or
from a file, bounded in size and time, with conditional GET and the last good result kept
(stale marking)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from app import httpio, jsonio
from app.jsonio import iso_utc, parse_iso, utc_now
from app.report.redact import scrub_text
from app.words import it

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.probes.base import Deadline

from app.feed.parse import _MAX_REDIRECTS, STALE_AFTER, _BadFeed, closing_words, parse_feed

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


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "it did not answer in time"
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
    config: Config | None,
) -> _Fetched:
    where = it.FEED_AT.format(url=url)
    headers = {"Accept": "application/json", "Cache-Control": "no-cache"}
    token = _hub_token_for(config, url)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = httpio.request(
            url,
            config=config,
            timeout_s=timeout,
            headers=headers,
            etag=etag,
            last_modified=last_modified,
            max_bytes=max_bytes,
            max_redirects=_MAX_REDIRECTS,
            ca_file=ca_file,
        )
    except httpio.HttpError as exc:
        if exc.kind == "timeout":
            return _Fetched(error=it.feed_error("timeout", where=where))
        if exc.kind == "too_large":
            return _Fetched(error=it.feed_error("too_large", where=where, size=_megabytes(max_bytes)))
        return _Fetched(error=it.feed_error("http_error", url=url, reason=exc.reason))
    if resp.status == 304:
        return _Fetched(not_modified=True)
    if resp.status != 200:
        return _Fetched(error=it.feed_error("http_status", where=where, status=resp.status, reason=resp.reason))
    return _Fetched(body=resp.body, etag=resp.header("ETag"), last_modified=resp.header("Last-Modified"))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _hub_token_for(config: Config | None, url: str) -> str | None:
    """The laptop's hub token when the feed is the hub's own (the hub serves its feed to its
    tokens only, SPEC 8); never sent to any other origin."""
    hub = getattr(getattr(config, "hub", None), "url", "") if config is not None else ""
    if not hub or _origin(hub) != _origin(url):
        return None
    from app import secrets

    return secrets.get_secret("hub.token")


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
    where = it.FILE_AT.format(path=path)
    try:
        info = path.stat()
        # the inode and ctime too: each atomic write is a new file, while mtime may tick only
        # once a second (or two) on shares, and an update can keep the size
        mtime = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns)
        if known_mtime is not None and mtime == known_mtime:
            return _Fetched(not_modified=True)
        if info.st_size > max_bytes:
            return _Fetched(error=it.feed_error("too_large", where=where, size=_megabytes(max_bytes)))
        with path.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return _Fetched(error=it.feed_error("not_found", where=where))
    except OSError as exc:
        return _Fetched(error=it.feed_error("os_error", where=where, reason=_describe_os_error(exc)))
    if len(body) > max_bytes:
        return _Fetched(error=it.feed_error("too_large", where=where, size=_megabytes(max_bytes)))
    return _Fetched(body=body, mtime=mtime)


def _run_bounded(fn: Callable[[], _Fetched], timeout: float) -> _Fetched | None:
    """fn() in a daemon thread; None when it does not finish within timeout (a hung file share
    must not hold the caller; http is bounded by httpio itself)."""
    box: list[_Fetched] = []

    def work() -> None:
        try:
            box.append(fn())
        except Exception as exc:  # a reader must never raise: the feed never breaks a check
            box.append(_Fetched(error=it.feed_error("unexpected", reason=exc)))

    thread = threading.Thread(target=work, name="feed read", daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))
    if thread.is_alive():
        return None
    return box[0]


class FeedReader:
    """Reads one feed again and again, keeping ETag / Last-Modified (or the file's mtime) and the
    last good document, so an unreadable feed shows the last incidents marked stale."""

    def __init__(
        self, url: str, *, max_bytes: int = 1_000_000, ca_file: str = "", config: Config | None = None
    ) -> None:
        self.url = url.strip()
        self.max_bytes = max_bytes
        self.ca_file = ca_file
        self.config = config
        self._lock = threading.Lock()
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._mtime: tuple[int, ...] | None = None
        self._good: tuple[str, list[dict[str, Any]], str | None] | None = None
        self._good_at: str | None = None
        self._closing: dict[str, str] = {}

    def closing_words(self, incident_id: str) -> str:
        """IT's message on closing `incident_id`, as the last good document has it ("" if none)."""
        with self._lock:
            return self._closing.get(str(incident_id), "")

    @property
    def is_http(self) -> bool:
        return self.url.lower().startswith(("http://", "https://"))

    def read(self, timeout: float) -> dict[str, Any]:
        """The SPEC it_status object plus "stale"; returns within `timeout`, never raises."""
        try:
            return self._read(timeout)
        except Exception as exc:  # a last line of defence: the feed never crashes a check
            return self._result(error=it.feed_error("unexpected", reason=exc))

    def _read(self, timeout: float) -> dict[str, Any]:
        with self._lock:
            etag, last_modified, mtime = self._etag, self._last_modified, self._mtime
            have_good = self._good is not None
        if self.is_http:
            got = _http_fetch(
                self.url,
                etag if have_good else None,
                last_modified if have_good else None,
                timeout,
                self.max_bytes,
                self.ca_file,
                self.config,
            )
        else:
            path = _file_path(self.url)
            got = _run_bounded(lambda: _file_fetch(path, mtime if have_good else None, self.max_bytes), timeout)
            if got is None:
                return self._result(error=it.feed_error("file_timeout", where=it.FILE_AT.format(path=path), timeout=timeout))
        if got.error:
            return self._result(error=got.error)
        if got.not_modified:
            if self._good is None:
                return self._result(error=it.feed_error("not_modified_first", where=self._what()))
            with self._lock:
                self._good_at = iso_utc(utc_now())  # the last good feed is confirmed current
            return self._result()
        try:
            doc = jsonio.loads((got.body or b"").decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return self._result(error=it.feed_error("not_json", where=self._what()))
        try:
            parsed = parse_feed(doc)
        except _BadFeed as exc:
            return self._result(error=it.feed_error("bad_feed", where=self._what(), reason=exc))
        with self._lock:
            self._good = parsed
            self._closing = closing_words(doc)
            self._good_at = iso_utc(utc_now())
            self._etag, self._last_modified, self._mtime = got.etag, got.last_modified, got.mtime
        return self._result()

    def _what(self) -> str:
        return it.FEED_AT.format(url=self.url) if self.is_http else it.FILE_AT.format(path=_file_path(self.url))

    def _result(self, error: str | None = None) -> dict[str, Any]:
        # the sentence names the feed's URL, which may carry a login or a token
        error = scrub_text(error) if error else error
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
            reader = _readers[key] = FeedReader(config.feed.url, ca_file=config.tls.ca_file, config=config)
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

