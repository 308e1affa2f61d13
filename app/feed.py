"""The IT status feed (SPEC section 6): read native and Statuspage v2 feeds over http(s) or from a
file, turn them into lines and notifications for people, and write the native feed for IT.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from app import version
from app.errors import MailBeaconError, UsageError
from app.httpio import proxy_for
from app.jsonio import iso_utc, parse_iso, utc_now

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.probes.base import Deadline

STATUSES = ("investigating", "identified", "monitoring", "resolved")
# Statuspage states that mean the incident is over
_CLOSED = ("resolved", "postmortem", "completed")
STALE_AFTER = timedelta(days=1)
# resolved incidents stay in the native file this long, so it never grows towards max_bytes
KEEP_RESOLVED = timedelta(days=30)
_MAX_REDIRECTS = 3
# how long `feed post|update|resolve` waits for a colleague's write, and when a lock file left
# by a crashed writer counts as abandoned (a write takes milliseconds, even on a share)
LOCK_WAIT_S = 10.0
LOCK_ABANDONED_S = 30.0
_CHUNK = 64 * 1024


class FeedError(MailBeaconError):
    """IT's feed file cannot be written as asked (unknown or duplicate id, unreadable file)."""


# ---------------------------------------------------------------- parsing


class _BadFeed(Exception):
    """The document is not a feed we can read; the message is a sentence for people."""


def _time(value: Any) -> str | None:
    """A feed time as ISO 8601 UTC with Z, or None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return iso_utc(parse_iso(value))
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _affects_mail(affects: Any) -> bool:
    if affects is None or affects == [] or affects == "":
        return True
    if isinstance(affects, str):
        affects = [affects]
    if not isinstance(affects, list):
        return True
    return any(isinstance(a, str) and a.strip().lower() == "mail" for a in affects)


def _newest(times: Iterable[str | None]) -> str | None:
    known = [t for t in times if t]
    return max(known, key=parse_iso) if known else None


def parse_feed(doc: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    """(source, unresolved incidents affecting mail newest first, freshness time) of a document.

    The freshness time is the native `updated_at`, or for Statuspage the newest incident update
    (a quiet Statuspage page is live, not stale). Raises _BadFeed for anything else."""
    if not isinstance(doc, dict):
        raise _BadFeed("is not a status feed (expected a JSON object)")
    if "page" in doc and isinstance(doc["page"], dict):
        return _parse_statuspage(doc)
    if "incidents" in doc and ("schema" in doc or "updated_at" in doc):
        return _parse_native(doc)
    raise _BadFeed("is not in a format MailBeacon knows (a native feed or Atlassian Statuspage v2)")


def _parse_native(doc: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    raw = doc.get("incidents")
    if not isinstance(raw, list):
        raise _BadFeed('has an "incidents" value that is not a list')
    incidents = []
    for item in raw:
        if not isinstance(item, dict) or not _text(item.get("id")):
            continue
        status = _text(item.get("status")).lower() or "investigating"
        if status in _CLOSED or not _affects_mail(item.get("affects")):
            continue
        incidents.append(
            {
                "id": _text(item.get("id")),
                "title": _text(item.get("title")) or "Untitled incident",
                "status": status,
                "message": _text(item.get("message")),
                "updated_at": _time(item.get("updated_at")) or _time(item.get("started_at")),
                "next_update_at": _time(item.get("next_update_at")),
            }
        )
    _sort_newest_first(incidents)
    fresh = _newest([_time(doc.get("updated_at")), *(i["updated_at"] for i in incidents)])
    return "native", incidents, fresh


def _parse_statuspage(doc: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    raw = doc.get("incidents", [])  # status.json carries no incidents: nothing open to show
    if not isinstance(raw, list):
        raise _BadFeed('has an "incidents" value that is not a list')
    incidents = []
    for item in raw:
        if not isinstance(item, dict) or not _text(item.get("id")):
            continue
        status = _text(item.get("status")).lower()
        if status in _CLOSED:
            continue
        updates = [u for u in item.get("incident_updates") or [] if isinstance(u, dict)]
        newest = max(
            updates,
            key=lambda u: parse_iso(_time(u.get("created_at")) or "1970-01-01T00:00:00Z"),
            default=None,
        )
        incidents.append(
            {
                "id": _text(item.get("id")),
                "title": _text(item.get("name")) or "Untitled incident",
                "status": status or "investigating",
                "message": _text(newest.get("body")) if newest else "",
                "updated_at": _time(item.get("updated_at")) or _time(item.get("created_at")),
                "next_update_at": None,
            }
        )
    _sort_newest_first(incidents)
    return "statuspage", incidents, _newest(i["updated_at"] for i in incidents)


def _sort_newest_first(incidents: list[dict[str, Any]]) -> None:
    incidents.sort(
        key=lambda i: parse_iso(i["updated_at"] or "1970-01-01T00:00:00Z"), reverse=True
    )


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
            doc = json.loads((got.body or b"").decode("utf-8-sig"))
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


def _local(when: str) -> datetime:
    return parse_iso(when).astimezone()


def _clock(when: str, now: datetime) -> str:
    local = _local(when)
    today = now.astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.date() == today + timedelta(days=1):
        return local.strftime("tomorrow %H:%M")
    return local.strftime("%a %d %b %H:%M")


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def status_line(it_status: dict[str, Any] | None, now: datetime | None = None) -> str | None:
    """"IT is aware: <title> — next update 17:30" for the newest open incident, or None."""
    if not it_status or not it_status.get("incidents"):
        return None
    now = now or utc_now()
    incidents = it_status["incidents"]
    top = incidents[0]
    line = f"IT is aware: {top.get('title') or 'an incident'}"
    if top.get("next_update_at"):
        line += f" — next update {_clock(top['next_update_at'], now)}"
    if len(incidents) > 1:
        line += f" (and {len(incidents) - 1} more)"
    if it_status.get("stale"):
        since = top.get("updated_at") or it_status.get("fetched_at")
        if since:
            line += f" (last update {_ago(parse_iso(since), now)}, may be out of date)"
        else:
            line += " (may be out of date)"
    return line


def incident_lines(it_status: dict[str, Any] | None, now: datetime | None = None) -> list[str]:
    """One paragraph per open incident for the Details window: title and status, IT's message,
    when it was last updated and when the next update is due (local time)."""
    if not it_status:
        return []
    now = now or utc_now()
    lines = []
    for incident in it_status.get("incidents") or []:
        line = f"IT is aware: {incident.get('title') or 'an incident'} ({incident.get('status') or 'open'})."
        if incident.get("message"):
            line += f" {_sentence(incident['message'])}"
        if incident.get("updated_at"):
            line += f" Last updated {_clock(incident['updated_at'], now)} ({_ago(parse_iso(incident['updated_at']), now)})."
        if incident.get("next_update_at"):
            line += f" Next update {_clock(incident['next_update_at'], now)}."
        lines.append(line)
    if it_status.get("error"):
        lines.append(it_status["error"] + (" Showing what IT posted last." if lines else ""))
    return lines


@dataclass(frozen=True)
class FeedEvent:
    kind: str  # "posted" | "updated" | "resolved"
    incident: dict[str, Any]
    text: str


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _event_text(kind: str, incident: dict[str, Any]) -> str:
    title = incident.get("title") or "an incident"
    message = _sentence(incident.get("message") or "")
    if kind == "posted":
        text = f"IT is aware: {title}."
    elif kind == "updated":
        text = f"IT updated: {title}."
    else:
        text = f"IT has resolved: {title}."
    if message:
        text += f" {message}"
    if kind != "resolved" and incident.get("next_update_at"):
        text += f" Next update {_clock(incident['next_update_at'], utc_now())}."
    return text


class IncidentTracker:
    """Turns successive it_status objects into notifications, one per posted, updated or
    resolved incident. A feed that cannot be read resolves nothing."""

    _FIELDS = ("title", "status", "message", "updated_at", "next_update_at")

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def update(self, it_status: dict[str, Any] | None) -> list[FeedEvent]:
        if it_status is None:
            return []
        events: list[FeedEvent] = []
        current = {str(i["id"]): i for i in it_status.get("incidents") or [] if i.get("id")}
        for key, incident in current.items():
            before = self._open.get(key)
            if before is None:
                events.append(FeedEvent("posted", dict(incident), _event_text("posted", incident)))
            elif any(before.get(f) != incident.get(f) for f in self._FIELDS):
                events.append(FeedEvent("updated", dict(incident), _event_text("updated", incident)))
            self._open[key] = dict(incident)
        if not it_status.get("error"):
            for key in [k for k in self._open if k not in current]:
                gone = self._open.pop(key)
                gone = {**gone, "status": "resolved", "next_update_at": None}
                # the reader drops resolved incidents, so their closing words are not known here
                events.append(FeedEvent("resolved", gone, _event_text("resolved", {**gone, "message": ""})))
        return events


# ---------------------------------------------------------------- writing (IT side)

_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_next_update(text: str, now: datetime | None = None) -> datetime:
    """"30m", "1h", "90s", "1h30m" from now, or "17:30" = the next 17:30 local time; also an
    ISO 8601 time. Returns an aware UTC datetime; UsageError when it cannot be read."""
    now = now or utc_now()
    if now.tzinfo is None:
        now = now.astimezone()
    raw = text.strip()
    compact = raw.replace(" ", "").lower()
    if compact and _DURATION.sub("", compact) == "" and compact[0].isdigit():
        seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _DURATION.findall(compact))
        if seconds <= 0:
            raise UsageError(f"--next-update {raw!r} must be in the future")
        return (now + timedelta(seconds=seconds)).astimezone(UTC)
    clock = re.fullmatch(r"(\d{1,2})[:.h](\d{2})", compact)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise UsageError(f"--next-update {raw!r} is not a time of day")
        # naive local arithmetic, then astimezone(), so a DST change overnight is honoured
        local_now = now.astimezone().replace(tzinfo=None)
        at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)
        return at.astimezone().astimezone(UTC)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--next-update {raw!r}: expected a duration like 30m, 1h or 1h30m, or a time like 17:30"
        ) from None
    # a time without a zone is IT's own clock, as "17:30" is
    return (at if at.tzinfo else at.astimezone()).astimezone(UTC)


def _load_native(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": 1, "updated_at": None, "incidents": []}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read the feed file {path}: {_describe_os_error(exc)}") from None
    if not raw.strip():
        return {"schema": 1, "updated_at": None, "incidents": []}
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise FeedError(f"the feed file {path} is not valid JSON; fix or remove it first") from None
    if not isinstance(doc, dict) or "page" in doc or not isinstance(doc.get("incidents", []), list):
        raise FeedError(f"the feed file {path} is not a MailBeacon feed; refusing to overwrite it")
    doc.setdefault("schema", 1)
    doc.setdefault("incidents", [])
    return doc


def _prune(doc: dict[str, Any], now: datetime) -> None:
    def keep(item: Any) -> bool:
        if not isinstance(item, dict) or item.get("status") != "resolved":
            return True
        when = _time(item.get("updated_at"))
        return when is None or now - parse_iso(when) < KEEP_RESOLVED

    doc["incidents"] = [i for i in doc["incidents"] if keep(i)]


def _replace(tmp: str, path: Path, patience_s: float = 2.0) -> None:
    """os.replace, retried briefly on PermissionError: on Windows the rename fails while a laptop
    has the feed open for reading over the share, which lasts milliseconds."""
    give_up = time.monotonic() + patience_s
    while True:
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            if time.monotonic() >= give_up:
                raise
            time.sleep(0.05)


def _write_native(path: Path, doc: dict[str, Any]) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise FeedError(f"the folder {folder} does not exist")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # every laptop must be able to read the feed, unlike mkstemp's 0600
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FeedError(f"cannot write in {folder}: {_describe_os_error(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        _replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FeedError(f"cannot write the feed file {path}: {_describe_os_error(exc)}") from None
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable where the OS allows it
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold `.<name>.lock` beside the feed while reading, changing and renaming it, so two IT
    people writing at once do not lose each other's incidents. A lock file (O_EXCL) rather than
    fcntl/msvcrt locks: it works the same on Windows, macOS and Linux and on SMB/NFS shares."""
    lock = path.parent / f".{path.name}.lock"
    if not path.parent.is_dir():
        raise FeedError(f"the folder {path.parent} does not exist")
    waited_until = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                age = time.time() - lock.stat().st_mtime
            except OSError:
                continue  # released in between: try again at once
            if age > LOCK_ABANDONED_S:
                try:
                    lock.unlink()
                except OSError:
                    pass
                continue
            if time.monotonic() >= waited_until:
                raise FeedError(
                    f"someone else is writing {path} (lock file {lock}); try again, or delete "
                    "the lock file if nobody is"
                ) from None
            time.sleep(0.02)
            continue
        except OSError as exc:
            raise FeedError(f"cannot write in {path.parent}: {_describe_os_error(exc)}") from None
        break
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield
    finally:
        try:
            lock.unlink()
        except OSError:
            pass


def _find(doc: dict[str, Any], incident_id: str, path: Path) -> dict[str, Any]:
    for item in doc["incidents"]:
        if isinstance(item, dict) and item.get("id") == incident_id:
            return item
    raise FeedError(f"no incident with id {incident_id} in {path}")


def _when(value: datetime | str | None, now: datetime) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_next_update(value, now)
    return iso_utc(value)


def _new_id(doc: dict[str, Any], now: datetime) -> str:
    prefix = f"INC-{now.astimezone():%Y%m%d}-"
    taken = [
        int(i["id"][len(prefix):])
        for i in doc["incidents"]
        if isinstance(i, dict) and isinstance(i.get("id"), str) and i["id"].startswith(prefix)
        and i["id"][len(prefix):].isdigit()
    ]
    return f"{prefix}{max(taken, default=0) + 1}"


def post(
    path: str | Path,
    title: str,
    message: str,
    next_update: datetime | str | None = None,
    incident_id: str | None = None,
    affects: Iterable[str] = ("mail",),
    now: datetime | None = None,
) -> str:
    """Add an incident (status investigating) to the native feed at `path`; returns its id."""
    path = Path(path).expanduser()
    now = now or utc_now()
    if not title.strip():
        raise UsageError("the incident needs a title")
    next_at = _when(next_update, now)  # a bad value fails before the lock is taken
    with _locked(path):
        doc = _load_native(path)
        incident_id = (incident_id or "").strip() or _new_id(doc, now)
        if any(isinstance(i, dict) and i.get("id") == incident_id for i in doc["incidents"]):
            raise FeedError(f"an incident with id {incident_id} already exists in {path}")
        stamp = iso_utc(now)
        doc["incidents"].insert(
            0,
            {
                "id": incident_id,
                "title": title.strip(),
                "status": "investigating",
                "message": message.strip(),
                "started_at": stamp,
                "updated_at": stamp,
                "next_update_at": next_at,
                "affects": [a.strip() for a in affects if a.strip()],
            },
        )
        doc["updated_at"] = stamp
        _prune(doc, now)
        _write_native(path, doc)
        return incident_id


def update(
    path: str | Path,
    incident_id: str,
    status: str | None = None,
    message: str | None = None,
    next_update: datetime | str | None = None,
    now: datetime | None = None,
) -> None:
    """Change an incident's status, message or next update time (and its updated_at)."""
    path = Path(path).expanduser()
    now = now or utc_now()
    if status is not None and status not in STATUSES:
        raise UsageError(f"status must be one of {', '.join(STATUSES)}")
    next_at = _when(next_update, now)
    with _locked(path):
        doc = _load_native(path)
        item = _find(doc, incident_id, path)
        if status is not None:
            item["status"] = status
        if message is not None:
            item["message"] = message.strip()
        if next_at is not None:
            item["next_update_at"] = next_at
        if item.get("status") == "resolved":
            item["next_update_at"] = None
        item["updated_at"] = doc["updated_at"] = iso_utc(now)
        _prune(doc, now)
        _write_native(path, doc)


def resolve(
    path: str | Path, incident_id: str, message: str | None = None, now: datetime | None = None
) -> None:
    """Mark an incident resolved; laptops stop showing it at their next read."""
    update(path, incident_id, status="resolved", message=message, now=now)


def create_empty(path: Path | str, now: datetime | None = None) -> Path:
    """An empty native feed where none exists yet, so laptops read "no incidents" until IT posts."""
    path = Path(path)
    if not path.exists():
        with _locked(path):
            if not path.exists():
                _write_native(path, {"schema": 1, "updated_at": iso_utc(now or datetime.now(UTC)), "incidents": []})
    return path
