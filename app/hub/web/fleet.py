"""The fleet counts of the overview (laptops seen in 24 h, by verdict and network), kept fresh by
one background thread per `serve` process: counting 100,000 laptops takes a noticeable fraction
of a second, so no page waits for it, and it counts again as often as its cost allows. The thread starts and stops with the app (its lifespan)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.hub.clock import utc_now

log = logging.getLogger(__name__)

# counting again as often as its cost allows: at most ~5 % of one core (20x the last count's
# time), never more often than every 2 s nor less often than every minute
MIN_REFRESH_S, MAX_REFRESH_S, COST_FACTOR = 2.0, 60.0, 20.0


class FleetCounts:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.last_cost_s = 0.0
        self._value: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.counted = 0

    @property
    def value(self) -> dict[str, Any] | None:
        """The newest counts, or None until the first count after start-up is done."""
        with self._lock:
            return self._value

    def count_now(self) -> dict[str, Any]:
        from app.hub.web import queries

        started = time.monotonic()
        with self.store.read() as conn:
            value = queries.fleet(conn, utc_now())
        self.last_cost_s = time.monotonic() - started
        with self._lock:
            self._value = value
            self.counted += 1
        return value

    def next_wait_s(self) -> float:
        return min(MAX_REFRESH_S, max(MIN_REFRESH_S, self.last_cost_s * COST_FACTOR))

    def refresh_soon(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hub-fleet-counts", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.count_now()
            except Exception:  # the database restarting: keep the last counts, try again later
                log.warning("could not count the fleet", exc_info=True)
            self._wake.wait(self.next_wait_s())
            self._wake.clear()


def counts_for(hub: Any) -> FleetCounts:
    counts = hub.extra.get("web_fleet")
    if counts is None:
        counts = hub.extra["web_fleet"] = FleetCounts(hub.store)
    return counts


class FleetLifespan:
    """ASGI middleware that starts the counting thread when the app starts and stops it when
    the app stops (Starlette passes lifespan events through the middleware stack)."""

    def __init__(self, app: ASGIApp, hub: Any) -> None:
        self.app, self.hub = app, hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                counts_for(self.hub).start()
            elif message["type"] == "lifespan.shutdown":
                counts_for(self.hub).stop()
            return message

        await self.app(scope, watched_receive, send)
