"""Starting and stopping the hub's background work inside the server process."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.hub.app import Hub

log = logging.getLogger(__name__)


async def start(hub: Hub, *, background: bool = True) -> None:
    hub.extra["revision"] = hub.store.revision()


async def stop(hub: Hub) -> None:
    for worker in reversed(hub.workers):
        await worker.stop()
    hub.workers.clear()
