"""The hub's database: one SQLAlchemy engine for SQLite (WAL, in the data folder) or PostgreSQL
(psycopg 3), the Alembic migrations run programmatically, and the few dialect facts the rest of
the hub needs (advisory locks, SQLite's write lock) kept here so every other module has one path.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.errors import MailBeaconError

log = logging.getLogger(__name__)

EX_UNAVAILABLE = 69
BUSY_TIMEOUT_S = 30.0  # how long a write waits for SQLite's lock before it fails
HEAD = "0003"  # the newest migration; `serve` refuses a database newer than the code knows


class StoreError(MailBeaconError):
    """The database cannot be opened or migrated; the message says which and why."""

    exit_status = EX_UNAVAILABLE


def _private_sqlite_file(path: Path) -> None:
    # the database holds reports and password hashes: only the hub's user may read it, and
    # SQLite gives its -wal/-shm files the main file's mode
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Store:
    """The engine plus what differs between SQLite and PostgreSQL."""

    def __init__(self, url: str, *, checkpoints_elsewhere: bool = False, ping: bool = True) -> None:
        """checkpoints_elsewhere: on SQLite, this process's commits never copy the write-ahead
        log back into the database file (a commit that does waits for it); another process
        calls checkpoint() instead — `serve`'s background process does, about once a second.
        ping: on PostgreSQL, test a pooled connection before each use (after a database restart
        the first use then still works); without it, that first use fails and the pool starts
        afresh, for callers that retry anyway."""
        self.url = url
        try:
            parsed = make_url(url)
        except Exception:
            raise StoreError("the database setting is not a database URL") from None
        self.dialect = parsed.get_backend_name()
        self._sqlite_lock = threading.Lock()
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                try:
                    _private_sqlite_file(Path(database))
                except OSError as exc:
                    raise StoreError(f"cannot create the database file {database}: {exc.strerror or exc}") from None
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=8
            )
            event.listen(self.engine, "connect", _sqlite_connect_without_checkpoints if checkpoints_elsewhere
                         else _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.dialect == "postgresql":
            # every statement planned for its own values: psycopg prepares a statement after five
            # runs, and a generic plan made while a table was still small (a fresh hub, before
            # autovacuum's first ANALYZE) went on scanning it whole however large it grew
            options = " ".join(filter(None, [str(parsed.query.get("options") or ""), "-c plan_cache_mode=force_custom_plan"]))
            self.engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=ping,
                                        connect_args={"options": options})
        else:
            raise StoreError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")

    @property
    def where(self) -> str:
        """The database named without its password, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction. On SQLite writers also queue in-process, so the file's single write
        lock is never fought over by our own threads (a busy retry costs more than a wait)."""
        if self.dialect == "sqlite":
            with self._sqlite_lock, self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only look: on SQLite a deferred transaction, which never waits for writers."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(mb_read=True)
            yield conn
            conn.rollback()

    def try_lock(self, conn: Connection, key: int) -> bool:
        """A transaction-scoped lock shared by every `serve` process on this database: PostgreSQL
        advisory lock; SQLite's BEGIN IMMEDIATE already made this transaction the only writer."""
        if self.dialect == "postgresql":
            return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())
        return True

    def lock(self, conn: Connection, key: int) -> None:
        """Like try_lock, but waits."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def migrate(self, revision: str = "head") -> str:
        """Create or upgrade the schema to the newest revision (or up to `revision`); returns
        it. Safe to run from several processes at once (PostgreSQL: under an advisory lock)."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("app.hub") / "migrations"))
        try:
            with self.begin() as conn:
                self.lock(conn, MIGRATE_LOCK)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database {self.where}: {_reason(exc)}") from None

    def ensure_schema(self) -> None:
        """Migrate only when the schema is not the newest (Alembic costs a start-up otherwise)."""
        if self.revision() != HEAD:
            self.migrate()

    def revision(self) -> str | None:
        try:
            with self.read() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            return None

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds back into the database file, as far as readers
        allow, without waiting for anyone (SQLite; nothing to do on PostgreSQL)."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def analyze_grown(self) -> list[str]:
        """PostgreSQL: ANALYZE the hub's busy tables that changed by half since their statistics
        were made; the names analyzed. Autovacuum would do it within minutes, but an outage
        fills `laptops` and `group_members` from nothing in seconds, and until then the planner
        takes them for empty: each pass then read a whole outage's members, and every laptop,
        to find the few it needed."""
        if self.dialect != "postgresql":
            return []
        with self.engine.connect() as conn:
            grown = conn.execute(text(
                "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(:names) AND schemaname = current_schema() "
                "AND n_mod_since_analyze >= GREATEST(:least, (SELECT reltuples FROM pg_class WHERE oid = relid) / 2)"),
                {"names": list(ANALYZED), "least": ANALYZE_LEAST}).scalars().all()
            for name in grown:
                conn.execute(text(f'ANALYZE "{name}"'))  # a name from the fixed list above
            conn.commit()
        return list(grown)

    def dispose(self) -> None:
        self.engine.dispose()


ANALYZED = ("laptops", "group_members", "groups", "reports", "states")  # what a pass looks rows up in
ANALYZE_LEAST = 500  # rows changed before a table's statistics are made again

MIGRATE_LOCK = 0x6D62_0001  # advisory lock keys: "mb" + purpose
GROUPER_LOCK = 0x6D62_0002


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text_ = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else type(exc).__name__
    return text_[:300]


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # autocommit at the driver: SQLAlchemy's "begin" event below issues BEGIN IMMEDIATE itself
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a report acknowledged is on disk
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _sqlite_connect_without_checkpoints(dbapi_conn: Any, record: Any) -> None:
    _sqlite_connect(dbapi_conn, record)
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


WRITE_LOCK_POLL_S = (0.0005, 0.002)  # first and longest pause between tries for the write lock


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN for a read; BEGIN IMMEDIATE for a write, tried again every millisecond or two while
    another process holds the write lock. SQLite's own busy wait sleeps in growing steps (up to
    100 ms), so a writer would often sleep on long after the lock was free."""
    if conn.get_execution_options().get("mb_read"):
        conn.exec_driver_sql("BEGIN")
        return
    driver = conn.connection.dbapi_connection
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = WRITE_LOCK_POLL_S[0]
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    break  # not a wait: let SQLAlchemy raise it below, wrapped as usual
            time.sleep(pause)
            pause = min(pause * 2, WRITE_LOCK_POLL_S[1])
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try, with SQLite's own wait and error


def open_store(url: str, *, migrate: bool = False) -> Store:
    store = Store(url)
    if migrate:
        store.migrate()
    return store
