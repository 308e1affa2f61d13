"""The hub's journal: what ingest accepted, on disk before the laptop hears "stored".

`serve` answers a report or state event once its row is in this process's journal file and
that file is flushed to disk: one fdatasync for all the requests that arrived while the flush
before it ran. The background process loads the journal into the database in large batches,
each grouped as it is stored (one transaction: grouping.run_pass with the rows). Inserts are
idempotent (the report's id, the state's laptop and time), so a row loaded twice after a crash
is still stored once.

Why: a database commit costs several milliseconds and, on SQLite, waits for the grouper's
transaction, and every request waited for one. Appending to a file the hub owns costs a fraction of
a millisecond and waits for nobody, while the database is filled in batches of hundreds of rows.

Files (in `<data>/journal/`, private to the hub's user):
  * `<ns>-<pid>.journal`: records of `length (4 bytes) crc32 (4 bytes) JSON [kind, row]`. The
    process writing one holds an exclusive flock on it for as long as it writes; it starts a
    new file every ROTATE_BYTES. A file nobody holds (rotated, or its process died) is
    finished: a loader takes the lock, loads the rest and deletes it. A record cut short by a
    crash was never acknowledged, and is dropped.
  * `<name>.loaded`: how far that file is in the database (a byte offset and its crc32),
    overwritten in place after each load's commit. Lost, stale or unreadable, the next load
    repeats rows the database already has, which changes nothing.

Whether a row is new (201) or already stored (200) is answered from the database and from the
keys this process journaled in the last RECENT_S seconds (the loader is normally a fraction of a
second behind). Across several `serve` processes, a repeat sent to another process before the
first copy is loaded may be answered as new; it is still stored once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import time
import zlib
from collections import OrderedDict, deque
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from app.hub import bulk
from app.hub import schema as t
from app.hub.bulk import comparable
from app.hub.grouping import chunks
from app.hub.ingest import TABLES, QueuedWriter, _Pending, reason

if TYPE_CHECKING:
    from app.hub.store import Store

log = logging.getLogger(__name__)

ROTATE_BYTES = 32 * 1024 * 1024
RECENT_S = 120.0
LOAD_MAX_BYTES = 16 * 1024 * 1024  # read per file per load (a record is at most about 7 MB)
LOAD_MAX_ROWS = 5000  # rows per load
LOAD_BATCH = 1000  # rows per transaction (under `serve` also a grouping pass)
_HEAD = struct.Struct(">II")  # payload length, crc32 of the payload
_TIMES = {"report": ("received_at", "created_at"), "state": ("at", "received_at")}
_SUFFIX = ".journal"


def supported() -> bool:
    """The journal needs POSIX file locks (Linux, macOS); elsewhere serve commits each batch."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def folder_of(data_dir: Path) -> Path:
    return Path(data_dir) / "journal"


def key_of(kind: str, row: dict[str, Any]) -> tuple:
    return (kind, row["id"]) if kind == "report" else (kind, row["laptop"], row["at"])


def encode(kind: str, row: dict[str, Any]) -> bytes:
    payload = orjson.dumps([kind, row])
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def decode(data: bytes, limit: int | None = None) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """The whole records at the start of `data` (at most `limit`), and how many bytes they took;
    stops at a record that is cut short or does not match its checksum (being written, or torn
    by a crash)."""
    records: list[tuple[str, dict[str, Any]]] = []
    at = 0
    view = memoryview(data)
    while at + _HEAD.size <= len(data) and (limit is None or len(records) < limit):
        size, crc = _HEAD.unpack_from(data, at)
        end = at + _HEAD.size + size
        if end > len(data):
            break
        payload = view[at + _HEAD.size : end]
        if zlib.crc32(payload) != crc:
            break
        kind, row = orjson.loads(payload)
        for name in _TIMES[kind]:
            row[name] = datetime.fromisoformat(row[name])
        records.append((kind, row))
        at = end
    return records, at


def _lock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _offset_file(path: Path) -> Path:
    return path.with_name(path.name + ".loaded")


_OFFSET = struct.Struct(">QI")  # offset, crc32 of its 8 bytes: a torn or foreign file reads as 0


def loaded_offset(path: Path) -> int:
    try:
        data = _offset_file(path).read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) != _OFFSET.size:
        return 0
    offset, crc = _OFFSET.unpack(data)
    return offset if zlib.crc32(data[:8]) == crc else 0


def backlog(folder: Path) -> int:
    """Journaled bytes not yet in the database, over every journal file in `folder`."""
    total = 0
    for path in folder.glob("*" + _SUFFIX):
        try:
            total += max(0, path.stat().st_size - loaded_offset(path))
        except FileNotFoundError:
            pass
    return total


# ---------------------------------------------------------------- the writing side


class JournalFile:
    """This process's current journal file: appended to, flushed, locked, rotated."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.fd = -1
        self.size = 0
        self._open_new()

    def _open_new(self) -> None:
        path = self.folder / f"{time.time_ns():020d}-{os.getpid()}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)  # not inherited (PEP 446)
        if not _lock(fd):  # a name nobody else can have; the lock is what says "still being written"
            os.close(fd)
            raise RuntimeError(f"cannot lock the new journal file {path}")
        _sync_folder(self.folder)  # the file itself survives a crash, not only its contents
        old, self.fd, self.path, self.size = self.fd, fd, path, 0
        if old >= 0:
            os.close(old)  # lets go of its lock: a loader finishes it

    def append(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        os.fdatasync(self.fd) if hasattr(os, "fdatasync") else os.fsync(self.fd)
        self.size += len(chunk)
        if self.size >= ROTATE_BYTES:
            self._open_new()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class JournalWriter(QueuedWriter):
    """What IngestEndpoint hands its rows to under `serve` (in place of ingest.BatchWriter): each
    row is answered once it is in the journal on disk, with whether it was new.

    The flushes run back to back on a thread of their own: as soon as one is on disk, the rows
    that arrived meanwhile are written, without waiting for the event loop (busy with other
    requests) to answer the first ones and hand the next batch over. The loop only queues rows
    and, once told, answers them."""

    def __init__(self, store: Store, folder: Path, *, recent_s: float = RECENT_S) -> None:
        super().__init__()
        self.store, self.folder, self.recent_s = store, folder, recent_s
        self.file: JournalFile | None = None
        self._recent: OrderedDict[tuple, float] = OrderedDict()  # journaled keys, oldest first
        self._database_away = False
        self._known = _Known(store)
        self._waiting: deque[_Pending] = deque()  # from the loop to the flusher
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.file = JournalFile(self.folder)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._flusher, name="hub-journal", daemon=True)
        self._thread.start()

    async def stop(self, *, keep: bool = False) -> None:
        """Flush what is queued and stop; the file is removed if all of it is in the database
        (`keep`: left as it is, for a loader to finish)."""
        self._closing = True
        self._ready.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            await asyncio.sleep(0)  # the last batch's answers, already queued on the loop
        self._known.close()
        if self.file is not None:
            self.file.close()
            if not keep and loaded_offset(self.file.path) >= self.file.size:  # all in the database
                for done in (self.file.path, _offset_file(self.file.path)):
                    done.unlink(missing_ok=True)

    async def submit(self, kind: str, row: dict[str, Any]) -> bool:
        if key_of(kind, row) in self._recent:
            return False
        future = self._loop.create_future()
        self._waiting.append(_Pending(kind, row, future))
        if not self._ready.is_set():
            self._ready.set()
        return await future

    def _flusher(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()  # a row queued from here on sets it again
            while self._waiting:
                batch = [self._waiting.popleft() for _ in range(len(self._waiting))]
                started = time.perf_counter()
                try:
                    asked = self._write(batch)
                except Exception as exc:  # the disk is full or gone: each request hears it
                    log.warning("could not write to the journal: %s", reason(exc))
                    self._answer(self._failed, batch, exc)
                    continue
                took = time.perf_counter() - started
                self._answer(self._done, batch, took, (("asking the database which were new", asked),
                                                       ("writing them to the journal on disk", took - asked)))
            if self._closing:
                return

    def _answer(self, how: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(how, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _write(self, batch: list[_Pending]) -> float:
        """Journal the batch's new rows; the seconds the database took to say which are new."""
        unique: dict[tuple, _Pending] = {}
        for item in batch:
            key = key_of(item.kind, item.row)
            if key not in self._recent:
                unique.setdefault(key, item)  # a repeat within the turn is not new
        # asked before the write: the loader may store a row as soon as it is written, and the
        # answer would then count this very flush's rows as stored before
        started = time.perf_counter()
        known = self._stored(unique) if unique else set()
        asked = time.perf_counter() - started
        fresh = [(key, item) for key, item in unique.items() if key not in known]
        if fresh:
            self.file.append(b"".join(encode(item.kind, item.row) for _, item in fresh))
        now = time.monotonic()
        for key, item in unique.items():
            item.new = key not in known
            self._recent[key] = now
        while self._recent and next(iter(self._recent.values())) < now - self.recent_s:
            self._recent.popitem(last=False)
        return asked

    def _stored(self, unique: dict[tuple, _Pending]) -> set[tuple]:
        """The keys the database already has. While it is away, none: the journal holds the rows
        until the loader reaches it again, and a repeat is then stored once all the same."""
        try:
            known = self._known(unique)
        except Exception as exc:
            if not self._database_away:
                log.warning("the database cannot be read (%s); reports and states are kept in the journal until it is back",
                            reason(exc))
            self._database_away = True
            return set()
        if self._database_away:
            log.warning("the database can be read again")
            self._database_away = False
        return known


class _Known:
    """Which of a flush's keys the database already has, asked on a driver connection of its own
    kept open in autocommit: one round trip per kind and flush, without the pool's check-out,
    ping, BEGIN and ROLLBACK around it (four round trips on PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._fairy: Any = None
        self._bulk = bulk.of(store.engine.dialect)
        self._at = self._bulk.processor(t.states.c.at)

    def __call__(self, unique: dict[tuple, Any]) -> set[tuple]:
        ids = [key[1] for key in unique if key[0] == "report"]
        states = [(key[1], key[2]) for key in unique if key[0] == "state"]
        try:
            cursor = self._cursor()
            known: set[tuple] = set()
            among, params = self._bulk.among_text, self._bulk.among_params
            for chunk in chunks(ids):
                cursor.execute(f"SELECT id FROM reports WHERE id {among(len(chunk), 'text')}", params(chunk))
                known.update(("report", row[0]) for row in cursor.fetchall())
            if states:
                sent = {(laptop, comparable(self._at(at) if self._at else at)): at for laptop, at in states}
                for chunk in chunks(sorted({laptop for laptop, _ in states})):
                    these = set(chunk)
                    times = sorted({stored for (laptop, stored) in sent if laptop in these}, key=str)
                    cursor.execute(f"SELECT laptop, at FROM states WHERE laptop {among(len(chunk), 'text')} "
                                   f"AND at {among(len(times), 'timestamptz')}", params(chunk) + params(times))
                    for laptop, at in cursor.fetchall():
                        original = sent.get((laptop, comparable(at)))
                        if original is not None:
                            known.add(("state", laptop, original))
            cursor.close()
            return known
        except Exception:
            self.close()  # a broken connection is not used again; the next flush opens another
            raise

    def _cursor(self) -> Any:
        if self._fairy is None:
            self._fairy = self.store.engine.raw_connection()
            driver = self._fairy.dbapi_connection
            if hasattr(driver, "autocommit"):  # psycopg: no transaction left open between flushes
                driver.autocommit = True
        return self._fairy.cursor()

    def close(self) -> None:
        if self._fairy is not None:
            try:
                self._fairy.invalidate()  # not back to the pool in autocommit
            except Exception:  # noqa: S110 - it is being thrown away
                pass
            self._fairy = None


# ---------------------------------------------------------------- the loading side


class Loader:
    """Loads journal files into the database: those of the process `owner` (the `serve` process
    this loader's process belongs to) as they grow, and any file nobody holds (finished)."""

    def __init__(self, store: Store, folder: Path, owner: int, *, store_rows: Any = None) -> None:
        """store_rows: what stores a batch (rows by kind, each key once) in place of a plain
        insert: under `serve`, the grouper's pass, which stores them grouped."""
        self.store, self.folder, self.owner, self.store_rows = store, folder, owner, store_rows
        self._offsets: dict[Path, int] = {}
        self._offset_fds: dict[Path, int] = {}

    def run_once(self) -> int:
        """Load what is waiting, up to LOAD_MAX_ROWS rows; how many rows were loaded."""
        rows = 0
        for path in sorted(self.folder.glob("*" + _SUFFIX)):
            if rows >= LOAD_MAX_ROWS:
                break
            mine = path.name.endswith(f"-{self.owner}{_SUFFIX}")
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                finished = _lock(fd)
                if not finished and not mine:
                    continue  # another process's live journal: its own loader takes it
                rows += self._load(path, fd, finished)
            finally:
                os.close(fd)
        return rows

    def _load(self, path: Path, fd: int, finished: bool) -> int:
        offset = self._offsets.get(path)
        if offset is None:
            offset = loaded_offset(path)
        size = os.fstat(fd).st_size
        rows = 0
        while offset < size and rows < LOAD_MAX_ROWS:
            data = os.pread(fd, min(LOAD_MAX_BYTES, size - offset), offset)
            records, used = decode(data, LOAD_BATCH)
            if not records:
                break  # a record still being written (or, in a finished file, torn by a crash)
            self._insert(records)
            offset += used
            rows += len(records)
            self._write_offset(path, offset)
        self._offsets[path] = offset
        if finished and (offset >= size or rows < LOAD_MAX_ROWS):
            # every whole record is in: the rest, if any, was cut short and never acknowledged
            if offset < size:
                log.warning("a journal ended with %d bytes of an unfinished record (never acknowledged): %s",
                            size - offset, path.name)
            self._forget(path)
            for leftover in (path, _offset_file(path)):
                leftover.unlink(missing_ok=True)
        return rows

    def _write_offset(self, path: Path, offset: int) -> None:
        """Overwrite the file's offset in place: one write on a file kept open (creating and
        renaming a new file after every load cost more than the load's own statement)."""
        fd = self._offset_fds.get(path)
        if fd is None:
            fd = self._offset_fds[path] = os.open(_offset_file(path), os.O_WRONLY | os.O_CREAT, 0o600)
        os.pwrite(fd, _OFFSET.pack(offset, zlib.crc32(struct.pack(">Q", offset))), 0)

    def _forget(self, path: Path) -> None:
        self._offsets.pop(path, None)
        fd = self._offset_fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for path in list(self._offset_fds):
            self._forget(path)

    def _insert(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        by_kind: dict[str, dict[tuple, dict[str, Any]]] = {"report": {}, "state": {}}
        for kind, row in records:
            by_kind[kind].setdefault(key_of(kind, row), row)
        if self.store_rows is not None:
            self.store_rows({kind: list(rows.values()) for kind, rows in by_kind.items()})
            return
        with self.store.begin() as conn:
            for kind, rows in by_kind.items():
                if rows:  # a row already stored (a repeat the writer could not know of) is skipped
                    columns = list(next(iter(rows.values())))
                    bulk.of(conn.dialect).insert(conn, TABLES[kind][0], columns, list(rows.values()), skip_existing=True)
