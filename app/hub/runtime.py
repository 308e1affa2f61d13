"""The hub's background work inside a `serve` process: the batched writer, the grouper loop
(grouping, notification scheduling, retention) and the notification sender; plus the feed cache.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from app.hub.clock import utc_now
from app.report.redact import scrub_text

if TYPE_CHECKING:
    from app.hub.app import Hub
    from app.hub.store import Store

log = logging.getLogger(__name__)

GROUPER_EVERY_S = 0.25  # bounds how late a due notification is queued
RETENTION_EVERY_S = 3600.0


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
    (group_wait_s, group_interval_s, the report-only hour). One process at a time does a pass."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._pruned = 0.0
        self.passes = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-grouper")

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        from app.hub import grouping, retention

        while not self._stopping:
            more = False
            try:
                result = await asyncio.to_thread(grouping.run_pass, self.hub.store, self.hub.settings, utc_now())
                self.passes += 1
                more = result.more
                if result.queued:
                    self.hub.wake_sender()
                if result.touched:
                    self.hub.feed_cache.invalidate()
                if time.monotonic() - self._pruned > RETENTION_EVERY_S:
                    self._pruned = time.monotonic()
                    await asyncio.to_thread(retention.prune, self.hub.store, self.hub.settings, utc_now())
            except Exception as exc:  # the database is away: keep trying, say so once per pass
                log.warning("grouping pass failed: %s", scrub_text(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__))
                log.debug("grouping pass failed", exc_info=True)
            if more:
                continue
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), GROUPER_EVERY_S)
            except TimeoutError:
                pass


async def start(hub: Hub, *, background: bool = True) -> None:
    from app.hub.ingest import BatchWriter

    hub.extra["revision"] = hub.store.revision()
    # the grouper is not woken by every commit: on SQLite its pass and the writer share one
    # write lock, and a pass per commit would halve ingest; GROUPER_EVERY_S bounds the delay
    hub.writer = BatchWriter(hub.store)
    hub.writer.start()
    hub.workers.append(hub.writer)
    if background:
        from app.hub.notify import Sender

        hub.grouper = Grouper(hub)
        hub.sender = Sender(hub)
        hub.grouper.start()
        hub.sender.start()
        hub.workers += [hub.grouper, hub.sender]


async def stop(hub: Hub) -> None:
    for worker in reversed(hub.workers):
        await worker.stop()
    hub.workers.clear()
    hub.grouper = hub.sender = None
