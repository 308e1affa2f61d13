"""Notifications to IT from the hub's durable outbox (the `notifications` table).

Queuing happens inside the grouper's locked pass, so a due notification is queued once. Sending
happens in every `serve` process: a row is claimed in a short transaction (PostgreSQL: FOR UPDATE
SKIP LOCKED, so two processes never claim the same row; SQLite: its single writer), sent through
the project's channel code outside any transaction, then marked sent. A claim older than
CLAIM_TTL (its process died mid-send) is taken again, so nothing is lost across a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, and_, insert, literal, or_, select, update

from app.hub import messages, queries
from app.hub import schema as t
from app.hub.clock import utc_now
from app.report.redact import scrub_text

if TYPE_CHECKING:
    from app.hub.app import Hub
    from app.hub.settings import HubSettings

log = logging.getLogger(__name__)

CLAIM_TTL = timedelta(seconds=120)  # longer than one send can take (channels bound it at 45 s)
MAX_ATTEMPTS = 40
CLAIM_BATCH = 20


def channel_names(settings: HubSettings) -> list[str]:
    n = settings.notify
    names = []
    if n.get("webhook_url"):
        names.append("webhook")
    if n.get("teams_url"):
        names.append("teams")
    if n.get("slack_url"):
        names.append("slack")
    if n.get("email_to") and n.get("relay"):
        names.append("email")
    return names


def _enqueue(conn: Connection, settings: HubSettings, group_id: int, event: str, now: datetime) -> int:
    names = channel_names(settings)
    if not names:
        return 0
    group = queries.group_object(conn, group_id)
    payload = orjson.dumps(group).decode()
    conn.execute(insert(t.notifications), [
        {"group_id": group_id, "event": event, "channel": name, "payload": payload, "created_at": now,
         "due_at": now, "state": "pending", "attempts": 0, "last_error": ""}
        for name in names
    ])
    return len(names)


def schedule(conn: Connection, settings: HubSettings, now: datetime) -> int:
    """Queue every opened/grew notification that is due; called under the grouper lock."""
    g = t.groups.c
    wait = timedelta(seconds=settings.group_wait_s)
    interval = timedelta(seconds=settings.group_interval_s)
    due = conn.execute(
        select(g.id, g.notified_at, g.laptops).where(
            g.state == "open",
            g.laptops > 0,
            or_(
                and_(g.notified_at.is_(None), g.first_at <= now - wait),
                and_(g.notified_at.is_not(None), g.laptops > g.notified_laptops, g.notified_at <= now - interval),
            ),
        )
    ).all()
    queued = 0
    for row in due:
        event = "opened" if row.notified_at is None else "grew"
        queued += _enqueue(conn, settings, row.id, event, now)
        conn.execute(update(t.groups).where(g.id == row.id).values(notified_at=now, notified_laptops=row.laptops))
    return queued


def queue_resolved(conn: Connection, settings: HubSettings, group_id: int, now: datetime) -> int:
    """The group closed: tell IT, if IT was told it opened (an outage over before anyone was
    told stays quiet, as in Alertmanager)."""
    notified = conn.execute(select(t.groups.c.notified_at).where(t.groups.c.id == group_id)).scalar()
    if notified is None:
        return 0
    return _enqueue(conn, settings, group_id, "resolved", now)


# ---------------------------------------------------------------- sending


class Sender:
    """Claims due notifications and sends them; one per `serve` process."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.id = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"[:64]
        self.wake = asyncio.Event()
        self._stop = threading.Event()
        self._task: asyncio.Task | None = None
        self._channels: dict[str, Any] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hub-sender")

    async def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = await asyncio.to_thread(self.send_due)
            except Exception as exc:  # the database went away: try again shortly
                log.warning("notification sender: %s", scrub_text(str(exc).splitlines()[0][:300]))
                sent = 0
            if not sent:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 0.5)
                except TimeoutError:
                    pass

    def channels(self) -> dict[str, Any]:
        if self._channels is None:
            from app.report import channels

            self._channels = channels.configured(self.hub.settings.channel_config())
        return self._channels

    def claim(self) -> list[Any]:
        n = t.notifications.c
        now = utc_now()
        with self.hub.store.begin() as conn:
            rows = conn.execute(
                select(t.notifications)
                .where(or_(and_(n.state == "pending", n.due_at <= now),
                           and_(n.state == "sending", n.claimed_at < now - CLAIM_TTL)))
                .order_by(n.id)
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                conn.execute(update(t.notifications).where(n.id.in_([r.id for r in rows])).values(
                    state="sending", claimed_at=now, claimed_by=self.id, attempts=n.attempts + literal(1)))
        return rows

    def send_due(self) -> int:
        rows = self.claim()
        for row in rows:
            if self._stop.is_set():
                break
            result = self.deliver(row)
            self.finish(row, result)
        return len(rows)

    def deliver(self, row: Any) -> Any:
        from app.report.channels import REFUSED, Result, post, user_agent

        channel = self.channels().get(row.channel)
        if channel is None:
            return Result(REFUSED, f"the {row.channel} channel is no longer configured in [notify]")
        group = orjson.loads(row.payload)
        url = self.hub.settings.dashboard_url(f"/groups/{row.group_id}")
        key = f"mailbeacon-hub-{row.id}-{row.event}-group-{row.group_id}"
        config = channel.config
        try:
            if row.channel == "webhook":
                return channel.send({"id": key}, messages.webhook_body(row.event, group, url))
            headers = {"Content-Type": "application/json", "User-Agent": user_agent(), "Idempotency-Key": key}
            if row.channel == "teams":
                return post(config, channel.url, orjson.dumps(messages.teams_card(row.event, group, url)), headers)
            if row.channel == "slack":
                return post(config, channel.url, orjson.dumps(messages.slack_message(row.event, group, url)), headers)
            from app.report.channels.email import sender

            msg = messages.email_message(row.event, group, url, sender=sender(config), to=config.report.email_to, key=key)
            return channel.deliver(msg)
        except Exception as exc:  # a bug in one message must not stop the others
            log.error("could not send notification %s", row.id, exc_info=True)
            return Result("retry", f"unexpected error: {exc}")

    def finish(self, row: Any, result: Any) -> None:
        n = t.notifications.c
        now = utc_now()
        reason = scrub_text(result.reason or "")[:500]
        values: dict[str, Any]
        if result.status == "delivered":
            values = {"state": "sent", "sent_at": now, "last_error": ""}
        elif result.status == "retry" and row.attempts + 1 < MAX_ATTEMPTS:
            delay = result.retry_after if result.retry_after is not None else min(600.0, 5.0 * 2 ** row.attempts)
            delay *= random.uniform(1.0, 1.2)
            values = {"state": "pending", "due_at": now + timedelta(seconds=min(delay, 3600)), "last_error": reason}
        else:
            values = {"state": "failed", "last_error": reason or f"gave up after {MAX_ATTEMPTS} tries"}
            log.warning("notification %s (%s, %s) failed: %s", row.id, row.channel, row.event, reason)
        with self.hub.store.begin() as conn:
            # only the claim holder finishes it (a stale claim may have been taken over)
            conn.execute(update(t.notifications).where(n.id == row.id, n.claimed_by == self.id).values(**values))
