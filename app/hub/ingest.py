"""Ingest: POST /api/v1/reports and /api/v1/state, validated, bounded, idempotent and durable.

The request path is kept lean (raw ASGI, orjson, a cached token lookup) and every accepted
document goes through one writer, and each is answered only once its row is on disk: under
`serve` the journal (app.hub.journal, loaded into the database by the background process),
embedded a BatchWriter, which commits concurrent requests together in one transaction.
Grouping happens afterwards, in the grouper, from the stored rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from app.diagnosis.model import VERDICTS
from app.hub import bulk
from app.hub import schema as t
from app.hub.clock import utc_now
from app.jsonio import parse_iso

if TYPE_CHECKING:
    from app.hub.app import Hub
    from app.hub.store import Store

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # SPEC: 413 over 1 MB
_LAPTOP = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_WORD = re.compile(r"[a-z_]{1,32}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_NETWORK = re.compile(r"[0-9a-f]{0,32}")


class Invalid(ValueError):
    """The body is not a report / state event; the message says what is wrong, in words."""


# ---------------------------------------------------------------- validation


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be text")
    if len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters")
    return value


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise Invalid(f"{name} must be an ISO 8601 time")
    try:
        return parse_iso(value)
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 time, not {value[:40]!r}") from None


def _verdict(value: Any, name: str) -> str:
    if value not in VERDICTS:
        raise Invalid(f"{name} must be one of {', '.join(VERDICTS)}")
    return value


def _layer(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise Invalid(f"{name} must be a layer name such as server or network")
    return value


def _failing(items: Any, name: str) -> list[dict[str, str]]:
    if not isinstance(items, list) or len(items) > 200:
        raise Invalid(f"{name} must be a list of at most 200 checks")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise Invalid(f"each of {name} must be an object with kind, target and code")
        out.append({k: _text(item.get(k), f"{name}[].{k}", 300) for k in ("kind", "target", "code")})
    return out


def group_key(verdict: str, layer: str, failing: list[dict[str, str]]) -> tuple[str, str]:
    """(key, canonical failing JSON): the fingerprint without the hour (SPEC section 8)."""
    triples = sorted({(f["kind"], f["target"], f["code"]) for f in failing})
    canonical = [{"kind": k, "target": tg, "code": c} for k, tg, c in triples]
    material = orjson.dumps([verdict, layer, [list(x) for x in triples]])
    return hashlib.sha256(material).hexdigest()[:32], orjson.dumps(canonical).decode()


def network_id(gateway: Any, dns_servers: Any) -> str:
    """SPEC section 8: first 12 hex of SHA-256("<gateway>|<DNS servers sorted, comma-separated>")."""
    gw = gateway if isinstance(gateway, str) else ""
    servers = sorted(s for s in dns_servers if isinstance(s, str)) if isinstance(dns_servers, list) else []
    if not gw and not servers:
        return ""
    return hashlib.sha256(f"{gw}|{','.join(servers)}".encode()).hexdigest()[:12]


def decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("the body is not JSON") from None


def parse_report(body: bytes, now: datetime) -> dict[str, Any]:
    """A stored reports row from a SPEC section 5 body; Invalid when it is not a report."""
    return validate_report(decode(body), body, now)


def validate_report(doc: Any, body: bytes, now: datetime) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Invalid("the body must be a JSON object (a MailBeacon report)")
    if doc.get("schema") != 1:
        raise Invalid("schema must be 1")
    report_id = doc.get("id")
    if not isinstance(report_id, str) or not _ID.fullmatch(report_id):
        raise Invalid("id must be the report's id (letters, digits and - only, at most 64)")
    created = _time(doc.get("created_at"), "created_at")
    reporter = doc.get("reporter")
    if not isinstance(reporter, dict):
        raise Invalid("reporter must be an object")
    laptop = reporter.get("laptop")
    if laptop in (None, ""):
        # a laptop from before the hub: its report still counts, as a member of its own
        laptop = "report-" + report_id[:56]
    elif not isinstance(laptop, str) or not _LAPTOP.fullmatch(laptop):
        raise Invalid("reporter.laptop must be the laptop's id (at most 64 letters, digits, - _ . :)")
    diagnosis = doc.get("diagnosis")
    if not isinstance(diagnosis, dict):
        raise Invalid("diagnosis must be an object (the check --json result)")
    verdict = _verdict(diagnosis.get("verdict"), "diagnosis.verdict")
    layer = _layer(diagnosis.get("layer"), "diagnosis.layer")
    checks = diagnosis.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise Invalid("diagnosis.checks must be a list of objects")
    culprits = [c for c in checks if c.get("status") == "fail"] or [c for c in checks if c.get("status") == "warn"]
    failing = _failing([{k: c.get(k) or "" for k in ("kind", "target", "code")} for c in culprits], "diagnosis.checks")
    key, failing_json = group_key(verdict, layer, failing)
    known = doc.get("known_incident")
    if known is not None and not isinstance(known, str | int):
        raise Invalid("known_incident must be an incident id or null")
    network = doc.get("network") if isinstance(doc.get("network"), dict) else {}
    username = reporter.get("email") or reporter.get("username") or ""
    return {
        "id": report_id,
        "laptop": laptop,
        "received_at": now,
        "created_at": created,
        "verdict": verdict,
        "layer": layer,
        "group_key": key,
        "failing": failing_json,
        "headline": _text(diagnosis.get("headline"), "diagnosis.headline", 2000),
        "username": _text(username, "reporter.username", 200),
        "network": network_id(network.get("default_gateway"), network.get("dns_servers")),
        "note": _text(doc.get("note"), "note", 20_000),
        "known_incident": None if known is None else _text(str(known), "known_incident", 200),
        "body": body.decode("utf-8"),
    }


def parse_state(body: bytes, now: datetime) -> dict[str, Any]:
    """A stored states row from a SPEC section 8 state event; Invalid otherwise."""
    return validate_state(decode(body), body, now)


def validate_state(doc: Any, body: bytes, now: datetime) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Invalid("the body must be a JSON object (a state event)")
    if doc.get("schema") != 1:
        raise Invalid("schema must be 1")
    laptop = doc.get("laptop")
    if not isinstance(laptop, str) or not _LAPTOP.fullmatch(laptop):
        raise Invalid("laptop must be the laptop's id (at most 64 letters, digits, - _ . :)")
    verdict = _verdict(doc.get("verdict"), "verdict")
    layer = _layer(doc.get("layer"), "layer")
    failing = _failing(doc.get("failing", []), "failing")
    key, failing_json = group_key(verdict, layer, failing)
    network = _text(doc.get("network"), "network", 32)
    if not _NETWORK.fullmatch(network):
        raise Invalid("network must be the hex network id, or empty")
    return {
        "laptop": laptop,
        "at": _time(doc.get("at"), "at"),
        "received_at": now,
        "verdict": verdict,
        "layer": layer,
        "group_key": key,
        "failing": failing_json,
        "headline": _text(doc.get("headline"), "headline", 2000),
        "network": network,
        "username": _text(doc.get("username"), "username", 200),
        "app_version": _text(doc.get("app_version"), "app_version", 64),
    }


# ---------------------------------------------------------------- the batched writer


@dataclass
class _Pending:
    kind: str  # report | state
    row: dict[str, Any]
    future: asyncio.Future
    new: bool = False


@dataclass
class Timings:
    """Where ingest time goes, summed over requests (seconds); the benchmark prints these."""

    requests: int = 0
    read: float = 0.0
    auth: float = 0.0
    parse: float = 0.0
    validate: float = 0.0
    database: float = 0.0  # wait for the batch's commit, as each request sees it
    respond: float = 0.0
    batches: int = 0
    batched_rows: int = 0
    commit: float = 0.0  # time inside the writer's transactions (the journal: its flushes)
    # batches that took longer than each of SLOW_MS: a disk or database that stalls shows here
    over_ms: dict[str, int] = field(default_factory=lambda: dict.fromkeys(map(str, SLOW_MS), 0))
    longest: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def batch(self, seconds: float, rows: int) -> None:
        self.batches += 1
        self.batched_rows += rows
        self.commit += seconds
        self.longest = max(self.longest, seconds)
        for limit in SLOW_MS:
            if seconds * 1000 > limit:
                self.over_ms[str(limit)] += 1


SLOW_MS = (10, 50, 100, 500, 1000)
SLOW_WARN_S = 1.0  # a batch this slow is logged (at most once per SLOW_WARN_EVERY_S)
SLOW_WARN_EVERY_S = 60.0


TABLES = {"report": (t.reports, ("id",)), "state": (t.states, ("laptop", "at"))}  # kind: table, unique key


class QueuedWriter:
    """What the hub's writers share: each request waits on its row's future for the outcome,
    whether it was new, and the writer answers a whole batch at once (or fails it)."""

    def __init__(self) -> None:
        self.timings = Timings()
        self._closing = False
        self._warned = -SLOW_WARN_EVERY_S

    @staticmethod
    def _failed(batch: list[_Pending], exc: Exception) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)

    def _done(self, batch: list[_Pending], seconds: float, parts: tuple[tuple[str, float], ...] = ()) -> None:
        """The batch is durable after `seconds` (`parts`: where they went): count it, and answer
        each of its requests. One that took SLOW_WARN_S or more is logged: every laptop in it
        waited that long."""
        self.timings.batch(seconds, len(batch))
        if seconds >= SLOW_WARN_S and time.monotonic() - self._warned >= SLOW_WARN_EVERY_S:
            self._warned = time.monotonic()
            detail = " (" + "; ".join(f"{what}: {part:.1f} s" for what, part in parts) + ")" if parts else ""
            log.warning("storing %d reports and state events took %.1f s%s; their laptops waited that long for an "
                        "answer (the next such delay is logged after %d s)", len(batch), seconds, detail,
                        SLOW_WARN_EVERY_S)
        for item in batch:
            if not item.future.done():
                item.future.set_result(item.new)


class BatchWriter(QueuedWriter):
    """Commits what concurrent requests hand in as one transaction per round; each request is
    answered when its round has committed (durable), with whether its row was new."""

    def __init__(self, store: Store, *, max_batch: int = 1000, on_commit: Any = None,
                 concurrent: int | None = None) -> None:
        super().__init__()
        self._queue: list[_Pending] = []  # handed in by requests, for the writer's own task
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.store = store
        self.max_batch = max_batch
        # SQLite has one writer at a time; PostgreSQL commits several transactions at once (and
        # flushes their log together), so a batch need not wait for the one before it
        self.concurrent = concurrent or (1 if store.dialect == "sqlite" else 4)
        self.on_commit = on_commit

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-writer")

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task

    async def submit(self, kind: str, row: dict[str, Any]) -> bool:
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(kind, row, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.concurrent)
        in_flight: set[asyncio.Task] = set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await slots.acquire()  # while every slot commits, the next batch grows
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                task = asyncio.get_running_loop().create_task(self._commit_batch(batch, slots))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if self._closing:
                if in_flight:
                    await asyncio.gather(*in_flight, return_exceptions=True)
                return

    async def _commit_batch(self, batch: list[_Pending], slots: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._commit, batch)
        except Exception as exc:  # the database is down or refused: each request hears it
            self._failed(batch, exc)
            return
        finally:
            slots.release()
        self._done(batch, time.perf_counter() - started)
        if self.on_commit is not None:
            self.on_commit()

    def _commit(self, batch: list[_Pending]) -> None:
        reports: dict[str, _Pending] = {}
        states: dict[tuple[str, datetime], _Pending] = {}
        for item in batch:
            if item.kind == "report":
                reports.setdefault(item.row["id"], item)  # a repeat within the round is not new
            else:
                states.setdefault((item.row["laptop"], item.row["at"]), item)
        with self.store.begin() as conn:
            for kind, items in (("report", list(reports.values())), ("state", list(states.values()))):
                if not items:
                    continue
                table, key = TABLES[kind]
                news = bulk.of(conn.dialect).insert_new(conn, table, list(items[0].row), [item.row for item in items], key)
                for item, new in zip(items, news, strict=True):
                    item.new = new


# ---------------------------------------------------------------- the two endpoints (raw ASGI)


@dataclass
class IngestEndpoint:
    """POST handler for one kind ("report" or "state"), as a bare ASGI app: this is the hot
    path, so it skips the framework's request object and reads the body with a hard cap."""

    kind: str
    hub: Hub
    _validate: Any = field(init=False)

    def __post_init__(self) -> None:
        self._validate = validate_report if self.kind == "report" else validate_state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await self._handle(scope, receive, send)
        except Exception:  # answered before the framework's error handling: never a bare crash
            log.exception("a %s could not be taken in", self.kind)
            with contextlib.suppress(Exception):  # unless the answer had already begun
                await _answer(send, 500, b'{"error":"The hub failed to take this in; try again later."}')

    async def _handle(self, scope: dict, receive: Any, send: Any) -> None:
        timings = self.hub.writer.timings
        t0 = time.perf_counter()
        if scope["method"] != "POST":
            return await _answer(send, 405, b'{"error":"Use POST to send a report or a state event."}', (b"allow", b"POST"))
        authorization = b""
        length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        if length is not None and length > MAX_BODY:
            return await _answer(send, 413, b'{"error":"The body is larger than 1 MB."}')
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await _answer(send, 413, b'{"error":"The body is larger than 1 MB."}')
        t1 = time.perf_counter()
        token = authorization[7:].decode("latin-1").strip() if authorization[:7].lower() == b"bearer " else ""
        info = self.hub.tokens.lookup(token) if token else None
        t2 = time.perf_counter()
        if info is None:
            return await _answer(send, 401, b'{"error":"A valid hub token is needed (Authorization: Bearer ...)."}',
                                 (b"www-authenticate", b'Bearer realm="mailbeacon-hub"'))
        data = bytes(body)
        try:
            doc = decode(data)
            t25 = time.perf_counter()
            row = self._validate(doc, data, utc_now())
        except Invalid as exc:
            return await _answer(send, 400, orjson.dumps({"error": f"This is not a {self.kind}: {exc}."}))
        except UnicodeDecodeError:
            return await _answer(send, 400, orjson.dumps({"error": f"This is not a {self.kind}: the body is not UTF-8."}))
        row["token_id"] = info.id
        t3 = time.perf_counter()
        try:
            new = await self.hub.writer.submit(self.kind, row)
        except Exception as exc:
            log.warning("could not store a %s: %s", self.kind, reason(exc))
            return await _answer(send, 503, b'{"error":"The hub cannot reach its database; try again later."}',
                                 (b"retry-after", b"10"))
        t4 = time.perf_counter()
        ident = row["id"] if self.kind == "report" else f"{row['laptop']}@{row['at'].isoformat()}"
        await _answer(send, 201 if new else 200,
                      orjson.dumps({"id": ident, "stored": "new" if new else "already stored"}))
        t5 = time.perf_counter()
        timings.requests += 1
        timings.read += t1 - t0
        timings.auth += t2 - t1
        timings.parse += t25 - t2
        timings.validate += t3 - t25
        timings.database += t4 - t3
        timings.respond += t5 - t4


def reason(exc: Exception) -> str:
    """The database's (or the disk's) own first line for a failure, scrubbed, for a log line."""
    from app.report.redact import scrub_text

    text = str(getattr(exc, "orig", None) or exc).strip()
    return scrub_text(text.splitlines()[0][:300] if text else type(exc).__name__)


# what SecurityHeaders gives every other API answer (these two bypass the middleware)
_API_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


async def _answer(send: Any, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *_API_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
