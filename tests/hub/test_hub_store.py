"""The SQLite side of the hub's store: a write waits for another process's write lock and gets
it once free; `serve`'s request process leaves the write-ahead log's copying to its background
process, which does it with checkpoint()."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import insert, text

from app.hub import schema as t
from app.hub.clock import utc_now
from app.hub.store import BUSY_TIMEOUT_S, Store


def test_a_write_waits_for_another_connections_lock_and_then_goes_through(tmp_path):
    path = tmp_path / "hub.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection, as SQLite sees it
    other.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def write() -> None:
        with store.begin() as conn:
            conn.execute(insert(t.tokens).values(name="waited", hash="x" * 64, admin=False, created_at=utc_now()))
        done.set()

    worker = threading.Thread(target=write)
    worker.start()
    time.sleep(0.3)
    assert not done.is_set()  # it waits while the lock is held ...
    other.execute("COMMIT")
    worker.join(10)
    assert done.is_set()  # ... and goes through once it is free
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM tokens")).scalars().all() == ["waited"]
        # the wait did not leave the connection without SQLite's own busy wait for later statements
        assert conn.connection.dbapi_connection.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_S * 1000
    other.close()
    store.dispose()


def test_the_request_process_leaves_checkpoints_to_the_background(tmp_path):
    path = tmp_path / "hub.sqlite3"
    Store(f"sqlite:///{path}").migrate()
    web = Store(f"sqlite:///{path}", checkpoints_elsewhere=True)
    with web.engine.connect() as conn:
        assert conn.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for i in range(300):  # well past SQLite's own checkpoint threshold of 1000 pages
        with web.begin() as conn:
            conn.execute(text("INSERT INTO tokens (name, hash, admin, created_at) VALUES (:n, :h, 0, '2026-01-01')"),
                         {"n": f"t{i}", "h": f"{i}-" + "y" * 4000})
    wal = path.with_name(path.name + "-wal")
    frames_before = wal.stat().st_size
    background = Store(f"sqlite:///{path}")
    background.checkpoint()
    with background.engine.connect() as conn:
        busy, log_frames, checkpointed = conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames_before > 1000 * 4096 and log_frames == checkpointed  # everything was copied back
    web.dispose()
    background.dispose()


def test_batches_committed_side_by_side_store_each_report_once(database_url, tmp_path):
    """On PostgreSQL several batches commit at once; a report sent twice at the same moment
    (a laptop's retry racing its first try) is still stored once and called new once."""
    import asyncio

    import orjson

    from app.hub.ingest import BatchWriter, parse_report
    from app.hub.settings import HubSettings
    from tests.hub import laptops as lp

    store = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    store.migrate()
    rows = [parse_report(orjson.dumps(lp.report(f"laptop-{i:03d}", note=f"n{i}")), utc_now()) for i in range(120)]

    async def run() -> list[bool]:
        writer = BatchWriter(store, max_batch=7)
        writer.start()
        try:
            return await asyncio.gather(*(writer.submit("report", dict(row)) for row in rows + rows))
        finally:
            await writer.stop()

    news = asyncio.run(run())
    assert BatchWriter(store).concurrent == (1 if store.dialect == "sqlite" else 4)
    assert sum(news) == len(rows)  # each id once new, once "already stored"
    assert [a or b for a, b in zip(news[: len(rows)], news[len(rows):], strict=True)] == [True] * len(rows)
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM reports")).scalar() == len(rows)
    store.dispose()


def test_the_writers_driver_level_insert_stores_exactly_what_sqlalchemy_stores(database_url, tmp_path):
    import asyncio

    import orjson
    from sqlalchemy import insert as sa_insert

    from app.hub.ingest import BatchWriter, parse_report, parse_state
    from app.hub.settings import HubSettings
    from tests.hub import laptops as lp

    store = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    store.migrate()
    now = utc_now()
    report = parse_report(orjson.dumps(lp.report("laptop-a", note="café ☕")), now)
    state = parse_state(orjson.dumps(lp.state("laptop-a")), now)
    twin_report = {**report, "id": report["id"] + "-sa"}
    twin_state = {**state, "laptop": "laptop-b"}
    with store.begin() as conn:  # the same values the ordinary SQLAlchemy way
        conn.execute(sa_insert(t.reports).values(**twin_report))
        conn.execute(sa_insert(t.states).values(**twin_state))

    async def write() -> list[bool]:
        writer = BatchWriter(store)
        writer.start()
        try:
            return [await writer.submit("report", report), await writer.submit("state", state),
                    await writer.submit("state", state)]
        finally:
            await writer.stop()

    assert asyncio.run(write()) == [True, True, False]
    # the journal's loader inserts a batch in one statement (on PostgreSQL one array per
    # column), a repeat included: the same values again, stored once
    from app.hub import bulk

    loaded_report = {**report, "id": report["id"] + "-load", "known_incident": "inc-7", "token_id": None}
    loaded_state = {**state, "laptop": "laptop-c"}
    with store.begin() as conn:
        write = bulk.of(conn.dialect)
        write.insert(conn, t.reports, list(report), [loaded_report, loaded_report | {"id": report["id"]}], skip_existing=True)
        write.insert(conn, t.states, list(state), [loaded_state], skip_existing=True)
    columns = [c for c in report if c not in ("id", "known_incident", "token_id")]
    with store.engine.connect() as conn:  # raw, as the database holds them
        rows = conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM reports ORDER BY seq").fetchall()
        assert len(rows) == 3 and rows[0] == rows[1] == rows[2]
        assert conn.exec_driver_sql("SELECT known_incident, token_id FROM reports ORDER BY seq").fetchall()[2] == ("inc-7", None)
        state_cols = [c for c in state if c != "laptop"]
        rows = conn.exec_driver_sql(f"SELECT {', '.join(state_cols)} FROM states ORDER BY seq").fetchall()
        assert len(rows) == 3 and rows[0] == rows[1] == rows[2]
    store.dispose()


AWKWARD = ["", 'quo"te', "back\\slash", "{brace}", "a,b", "NULL", "café ☕", "tab\tand\nnewline", " lead", "\\N"]


def test_batch_statements_store_exactly_what_sqlalchemy_stores(database_url, tmp_path):
    """Bulk's insert and update (one statement per batch) against SQLAlchemy's own, value for
    value, with the strings an array's text form would trip on, times, booleans and NULLs."""
    from datetime import timedelta

    from sqlalchemy import insert as sa_insert
    from sqlalchemy import update as sa_update

    from app.hub import bulk
    from app.hub.settings import HubSettings

    store = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    store.migrate()
    now = utc_now()

    def laptop(i: int, word: str) -> dict:
        return {"id": f"{word}-{i}", "first_seen": now, "last_seen": now + timedelta(microseconds=i), "verdict": "down",
                "layer": word[:32], "headline": word, "network": word[:32], "username": word, "app_version": "1",
                "state_at": None if i % 2 else now - timedelta(days=i)}

    ours = [laptop(i, w) for i, w in enumerate(AWKWARD)]
    theirs = [{**row, "id": "sa-" + row["id"]} for row in ours]
    columns = list(ours[0])
    with store.begin() as conn:
        bulk.of(conn.dialect).insert(conn, t.laptops, columns, ours)
        conn.execute(sa_insert(t.laptops), theirs)
    changes = ("headline", "username", "state_at", "last_seen")
    with store.begin() as conn:  # every value rotated to another row's, NULLs included
        moved = [{**row, **{c: ours[(i + 3) % len(ours)][c] for c in changes}} for i, row in enumerate(ours)]
        bulk.of(conn.dialect).update(conn, t.laptops, ("id",), changes, moved)
        c = t.laptops.c
        for row in moved:
            conn.execute(sa_update(t.laptops).where(c.id == "sa-" + row["id"]).values({k: row[k] for k in changes}))
    with store.engine.connect() as conn:  # raw, as the database holds them
        raw = {r[0]: r[1:] for r in conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM laptops").fetchall()}
    assert len(raw) == 2 * len(ours)
    for row in moved:
        assert raw[row["id"]] == raw["sa-" + row["id"]]
    with store.read() as conn:
        back = {r.id: r for r in conn.execute(t.laptops.select())}
    for row in moved:  # and read back through SQLAlchemy, they are the values written
        assert {k: getattr(back[row["id"]], k) for k in columns} == row
    store.dispose()


def test_among_is_in_with_one_parameter_on_postgresql(database_url, tmp_path):
    from sqlalchemy import select

    from app.hub import bulk
    from app.hub.settings import HubSettings

    store = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    store.migrate()
    now = utc_now()
    with store.begin() as conn:
        conn.execute(t.laptops.insert(), [{"id": w or "empty", "first_seen": now, "last_seen": now} for w in AWKWARD])
    with store.read() as conn:
        among = bulk.of(conn.dialect).among
        for wanted in (["café ☕", 'quo"te', "missing"], [], AWKWARD[1:]):
            got = {r[0] for r in conn.execute(select(t.laptops.c.id).where(among(t.laptops.c.id, wanted)))}
            assert got == set(wanted) - {"missing"}
        stmt = select(t.laptops.c.id).where(among(t.laptops.c.id, ["a", "b", "c"]))
        compiled = str(stmt.compile(dialect=conn.dialect))
        assert ("ANY" in compiled) == (store.dialect == "postgresql")
    store.dispose()


def test_a_lookup_made_while_the_table_was_empty_still_uses_the_index_once_it_grew(pg_cluster, tmp_path):
    """psycopg prepares a statement after five runs; a generic plan made on a fresh hub's empty
    table scanned the whole table ever after. Every statement is planned for its values."""
    from app.hub import bulk, journal

    store = Store(pg_cluster.new_database() + "?options=-c%20statement_timeout%3D60000")
    store.migrate()
    known = journal._Known(store)

    def lookups() -> None:  # psycopg prepares on the 5th run, PostgreSQL plans generically from the 6th on
        for n in range(16):
            assert known({("report", f"missing-{n}-{i}"): None for i in range(20)}) == set()

    now = utc_now()
    row = {"laptop": "l", "received_at": now, "created_at": now, "verdict": "down", "layer": "service", "group_key": "k",
           "failing": "[]", "headline": "", "username": "", "network": "", "note": "", "known_incident": None,
           "body": "{}" + " " * 1500, "token_id": None, "grouped": True, "group_id": None}

    def add(first: int, count: int) -> None:
        with store.begin() as conn:
            bulk.of(conn.dialect).insert(conn, t.reports, ["id", *row], [{"id": f"r-{i}", **row} for i in range(first, first + count)])

    lookups()  # prepared, and planned generically, while `reports` is empty
    add(0, 30000)
    with store.begin() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1min"  # the URL's own options are kept

    def seq_scans() -> int:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return conn.exec_driver_sql("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'reports'").scalar()

    def settled(marker: int) -> int:
        cursor = known._cursor()
        cursor.execute("SELECT count(*) FROM reports WHERE note = 'marker'")  # one whole-table scan, as a marker
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.close()
        deadline = time.monotonic() + 20
        while (count := seq_scans()) < marker and time.monotonic() < deadline:
            time.sleep(0.1)
        return count

    before = settled(seq_scans() + 1)
    lookups()
    assert settled(before + 1) == before + 1  # only the marker's scan: the lookups used the index
    known.close()
    store.dispose()


def test_upgrading_a_hub_to_0003_keeps_every_group_member_and_drops_only_their_foreign_key(database_url, tmp_path):
    """Members lose their foreign key to groups (revision 0003): a database made by 0002, with
    an outage and its members in it, upgrades with every row, the key, the index and the
    defaults kept; a member is then stored without a lookup of its group. The "ungrouped"
    indexes hold only the rows waiting, and the grouper's query for them still uses them."""
    from sqlalchemy import inspect, select

    from app.hub.grouping import ungrouped_query
    from app.hub.settings import HubSettings

    store = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    assert store.migrate("0002") == "0002"
    now = utc_now()
    with store.begin() as conn:
        group = conn.execute(insert(t.groups).values(key="k" * 32, state="open", verdict="server_down", layer="server",
                                                     failing="[]", first_at=now, last_at=now, changed_at=now)
                             .returning(t.groups.c.id)).scalar()
        for i in range(3):
            conn.execute(text("INSERT INTO group_members (group_id, laptop, since, last_at) VALUES (:g, :l, :t, :t)"),
                         {"g": group, "l": f"laptop-{i}", "t": now})
    with store.read() as conn:
        assert [key["referred_table"] for key in inspect(conn).get_foreign_keys("group_members")] == ["groups"]
        before = conn.execute(select(t.group_members).order_by(t.group_members.c.laptop)).all()

    assert store.migrate() == "0003"
    with store.read() as conn:
        found = inspect(conn)
        assert found.get_foreign_keys("group_members") == []
        assert found.get_pk_constraint("group_members")["constrained_columns"] == ["group_id", "laptop"]
        assert [(i["name"], i["column_names"]) for i in found.get_indexes("group_members")] == \
            [("ix_group_members_laptop", ["laptop", "left_at"])]
        assert [key["referred_table"] for key in found.get_foreign_keys("sessions")] == ["users"]  # the others stay
        assert conn.execute(select(t.group_members).order_by(t.group_members.c.laptop)).all() == before
        assert [(m.username, m.network, m.by_state, m.left_at) for m in before] == [("", "", False, None)] * 3
    with store.begin() as conn:  # nothing checks the group any more: the pass writes both together
        conn.execute(text("INSERT INTO group_members (group_id, laptop, since, last_at) VALUES (:g, 'x', :t, :t)"),
                     {"g": group + 1000, "t": now})

    with store.begin() as conn:
        for table in (t.reports, t.states):
            where = inspect(conn).get_indexes(table.name)
            (index,) = [i for i in where if i["name"] == f"ix_{table.name}_ungrouped"]
            assert index["column_names"] == ["seq"]
            assert "grouped" in str(index["dialect_options"][f"{store.dialect}_where"])
            query = ungrouped_query(table).compile(conn)  # as it runs: with its parameters
            params = tuple(query.params[k] for k in query.positiontup) if query.positional else query.params
            if store.dialect == "sqlite":
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", params))
            else:  # tiny tables are read whole; without that choice the plan shows the index it can use
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {query}", params))
            assert f"ix_{table.name}_ungrouped" in plan, plan
    store.dispose()
