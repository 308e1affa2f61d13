"""The hub's durable write path: every accepted report and state event goes through one
BatchWriter, which commits what concurrent requests hand in as one transaction per round and
answers each request only after that commit, so an acknowledged report is on disk.

Under `serve` the BatchWriter runs in the background process, beside the grouper, and the
process answering requests hands it rows through a socket pair (RemoteWriter, serve_writer):
the interpreter that parses and answers requests then never runs the database driver, and on
SQLite the writer and the grouper queue for the file's one write lock inside one process
instead of polling for it across two. While that process is away (starting, restarting after
a crash), RemoteWriter commits in its own process instead, so ingest never stops.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.hub import schema as t

if TYPE_CHECKING:
    from app.hub.store import Store

log = logging.getLogger(__name__)


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
    commit: float = 0.0  # time inside the writer's transactions
    elsewhere: int = 0  # rows the background process committed (under serve)

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class _Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING <key> for a batch of rows in one statement,
    sent through the driver: SQLAlchemy's per-row bookkeeping for an executemany cost more than
    the database did. The text is made once per row count; every value goes through its column's
    own SQLAlchemy bind processor, so what is stored is exactly what SQLAlchemy stores elsewhere."""

    def __init__(self, table: Any, columns: list[str], key: tuple[str, ...], dialect: Any) -> None:
        self.columns = columns
        self.processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
        self.key_at = [columns.index(name) for name in key]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.one = "(" + ", ".join([mark] * len(columns)) + ")"
        self.head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
        self.tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(key)}"
        self._text: dict[int, str] = {}

    def run(self, conn: Any, rows: list[dict[str, Any]]) -> list[bool]:
        """Insert the rows (whose keys are distinct); for each, whether it was new."""
        text = self._text.get(len(rows))
        if text is None:
            text = self._text[len(rows)] = self.head + ", ".join([self.one] * len(rows)) + self.tail
        params: list[Any] = []
        keys = []
        for row in rows:
            values = [row[name] if proc is None else proc(row[name])
                      for name, proc in zip(self.columns, self.processors, strict=True)]
            params += values
            keys.append(tuple(_comparable(values[i]) for i in self.key_at))
        stored = {tuple(_comparable(v) for v in r) for r in conn.exec_driver_sql(text, tuple(params))}
        return [key in stored for key in keys]


def _comparable(value: Any) -> Any:
    # PostgreSQL hands back an aware datetime for what went in as one; SQLite the same text
    return value.astimezone(UTC) if isinstance(value, datetime) else value


class BatchWriter:
    """Commits what concurrent requests hand in as one transaction per round; each request is
    answered when its round has committed (durable), with whether its row was new."""

    def __init__(self, store: Store, *, max_batch: int = 1000, on_commit: Any = None,
                 concurrent: int | None = None, timings: Timings | None = None) -> None:
        self.store = store
        self.max_batch = max_batch
        # SQLite has one writer at a time; PostgreSQL commits several transactions at once (and
        # flushes their log together), so a batch need not wait for the one before it
        self.concurrent = concurrent or (1 if store.dialect == "sqlite" else 4)
        self.on_commit = on_commit
        self.timings = timings or Timings()
        self._inserts: dict[str, _Insert] = {}
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False

    where = "this process"

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
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            slots.release()
        self.timings.commit += time.perf_counter() - started
        self.timings.batches += 1
        self.timings.batched_rows += len(batch)
        for item in batch:
            if not item.future.done():
                item.future.set_result(item.new)
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
                insert = self._inserts.get(kind)
                if insert is None:
                    table, key = (t.reports, ("id",)) if kind == "report" else (t.states, ("laptop", "at"))
                    insert = self._inserts[kind] = _Insert(table, list(items[0].row), key, conn.dialect)
                for item, new in zip(items, insert.run(conn, [item.row for item in items]), strict=True):
                    item.new = new


# ---------------------------------------------------------------- the writer in another process

_HEAD = 4  # each frame: its length (4 bytes, big-endian), then a pickle of one message


def _frame(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(_HEAD, "big") + payload


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    size = int.from_bytes(await reader.readexactly(_HEAD), "big")
    return pickle.loads(await reader.readexactly(size))  # noqa: S301 - our own child, over a socket pair


class StoreAway(RuntimeError):
    """The background process could not commit a batch; the message is the database's reason."""


class RemoteWriter:
    """The BatchWriter's interface in the process answering requests, with the writer itself in
    the background process: the rows handed in during one turn of the event loop go over as one
    frame, and each request's answer waits for that process's reply after its commit.

    When the background process goes away, what it had not answered is committed here instead
    (inserts are idempotent, so a row it did commit is found already stored), and so is
    everything after, until the next process attaches."""

    def __init__(self, store: Store) -> None:
        self.timings = Timings()
        self.local = BatchWriter(store, timings=self.timings)
        self._stream: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None
        self._sent: dict[int, tuple[str, dict[str, Any], asyncio.Future]] = {}
        self._outgoing: list[tuple[int, str, dict[str, Any]]] = []
        self._seq = 0
        self._seen = (0, 0, 0.0)  # the attached process's own batch counters, as last reported

    @property
    def where(self) -> str:
        return "background process" if self._stream is not None else "this process"

    def start(self) -> None:
        self.local.start()

    async def attach(self, sock: socket.socket) -> None:
        """Use the background process at the other end of `sock` (called for each new one)."""
        await self._detach()
        reader, stream = await asyncio.open_unix_connection(sock=sock)
        self._stream, self._seen = stream, (0, 0, 0.0)
        self._reading = asyncio.get_running_loop().create_task(self._read(reader, stream), name="hub-writer-replies")

    async def submit(self, kind: str, row: dict[str, Any]) -> bool:
        if self._stream is None:
            return await self.local.submit(kind, row)
        future = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._sent[self._seq] = (kind, row, future)
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._send)
        self._outgoing.append((self._seq, kind, row))
        return await future

    def _send(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self._stream is None or self._stream.is_closing():
            return  # _detach hands these to the local writer
        self._stream.write(_frame(outgoing))

    async def _read(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        try:
            while True:
                message = await _read_frame(reader)
                batches, rows, commit = message["timings"]
                seen = self._seen
                self.timings.batches += batches - seen[0]
                self.timings.batched_rows += rows - seen[1]
                self.timings.commit += commit - seen[2]
                self._seen = (batches, rows, commit)
                for seq, new, error in message["results"]:
                    kind, row, future = self._sent.pop(seq)
                    if future.done():
                        continue
                    if error is None:
                        self.timings.elsewhere += 1
                        future.set_result(new)
                    else:
                        future.set_exception(StoreAway(error))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if self._stream is stream:
                log.warning("the hub's background process stopped taking in rows; this process stores them until it is back")
                self._take_back()

    def _take_back(self) -> None:
        """Hand what the background process had not answered to the local writer."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        pending, self._sent, self._outgoing = self._sent, {}, []
        for kind, row, future in pending.values():
            if not future.done():
                task = asyncio.get_running_loop().create_task(self.local.submit(kind, row))
                task.add_done_callback(lambda done, f=future: _settle(f, done))

    async def _detach(self) -> None:
        reading, self._reading = self._reading, None
        self._take_back()
        if reading is not None:
            reading.cancel()
            try:
                await reading
            except asyncio.CancelledError:
                pass

    async def stop(self) -> None:
        await self._detach()
        await self.local.stop()


def _settle(future: asyncio.Future, done: asyncio.Future) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif done.exception() is not None:
        future.set_exception(done.exception())
    else:
        future.set_result(done.result())


async def serve_writer(sock: socket.socket, writer: BatchWriter) -> None:
    """The background process's side: commit what the requests' process sends, reply with
    whether each row was new (or why the batch failed), until that process closes the socket."""
    reader, stream = await asyncio.open_unix_connection(sock=sock)
    in_flight: set[asyncio.Task] = set()

    async def commit(items: list[tuple[int, str, dict[str, Any]]]) -> None:
        outcomes = await asyncio.gather(*(writer.submit(kind, row) for _, kind, row in items), return_exceptions=True)
        results = [(seq, None, reason(outcome)) if isinstance(outcome, BaseException) else (seq, outcome, None)
                   for (seq, _, _), outcome in zip(items, outcomes, strict=True)]
        timings = writer.timings
        if not stream.is_closing():
            stream.write(_frame({"results": results, "timings": (timings.batches, timings.batched_rows, timings.commit)}))

    try:
        while True:
            items = await _read_frame(reader)
            task = asyncio.get_running_loop().create_task(commit(items))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        if in_flight:  # what was read is committed and answered, even on the way out
            await asyncio.gather(*in_flight, return_exceptions=True)
        stream.close()


def reason(exc: BaseException) -> str:
    """The database's own first line for a failure, scrubbed, for a log line."""
    from app.report.redact import scrub_text

    text = str(getattr(exc, "orig", None) or exc).strip()
    return scrub_text(text.splitlines()[0][:300] if text else type(exc).__name__)
