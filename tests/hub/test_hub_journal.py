"""The journal: `serve` answers a report or state once it is on disk in the hub's own journal
file, and the background process loads it into the database. Acknowledged means kept, through
a crash of the whole hub, a database that is away, rotation, and a record torn by a crash."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil
from sqlalchemy import func, select

from app.hub import journal
from app.hub import schema as t
from app.hub.clock import utc_now
from app.hub.ingest import parse_report, parse_state
from app.hub.settings import HubSettings
from app.hub.store import Store
from tests.hub import laptops as lp
from tests.hub.conftest import store_for
from tests.hub.test_hub_notify import wait_for
from tests.servers.smtp import free_port

HUB = "group_wait_s = 1\ngroup_interval_s = 600\ndetect_min_laptops = 1000\n"


def count(store: Store, table, like: str) -> int:
    """Rows of laptops whose id is like `like`."""
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table).where(table.c.laptop.like(like))).scalar()


def rows(n: int, prefix: str) -> list[tuple[str, dict]]:
    now = utc_now()
    out = []
    for i in range(n):
        out.append(("report", parse_report(orjson.dumps(lp.report(f"{prefix}-{i}")), now)))
        out.append(("state", parse_state(orjson.dumps(lp.state(f"{prefix}-{i}")), now)))
    return out


def test_records_come_back_as_written_and_a_torn_or_damaged_one_ends_the_file():
    records = rows(3, "enc")
    data = b"".join(journal.encode(kind, row) for kind, row in records)
    back, used = journal.decode(data)
    assert back == records and used == len(data)
    assert all(isinstance(row["received_at"], datetime) and row["received_at"].tzinfo for _, row in back)
    torn, used = journal.decode(data[:-5])  # a crash in the middle of the last record
    assert torn == records[:-1] and used < len(data)
    damaged = bytearray(data)
    damaged[len(journal.encode(*records[0])) + 20] ^= 0xFF  # a flipped byte in the second record
    kept, _ = journal.decode(bytes(damaged))
    assert kept == records[:1]


def test_rows_are_kept_while_the_database_is_away_and_loaded_once_it_is_back(tmp_path, monkeypatch, database_url):
    """A writer whose database cannot be read still takes rows in (answered as new); the loader
    stores each once, a rotated file is finished and removed, and a repeat is not new."""
    monkeypatch.setattr(journal, "ROTATE_BYTES", 20_000)  # a few records per file
    folder = tmp_path / "journal"
    away = Store(f"postgresql+psycopg://mb:x@127.0.0.1:{free_port()}/nothing?connect_timeout=2")
    good = Store(HubSettings(database=database_url, data_dir=tmp_path).database_url)
    good.migrate()
    records = rows(20, "away")

    async def take_in(store: Store, items) -> list[bool]:
        writer = journal.JournalWriter(store, folder)
        writer.start()
        try:
            return list(await asyncio.gather(*(writer.submit(kind, dict(row)) for kind, row in items)))
        finally:
            await writer.stop(keep=True)  # without removing the (not yet loaded) file

    assert asyncio.run(take_in(away, records)) == [True] * len(records)
    files = sorted(folder.glob("*.journal"))
    assert len(files) >= 2 and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert journal.backlog(folder) == sum(f.stat().st_size for f in files)

    loader = journal.Loader(good, folder, owner=os.getpid())
    while loader.run_once():
        pass
    assert count(good, t.reports, "away-%") == 20 and count(good, t.states, "away-%") == 20
    assert list(folder.glob("*.journal*")) == []  # finished files are removed with their offsets
    assert journal.backlog(folder) == 0

    # the database is back: a repeat (a report and a state) is answered as already stored, from
    # the database (a new writer has no memory of it), and nothing is written
    assert asyncio.run(take_in(good, records[:4] + [("state", {**records[1][1], "laptop": "away-new"})])) == [False] * 4 + [True]
    while loader.run_once():
        pass
    assert count(good, t.reports, "away-%") == 20 and count(good, t.states, "away-%") == 21
    good.dispose()
    away.dispose()


def a_journal(tmp_path) -> tuple[Store, Path, journal.JournalFile]:
    """A hub database and this process's live journal file in its data folder."""
    store = Store(HubSettings(data_dir=tmp_path).database_url)
    store.migrate()
    folder = tmp_path / "journal"
    return store, folder, journal.JournalFile(folder)


def test_a_loader_takes_only_its_own_live_journal_and_finished_ones(tmp_path):
    store, folder, mine = a_journal(tmp_path)
    mine.append(b"".join(journal.encode(k, r) for k, r in rows(2, "mine")))
    half = journal.encode(*rows(1, "cut")[0])
    mine.append(half[: len(half) // 2])  # a record still being written: not loaded yet
    other = folder / f"{1:020d}-{os.getpid() + 100000}.journal"  # another process's, finished
    other.write_bytes(b"".join(journal.encode(k, r) for k, r in rows(1, "other")) + half[:9])
    loader = journal.Loader(store, folder, owner=os.getpid())
    loader.run_once()
    assert count(store, t.reports, "mine-%") == 2 and count(store, t.reports, "other-%") == 1
    assert count(store, t.reports, "cut-%") == 0
    assert not other.exists()  # finished: loaded, its torn tail dropped, removed
    assert mine.path.exists() and journal.loaded_offset(mine.path) < mine.size  # live: kept
    mine.close()
    store.dispose()


def test_an_unreadable_offset_means_loading_again_from_the_start_and_each_row_once(tmp_path):
    store, folder, mine = a_journal(tmp_path)
    mine.append(b"".join(journal.encode(k, r) for k, r in rows(3, "again")))
    loader = journal.Loader(store, folder, owner=os.getpid())
    assert loader.run_once() == 6
    assert journal.loaded_offset(mine.path) == mine.size
    assert oct(os.stat(str(mine.path) + ".loaded").st_mode & 0o777) == "0o600"
    offset_file = Path(str(mine.path) + ".loaded")
    good = offset_file.read_bytes()
    for unreadable in (good[:-1] + bytes([good[-1] ^ 0xFF]), b"12", str(mine.size).encode()):
        offset_file.write_bytes(unreadable)  # torn, short, or another format
        assert journal.loaded_offset(mine.path) == 0
        again = journal.Loader(store, folder, owner=os.getpid())
        assert again.run_once() == 6  # everything read again, nothing stored twice
        again.close()
        assert journal.loaded_offset(mine.path) == mine.size
    assert count(store, t.reports, "again-%") == 3 and count(store, t.states, "again-%") == 3
    mine.close()
    loader.close()
    store.dispose()


def test_everything_acknowledged_survives_the_whole_hub_being_killed(start_hub, hub_tokens, database_url, isolated_home):
    """kill -9 of serve and its background process right after a burst was answered: the next
    serve loads what the journal holds, so every acknowledged report and state is stored."""
    hub = start_hub(database=database_url, hub=HUB)
    laptop, _admin = hub_tokens(database_url)
    items = [("report", lp.report(f"kill-{i}")) for i in range(150)] + \
            [("state", lp.state(f"kill-{i}", network=f"{i:012x}")) for i in range(150)]
    parent = psutil.Process(hub.proc.pid)
    family = [parent, *parent.children(recursive=True)]
    for proc in family:
        proc.suspend()  # the background process cannot load anything now ...
    family[0].resume()  # ... while the process answering requests takes the burst in
    assert set(lp.burst([hub.url], laptop, items)) == {201}
    for proc in family:
        try:
            proc.resume()
            os.kill(proc.pid, signal.SIGKILL)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
    hub.proc.wait(10)
    folder = next(Path(isolated_home).rglob("journal"))
    assert journal.backlog(folder) > 0  # what was acknowledged is in the journal, not yet stored

    start_hub(database=database_url, hub=HUB)  # a new serve finds the journal the dead one left
    store = store_for(database_url, isolated_home)
    try:
        wait_for(lambda: count(store, t.reports, "kill-%") == 150 and count(store, t.states, "kill-%") == 150,
                 timeout=30, what="the journal loaded")
        wait_for(lambda: not list(folder.glob(f"*-{hub.proc.pid}.journal")), what="the dead hub's journal removed")
    finally:
        store.dispose()


def test_the_journal_keeps_times_exactly():
    at = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    row = parse_state(orjson.dumps({**lp.state("t-1"), "at": at.isoformat()}), at)
    [(kind, back)], _ = journal.decode(journal.encode("state", row))
    assert kind == "state" and back["at"] == at and back == row


def test_a_flush_held_up_by_the_database_is_counted_and_logged_once_with_where_its_time_went(
        tmp_path, pg_cluster, caplog):
    """A real lock on PostgreSQL's reports table holds the flush's question "which are new?" for
    over a second: the rows are still answered (new) once it is released, the stats count the
    slow flush, and the hub's log says how long laptops waited and what took the time; a second
    slow flush within the minute is counted but not logged again."""
    import psycopg

    from app.hub import ingest

    url = pg_cluster.new_database()
    store = Store(HubSettings(database=url, data_dir=tmp_path).database_url)
    store.migrate()
    records = rows(4, "slow")
    locker = psycopg.connect(url)

    async def held(items) -> list[bool]:
        locker.execute("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE")  # until the commit below
        asyncio.get_running_loop().call_later(1.3, locker.commit)
        return list(await asyncio.gather(*(writer.submit(kind, dict(row)) for kind, row in items)))

    async def run() -> list[list[bool]]:
        writer.start()
        try:
            return [await held(records[:4]), await held(records[4:])]
        finally:
            await writer.stop()

    writer = journal.JournalWriter(store, tmp_path / "journal")
    with caplog.at_level("WARNING", logger="app.hub.ingest"):
        answers = asyncio.run(run())
    locker.close()
    assert answers == [[True] * 4, [True] * 4]
    timings = writer.timings
    assert timings.over_ms["1000"] == 2 and timings.over_ms["10"] >= 2 and timings.longest >= 1.2
    assert timings.batched_rows == 8
    slow = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert len(slow) == 1, slow
    # the flusher may take the first row alone, before the others are queued
    assert re.match(r"storing [1-4] reports and state events took 1\.\d s \(asking the database which were new: "
                    r"1\.\d s; writing them to the journal on disk: 0\.\d s\); their laptops waited", slow[0]), slow[0]
    assert f"logged after {ingest.SLOW_WARN_EVERY_S:.0f} s" in slow[0]
    store.dispose()
