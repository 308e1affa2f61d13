"""What MailBeacon remembers between runs: confirmed verdict changes (30 days) and the last
diagnosis, in a small SQLite file in the data folder."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.diagnosis.model import FAIL, WARN, Diagnosis
from app.jsonio import dumps, iso_utc, parse_iso
from app.paths import PRIVATE_FILE, private_dir, private_file
from app.report.redact import scrub_strings

log = logging.getLogger(__name__)

KEEP_DAYS = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ts REAL NOT NULL,
    verdict TEXT NOT NULL,
    layer TEXT NOT NULL,
    headline TEXT NOT NULL,
    codes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at_ts);
CREATE TABLE IF NOT EXISTS last_diagnosis (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    recorded_ts REAL NOT NULL,
    confirmed INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


def failing_codes(diagnosis: Diagnosis) -> list[str]:
    """Codes of the checks that failed, then of those that warned (a degraded verdict has
    only warnings), each once, in check order."""
    codes: list[str] = []
    for status in (FAIL, WARN):
        for check in diagnosis.checks:
            if check.status == status and check.code not in codes:
                codes.append(check.code)
    return codes


def _when(diagnosis: Diagnosis) -> datetime:
    try:
        return parse_iso(diagnosis.checked_at)
    except (ValueError, AttributeError):
        return datetime.now(UTC)


class History:
    """Safe to share between threads: one connection, every use under one lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        private_dir(self.path.parent)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            # a damaged history must not keep the tray from starting; keep it for inspection
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.warning("history %s unreadable (%s); moved to %s", self.path, exc, aside)
            self.path.replace(aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        # the last diagnosis names addresses and DNS servers: the file is the user's alone, and
        # SQLite gives its -wal and -shm files the database file's mode
        private_file(self.path)
        for companion in ("-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{companion}", PRIVATE_FILE)
        db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        try:
            try:
                # the CLI may read while the tray writes
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                pass
            db.executescript(_SCHEMA)
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def record(self, diagnosis: Diagnosis, *, confirmed: bool) -> None:
        """Keep it as the last diagnosis; a confirmed one whose verdict differs from the last
        recorded change also becomes a change row."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO last_diagnosis (slot, recorded_ts, confirmed, body)"
                " VALUES (1, ?, ?, ?)",
                (time.time(), int(confirmed), dumps(scrub_strings(diagnosis.to_json()))),
            )
            if not confirmed:
                return
            row = self._db.execute(
                "SELECT verdict FROM changes ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is not None and row[0] == diagnosis.verdict:
                return
            self._db.execute(
                "INSERT INTO changes (at_ts, verdict, layer, headline, codes)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    _when(diagnosis).timestamp(),
                    diagnosis.verdict,
                    diagnosis.layer,
                    scrub_strings(diagnosis.headline),
                    json.dumps(failing_codes(diagnosis)),
                ),
            )

    def last_diagnosis(self) -> Diagnosis | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM last_diagnosis WHERE slot = 1").fetchone()
        if row is None:
            return None
        try:
            return Diagnosis.from_json(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):
            log.warning("stored last diagnosis unreadable; ignored")
            return None

    def current_since(self) -> datetime | None:
        """When the current confirmed verdict began (the last change recorded; by insertion,
        so a wall clock set back cannot reorder what "current" means)."""
        with self._lock:
            row = self._db.execute(
                "SELECT at_ts FROM changes ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row else None

    def current_verdict(self) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT verdict FROM changes ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    def changes(self, since: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Changes at or after `since`, oldest first; when there are more than `limit`, the
        newest `limit` of them."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        with self._lock:
            rows = self._db.execute(
                "SELECT at_ts, verdict, layer, headline, codes FROM changes WHERE at_ts >= ?"
                " ORDER BY at_ts DESC, id DESC LIMIT ?",
                (since.timestamp(), max(0, int(limit))),
            ).fetchall()
        return [
            {
                "at": iso_utc(datetime.fromtimestamp(at_ts, UTC)),
                "verdict": verdict,
                "layer": layer,
                "headline": headline,
                "codes": json.loads(codes),
            }
            for at_ts, verdict, layer, headline, codes in reversed(rows)
        ]

    def prune(self, days: int = KEEP_DAYS, *, now: datetime | None = None) -> int:
        """Forget changes older than `days`, except the newest one: it says since when the
        current verdict holds. Returns how many rows went."""
        now = now or datetime.now(UTC)
        cutoff = (now - timedelta(days=days)).timestamp()
        with self._lock, self._db:
            cur = self._db.execute(
                "DELETE FROM changes WHERE at_ts < ? AND id NOT IN"
                " (SELECT max(id) FROM changes)",
                (cutoff,),
            )
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
