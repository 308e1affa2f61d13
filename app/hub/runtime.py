"""The hub's background work: the writer (in the process that answers requests), the journal's
loader, the grouper loop (grouping, notification scheduling, retention) and the notification
sender; plus the feed cache.

`serve` writes each request's row to its journal and runs the loader, the grouper and the
sender in a child process of their own (BackgroundProcess), so loading and grouping a burst of
events never compete with answering the next requests for one interpreter's lock; the child is
restarted if it dies and ends with its parent. Embedded uses (tests, the demo's in-process
variant) keep everything in one process with `background=True`, committing through a BatchWriter.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from app.hub.clock import utc_now
from app.hub.ingest import reason

if TYPE_CHECKING:
    from app.hub.app import Hub
    from app.hub.store import Store

log = logging.getLogger(__name__)

GROUPER_EVERY_S = 0.25  # bounds how late a due notification is queued
# while events keep coming, a pass starts at most this often: a pass has a fixed cost (about ten
# round trips to the database, 7 ms on SQLite and 17 ms on PostgreSQL here), so a pass for every
# load of the journal (every 50 ms) spent a third of a core on it; a full batch goes at once
GROUPER_GAP_S = 0.2
CHECK_EVERY_S = 0.05  # the shortest sleep of the grouper's loop
RETENTION_EVERY_S = 3600.0
CHECKPOINT_EVERY_S = 1.0  # SQLite: the write-ahead log is copied back by the grouper, not by requests;
# PostgreSQL: the statistics of tables that grew are made again (Store.analyze_grown)


class FeedCache:
    """The feed's bytes, rebuilt when an incident changes (here or in another process: a cheap
    version query at most once a second) — every tray reads it every feed interval."""

    def __init__(self, store: Store, max_age_s: float = 1.0) -> None:
        self.store, self.max_age_s = store, max_age_s
        self._lock = threading.Lock()
        self._value: tuple[bytes, str, Any] | None = None
        self._version: Any = None
        self._checked = 0.0

    def invalidate(self) -> None:
        with self._lock:
            self._value = None

    def get(self) -> tuple[bytes, str, Any]:
        from app.hub import incidents

        with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._checked < self.max_age_s:
                return self._value
            version = incidents.feed_version(self.store)
            if self._value is None or version != self._version or now - self._checked > 60:
                self._value = incidents.feed_document(self.store)
                self._version = version
            self._checked = now
            return self._value


class Grouper:
    """Runs grouping passes every GROUPER_EVERY_S (sooner when woken) for new events and the timers
    (group_wait_s, group_interval_s, the report-only hour). One process at a time does a pass.
    Under `serve`, the journal's loader runs most passes itself (pass_now with the rows it
    loads); a pass of either kind puts the next timer pass off."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._pruned = 0.0
        self._checkpointed = 0.0
        self._pass_lock = threading.Lock()  # the loop's passes and the loader's, one at a time
        self.last_pass_at = 0.0
        self.passes = 0
        from app.hub.grouping import Pacing

        self.pacing = Pacing()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-grouper")

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        if self._task:
            await self._task

    def pass_now(self, incoming: dict[str, list[dict[str, Any]]] | None = None) -> Any:
        """One pass, in a worker thread; `incoming`: rows to store grouped (grouping.run_pass).
        Hand its result to settle() on the event loop."""
        from app.hub import grouping

        with self._pass_lock:
            self.last_pass_at = time.monotonic()
            try:
                return grouping.run_pass(self.hub.store, self.hub.settings, utc_now(), self.pacing, incoming)
            except Exception:
                self.pacing.recount_all = True  # what the failed pass deferred is not lost
                self.pacing.expired_at = None
                raise

    def settle(self, result: Any) -> None:
        self.passes += 1
        if result.queued:
            self.hub.wake_sender()
        if result.touched:
            self.hub.feed_cache.invalidate()

    async def _run(self) -> None:
        from app.hub import retention

        while not self._stopping:
            more = busy = False
            started = time.monotonic()
            if self.wake.is_set() or started - self.last_pass_at >= GROUPER_EVERY_S:
                self.wake.clear()  # a wake from now on means another pass
                try:
                    result = await asyncio.to_thread(self.pass_now)
                    self.settle(result)
                    more, busy = result.more, result.events > 0
                except Exception as exc:  # the database is away: keep trying, say so once per pass
                    log.warning("grouping pass failed: %s", reason(exc))
                    log.debug("grouping pass failed", exc_info=True)
            try:
                if time.monotonic() - self._checkpointed > CHECKPOINT_EVERY_S:
                    self._checkpointed = time.monotonic()
                    await asyncio.to_thread(self.hub.store.checkpoint)
                    await asyncio.to_thread(self.hub.store.analyze_grown)
                if time.monotonic() - self._pruned > RETENTION_EVERY_S:
                    self._pruned = time.monotonic()
                    await asyncio.to_thread(retention.prune, self.hub.store, self.hub.settings, utc_now())
            except Exception as exc:
                log.warning("database upkeep failed: %s", reason(exc))
            if more:
                continue
            if busy and not self._stopping:  # more is on its way: let it gather into one pass
                await asyncio.sleep(max(0.0, started + GROUPER_GAP_S - time.monotonic()))
            if not self.wake.is_set():  # a wake during the pass or the gap means: at once
                due = self.last_pass_at + GROUPER_EVERY_S - time.monotonic()
                try:
                    await asyncio.wait_for(self.wake.wait(), max(due, CHECK_EVERY_S))
                except TimeoutError:
                    pass


async def start(hub: Hub, *, background: bool | BackgroundProcess = True) -> None:
    from app.hub import journal
    from app.hub.ingest import BatchWriter

    hub.extra["revision"] = hub.store.revision()
    # the grouper is not woken by every commit: on SQLite its pass and the writer share one
    # write lock, and a pass per commit would halve ingest; GROUPER_EVERY_S bounds the delay
    if isinstance(background, BackgroundProcess) and journal.supported():
        # serve: rows are acknowledged once in the journal; the background process loads them
        hub.writer = journal.JournalWriter(hub.store, journal.folder_of(hub.settings.data_dir))
    else:
        hub.writer = BatchWriter(hub.store)
    hub.writer.start()
    hub.workers.append(hub.writer)
    if isinstance(background, BackgroundProcess):
        background.start()
        hub.workers.append(background)
        freeze_startup_objects()
    elif background:
        from app.hub.notify import Sender

        hub.grouper = Grouper(hub)
        hub.sender = Sender(hub)
        hub.grouper.start()
        hub.sender.start()
        hub.workers += [hub.grouper, hub.sender]


def freeze_startup_objects() -> None:
    """What starting made (modules, the app, SQLAlchemy's tables and cached statements) lives as
    long as the process: out of the garbage collector's reach, a full collection, which stopped
    every request for 98 ms under load, takes 4 ms."""
    import gc

    gc.collect()
    gc.freeze()


async def stop(hub: Hub) -> None:
    for worker in reversed(hub.workers):
        await worker.stop()
    hub.workers.clear()
    hub.grouper = hub.sender = None


# ---------------------------------------------------------------- the background process

RESTART_AFTER_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # a child that keeps dying is restarted ever more slowly


def _background_main(settings: Any, verbose: int, parent: int) -> None:
    """The child: grouper and sender on their own event loop until SIGTERM or the parent is gone."""
    from app import cli
    from app.hub import accounts, journal
    from app.hub.app import Hub
    from app.hub.store import Store

    cli.setup_logging(verbose, to_file=False)
    os.umask(0o077)
    # every loop here retries a failed step, so no ping (a round trip) before each transaction
    store = Store(settings.database_url, ping=False)
    hub = Hub(settings=settings, store=store, tokens=accounts.TokenCache(store))
    hub.feed_cache = FeedCache(store)

    async def run() -> None:
        from app.hub.notify import Sender

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        hub.grouper, hub.sender = Grouper(hub), Sender(hub)
        hub.grouper.start()
        hub.sender.start()
        freeze_startup_objects()
        loading = loop.create_task(_load_journal(hub, parent, stop), name="hub-journal-loader") \
            if journal.supported() else None
        while not stop.is_set() and os.getppid() == parent:
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        stop.set()
        if loading is not None:
            await loading
        await hub.grouper.stop()
        await hub.sender.stop()

    try:
        asyncio.run(run())
    finally:
        store.dispose()


LOAD_EVERY_S = 0.05  # how long the journal waits at most before it is loaded


async def _load_journal(hub: Hub, owner: int, stop: asyncio.Event) -> None:
    """Load the journal of `serve` (process `owner`) into the database, grouping what it loads
    in the same transaction; at the end, what the journal holds is loaded before the process ends."""
    from app.hub import journal

    passes: list[Any] = []  # the loader's passes, settled here on the event loop
    loader = journal.Loader(hub.store, journal.folder_of(hub.settings.data_dir), owner,
                            store_rows=lambda rows: passes.append(hub.grouper.pass_now(rows)))
    try:
        await _loading(hub, loader, stop, passes)
    finally:
        loader.close()


async def _loading(hub: Hub, loader: Any, stop: asyncio.Event, passes: list[Any]) -> None:
    from app.hub import journal

    failing = False
    while True:
        started = time.monotonic()
        try:
            rows = await asyncio.to_thread(loader.run_once)
            if failing:
                log.warning("the journal is being loaded into the database again")
            failing = False
        except Exception as exc:  # the database is away: the journal keeps every row meanwhile
            if not failing:
                log.warning("cannot load the journal into the database: %s", reason(exc))
            failing, rows = True, 0
        while passes:
            result = passes.pop(0)
            hub.grouper.settle(result)
            if not result.locked:  # another process was grouping: stored for the next pass
                hub.wake_grouper()
        if rows >= journal.LOAD_MAX_ROWS:
            continue  # a backlog: on at once
        if stop.is_set():
            if rows:
                continue
            return
        # while rows keep coming, a load (and its grouping pass) at most every GROUPER_GAP_S
        wait = started + GROUPER_GAP_S - time.monotonic() if rows else (1.0 if failing else LOAD_EVERY_S)
        try:
            await asyncio.wait_for(stop.wait(), max(wait, 0.0))
        except TimeoutError:
            pass


class BackgroundProcess:
    """Starts the grouper and sender child, restarts it when it dies, stops it with the app."""

    def __init__(self, settings: Any, verbose: int = 0) -> None:
        self.settings, self.verbose = settings, verbose
        self.process: Any = None
        self.restarts = 0
        self._task: asyncio.Task | None = None
        self._stopping = False

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, not a fork of the loop
        self.process = context.Process(target=_background_main, name="mailbeacon-hub-background",
                                       args=(self.settings, self.verbose, os.getpid()), daemon=True)
        self.process.start()

    def start(self) -> None:
        self._spawn()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="hub-background-watch")

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.5)
            if self._stopping or self.process.is_alive():
                continue
            wait = RESTART_AFTER_S[min(self.restarts, len(RESTART_AFTER_S) - 1)]
            log.warning("the hub's grouping and notification process ended (exit status %s); starting it again in %g s",
                        self.process.exitcode, wait)
            self.restarts += 1
            await asyncio.sleep(wait)
            if not self._stopping:
                self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            await asyncio.to_thread(self.process.join, 20)
            if self.process.is_alive():
                self.process.kill()
