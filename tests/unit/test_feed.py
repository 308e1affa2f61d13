"""The feed's Qt-free core: parsing both formats, lines and notifications for people, and the
native feed writer IT uses."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import feed
from app.errors import MailBeaconError, UsageError
from app.feed import parse as feed_parse
from app.feed import write as feed_write
from app.jsonio import iso_utc

FIXTURES = Path(__file__).parent.parent / "fixtures" / "feeds"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def paris(time_zone):
    time_zone("Europe/Paris")


# ---------------------------------------------------------------- parsing


def test_native_keeps_unresolved_mail_incidents_newest_first():
    source, incidents, fresh = feed.parse_feed(load("native.json"))
    assert source == "native"
    # printing is excluded by affects, the webmail one is resolved, VPN has no affects -> mail
    assert [i["id"] for i in incidents] == ["INC-20261126-1", "INC-20261126-3"]
    top = incidents[0]
    assert top == {
        "id": "INC-20261126-1",
        "title": "Mail server disk full",
        "status": "identified",
        "message": "We are freeing space on the mail server.",
        "updated_at": "2026-11-26T16:00:00.000Z",
        "next_update_at": "2026-11-26T17:30:00.000Z",
    }
    assert fresh == "2026-11-26T16:00:00.000Z"


def test_statuspage_summary_maps_name_newest_body_and_drops_resolved():
    source, incidents, _ = feed.parse_feed(load("statuspage_summary.json"))
    assert source == "statuspage"
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["id"] == "p31zjtct2jer"
    assert inc["title"] == "Mail server disk full"
    assert inc["status"] == "identified"
    assert inc["message"].startswith("The mail server's disk is full.")
    assert inc["next_update_at"] is None


def test_statuspage_unresolved_newest_update_wins_whatever_the_order():
    _, incidents, _ = feed.parse_feed(load("statuspage_unresolved.json"))
    assert [i["id"] for i in incidents] == ["cp306tmzcl0y"]  # the postmortem is not unresolved
    assert incidents[0]["message"] == "A fix is in place; we are watching the queues."


def test_statuspage_status_json_has_no_incidents():
    source, incidents, _ = feed.parse_feed(load("statuspage_status.json"))
    assert (source, incidents) == ("statuspage", [])


@pytest.mark.parametrize("doc", [[], "x", {"hello": 1}, {"schema": 1, "incidents": 3}])
def test_unknown_documents_are_rejected_with_a_sentence(doc):
    with pytest.raises(feed_parse._BadFeed) as info:
        feed.parse_feed(doc)
    assert str(info.value)


# ---------------------------------------------------------------- file feeds


def test_file_feed_reads_and_rereads_when_mtime_changes(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "Freeing space")
    reader = feed.FeedReader(str(path))
    first = reader.read(2)
    assert first["error"] is None and first["stale"] is False
    assert first["source"] == "native"
    assert [i["title"] for i in first["incidents"]] == ["Disk full"]
    incident_id = first["incidents"][0]["id"]
    feed.resolve(path, incident_id)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))  # a coarse share clock
    assert reader.read(2)["incidents"] == []


def test_file_url_form_is_accepted(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "Freeing space")
    assert feed.FeedReader(path.as_uri()).read(2)["incidents"][0]["title"] == "Disk full"


def test_unreadable_file_keeps_last_good_marked_stale(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "Freeing space", incident_id="INC-7")
    reader = feed.FeedReader(str(path))
    assert reader.read(2)["stale"] is False
    path.write_text("{ not json", encoding="utf-8")
    status = reader.read(2)
    assert "not valid JSON" in status["error"]
    assert status["stale"] is True
    assert [i["id"] for i in status["incidents"]] == ["INC-7"]
    path.unlink()
    status = reader.read(2)
    assert "was not found" in status["error"]
    assert [i["id"] for i in status["incidents"]] == ["INC-7"]


def test_missing_file_without_history_is_an_error_not_a_crash(tmp_path):
    status = feed.FeedReader(str(tmp_path / "nope.json")).read(2)
    assert status["incidents"] == [] and status["stale"] is True
    assert "was not found" in status["error"]


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b'{"schema":1,"incidents":[],"pad":"' + b"x" * 2_000 + b'"}')
    status = feed.FeedReader(str(path), max_bytes=1_000).read(2)
    assert "larger than" in status["error"]


def test_feed_older_than_a_day_is_stale(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "Freeing space", now=datetime.now(UTC) - timedelta(days=2))
    status = feed.FeedReader(str(path)).read(2)
    assert status["error"] is None
    assert status["stale"] is True


def test_read_it_status_none_without_feed(make_config):
    from app.diagnosis.probes.base import Deadline

    assert feed.read_it_status(make_config(""), Deadline(1)) is None


def test_read_it_status_reads_the_configured_file(make_config, tmp_path):
    from app.diagnosis.probes.base import Deadline

    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "Freeing space", incident_id="INC-9")
    cfg = make_config(f'[feed]\nurl = "{path.as_posix()}"\n')
    status = feed.read_it_status(cfg, Deadline(2))
    assert feed.known_incident(status) == "INC-9"


# ---------------------------------------------------------------- lines for people


def _status(**incident) -> dict:
    base = {"id": "INC-1", "title": "Mail server disk full", "status": "identified",
            "message": "Freeing space.", "updated_at": "2026-11-26T13:00:00.000Z",
            "next_update_at": None}
    base.update(incident)
    return {"source": "native", "incidents": [base], "fetched_at": "2026-11-26T16:00:00.000Z",
            "error": None, "stale": False}


def test_status_line_with_next_update_in_local_time(paris):
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    line = feed.status_line(_status(next_update_at="2026-11-26T16:30:00Z"), now=now)
    assert line == "IT is aware: Mail server disk full — next update 17:30"


def test_status_line_without_next_update(paris):
    assert feed.status_line(_status()) == "IT is aware: Mail server disk full"


def test_status_line_stale_says_how_old(paris):
    status = _status()
    status["stale"] = True
    now = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert feed.status_line(status, now=now) == (
        "IT is aware: Mail server disk full (last update 3 h ago, may be out of date)"
    )


def test_no_line_and_no_known_incident_without_incidents():
    empty = {"source": "native", "incidents": [], "fetched_at": None, "error": None, "stale": False}
    assert feed.status_line(None) is None and feed.status_line(empty) is None
    assert feed.known_incident(None) is None and feed.known_incident(empty) is None
    assert feed.known_incident(_status(id="INC-42")) == "INC-42"


# ---------------------------------------------------------------- notifications


def test_tracker_posts_updates_and_resolves_once_each():
    tracker = feed.IncidentTracker()
    first = tracker.update(_status())
    assert [e.kind for e in first] == ["posted"]
    assert "Mail server disk full" in first[0].text
    assert tracker.update(_status()) == []
    changed = tracker.update(_status(message="Half the space is back.", status="monitoring"))
    assert [e.kind for e in changed] == ["updated"]
    assert "Half the space is back." in changed[0].text
    assert tracker.update(_status(message="Half the space is back.", status="monitoring")) == []
    gone = {"source": "native", "incidents": [], "fetched_at": None, "error": None, "stale": False}
    resolved = tracker.update(gone)
    assert [e.kind for e in resolved] == ["resolved"]
    assert resolved[0].incident["id"] == "INC-1"
    assert tracker.update(gone) == []


def test_tracker_read_error_resolves_nothing():
    tracker = feed.IncidentTracker()
    tracker.update(_status())
    broken = {"source": None, "incidents": [], "fetched_at": None,
              "error": "The IT status feed did not answer.", "stale": True}
    assert tracker.update(broken) == []
    assert tracker.update(_status()) == []  # still the same incident: no second "posted"


# ---------------------------------------------------------------- next update


def test_parse_next_update_durations():
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    assert feed.parse_next_update("30m", now) == now + timedelta(minutes=30)
    assert feed.parse_next_update("1h", now) == now + timedelta(hours=1)
    assert feed.parse_next_update("90s", now) == now + timedelta(seconds=90)
    assert feed.parse_next_update("1h30m", now) == now + timedelta(minutes=90)


def test_parse_next_update_clock_time_is_the_next_one_local(paris):
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 16:00 in Paris
    assert feed.parse_next_update("17:30", now) == datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    assert feed.parse_next_update("09:00", now) == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["soon", "25:00", "0m", "", "m30"])
def test_parse_next_update_rejects_nonsense(text):
    with pytest.raises(UsageError):
        feed.parse_next_update(text, datetime(2026, 11, 26, tzinfo=UTC))


# ---------------------------------------------------------------- writing


def test_post_update_resolve_writes_spec_fields(tmp_path):
    path = tmp_path / "feed.json"
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    incident_id = feed.post(path, "Disk full", "Freeing space", next_update="30m", now=now)
    assert incident_id.startswith("INC-2026112") and incident_id.endswith("-1")
    assert feed.post(path, "Second", "x", now=now) == incident_id[:-1] + "2"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == 1 and doc["updated_at"] == "2026-11-26T15:00:00.000Z"
    first = next(i for i in doc["incidents"] if i["id"] == incident_id)
    assert first == {
        "id": incident_id, "title": "Disk full", "status": "investigating",
        "message": "Freeing space", "started_at": "2026-11-26T15:00:00.000Z",
        "updated_at": "2026-11-26T15:00:00.000Z",
        "next_update_at": "2026-11-26T15:30:00.000Z", "affects": ["mail"],
    }
    later = now + timedelta(minutes=20)
    feed.update(path, incident_id, status="identified", message="Found it", now=later)
    item = next(i for i in json.loads(path.read_text())["incidents"] if i["id"] == incident_id)
    assert (item["status"], item["message"], item["updated_at"]) == (
        "identified", "Found it", iso_utc(later))
    feed.resolve(path, incident_id, message="Space is back")
    item = next(i for i in json.loads(path.read_text())["incidents"] if i["id"] == incident_id)
    assert (item["status"], item["next_update_at"]) == ("resolved", None)
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_written_feed_is_readable_by_everyone(tmp_path):
    path = tmp_path / "feed.json"
    old = os.umask(0o022)
    try:
        feed.post(path, "Disk full", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044


def test_duplicate_and_unknown_ids_are_clear_errors(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "x", incident_id="INC-1")
    with pytest.raises(MailBeaconError, match="INC-1 already exists") as dup:
        feed.post(path, "Again", "x", incident_id="INC-1")
    assert dup.value.exit_status == 1
    with pytest.raises(MailBeaconError, match="no incident with id INC-404") as unknown:
        feed.update(path, "INC-404", message="x")
    assert unknown.value.exit_status == 1
    with pytest.raises(MailBeaconError):
        feed.resolve(path, "INC-404")


def test_garbage_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "feed.json"
    path.write_text("important notes, not json", encoding="utf-8")
    with pytest.raises(MailBeaconError, match="not valid JSON"):
        feed.post(path, "Disk full", "x")
    assert path.read_text(encoding="utf-8") == "important notes, not json"
    path.write_text(json.dumps(load("statuspage_summary.json")), encoding="utf-8")
    with pytest.raises(MailBeaconError, match="not a MailBeacon feed"):
        feed.post(path, "Disk full", "x")


def test_post_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(MailBeaconError, match="does not exist"):
        feed.post(tmp_path / "nope" / "feed.json", "Disk full", "x")


def test_affects_other_services_are_hidden_from_mail_users(tmp_path):
    path = tmp_path / "feed.json"
    feed.post(path, "Printer jam", "x", affects=["printing"])
    assert feed.FeedReader(str(path)).read(2)["incidents"] == []


def test_old_resolved_incidents_are_pruned_on_write(tmp_path):
    path = tmp_path / "feed.json"
    long_ago = datetime.now(UTC) - timedelta(days=40)
    feed.post(path, "Old", "x", incident_id="INC-OLD", now=long_ago)
    feed.resolve(path, "INC-OLD", now=long_ago)
    feed.post(path, "Open but old", "x", incident_id="INC-OPEN", now=long_ago)
    feed.post(path, "New", "x", incident_id="INC-NEW")
    ids = [i["id"] for i in json.loads(path.read_text(encoding="utf-8"))["incidents"]]
    assert ids == ["INC-NEW", "INC-OPEN"]


def test_incident_lines_carry_message_and_times_for_the_details_window():
    from datetime import UTC, datetime

    from app.feed import incident_lines

    now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    it_status = {
        "source": "native", "fetched_at": "2026-03-04T10:00:00Z", "error": None, "stale": False,
        "incidents": [{"id": "INC-1", "title": "Mail server disk full", "status": "identified",
                       "message": "Freeing space", "updated_at": "2026-03-04T09:40:00Z",
                       "next_update_at": "2026-03-04T10:30:00Z"}],
    }
    (line,) = incident_lines(it_status, now=now)
    local = datetime(2026, 3, 4, 9, 40, tzinfo=UTC).astimezone().strftime("%H:%M")
    nxt = datetime(2026, 3, 4, 10, 30, tzinfo=UTC).astimezone().strftime("%H:%M")
    assert line == (f"IT is aware: Mail server disk full (cause found). Freeing space. "
                    f"Last updated {local} (20 min ago). Next update {nxt}.")
    broken = dict(it_status, error="The IT status feed could not be read: timed out.", stale=True)
    assert incident_lines(broken, now=now)[-1].endswith("Showing what IT posted last.")
    assert incident_lines(None) == [] and incident_lines({"incidents": [], "error": None}) == []


# ---------------------------------------------------------------- concurrency


def _post_in_child(path: str, title: str) -> None:
    feed.post(path, title, "x")


def test_two_it_people_posting_at_once_lose_nothing(tmp_path):
    # separate processes, as two admins on two machines would be: each reads, changes and
    # renames; without a lock the later rename drops the other's incident
    import multiprocessing

    path = tmp_path / "feed.json"
    feed.create_empty(path)
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_post_in_child, args=(str(path), f"T{n}")) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
        assert worker.exitcode == 0
    incidents = json.loads(path.read_text(encoding="utf-8"))["incidents"]
    assert sorted(i["title"] for i in incidents) == [f"T{n}" for n in range(8)]
    assert len({i["id"] for i in incidents}) == 8  # and no two got the same id
    assert not list(tmp_path.glob(".*"))  # no temp or lock file left behind


def test_a_laptop_reading_while_it_writes_never_sees_half_a_file(tmp_path):
    import threading

    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "x" * 20_000, incident_id="INC-1")
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            written[0] += 1
            feed.update(path, "INC-1", message=f"update {written[0]} " + "y" * (written[0] % 7000))

    writer = threading.Thread(target=write)
    writer.start()
    errors, reads = [], 0
    try:
        # a count of reads made while writes go on, not a time window: a slow or busy machine
        # takes longer but tests the same thing (the deadline only stops a hung writer)
        first_write = written[0]
        deadline = time.monotonic() + 60
        while (reads < 30 or written[0] - first_write < 30) and time.monotonic() < deadline:
            status = feed.FeedReader(str(path)).read(2)  # a fresh reader: no 'not modified'
            reads += 1
            if status["error"] or [i["id"] for i in status["incidents"]] != ["INC-1"]:
                errors.append(status["error"])
    finally:
        stop.set()
        writer.join(10)
    assert reads >= 30 and written[0] - first_write >= 30
    assert errors == []


def test_a_colleagues_lock_is_waited_for_then_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "x", incident_id="INC-1")
    lock = tmp_path / ".feed.json.lock"
    lock.write_text("4242\n")
    monkeypatch.setattr(feed_write, "LOCK_WAIT_S", 0.3)
    started = time.monotonic()
    with pytest.raises(MailBeaconError, match="someone else is writing") as busy:
        feed.update(path, "INC-1", message="changed")
    assert busy.value.exit_status == 1 and time.monotonic() - started < 3
    assert json.loads(path.read_text())["incidents"][0]["message"] == "x"
    # a lock left by a crashed writer long ago does not block IT forever
    old = time.time() - feed_write.LOCK_ABANDONED_S - 5
    os.utime(lock, (old, old))
    feed.update(path, "INC-1", message="changed")
    assert json.loads(path.read_text())["incidents"][0]["message"] == "changed"
    assert not lock.exists()


def test_rename_waits_out_a_reader_holding_the_file_on_windows(tmp_path, monkeypatch):
    # Windows refuses to replace a file another process has open (a laptop reading the share)
    path = tmp_path / "feed.json"
    feed.post(path, "Disk full", "x", incident_id="INC-1")
    real_replace, refusals = os.replace, []

    def busy_then_free(src, dst):
        if len(refusals) < 3:
            refusals.append(dst)
            raise PermissionError(13, "Access is denied")
        return real_replace(src, dst)

    monkeypatch.setattr(feed_write.os, "replace", busy_then_free)
    feed.update(path, "INC-1", message="changed")
    assert len(refusals) == 3
    assert json.loads(path.read_text())["incidents"][0]["message"] == "changed"
    assert not list(tmp_path.glob(".*"))


def test_an_update_within_the_same_mtime_tick_is_not_missed(tmp_path):
    # shares and older file systems keep mtime to the second (FAT: two); "identified" and
    # "monitoring" are the same length, so mtime and size alone cannot tell the files apart
    path = tmp_path / "feed.json"
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    feed.post(path, "Disk full", "x", incident_id="INC-1", now=now)
    feed.update(path, "INC-1", status="identified", now=now)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    reader = feed.FeedReader(str(path))
    assert reader.read(2)["incidents"][0]["status"] == "identified"
    size = path.stat().st_size
    feed.update(path, "INC-1", status="monitoring", now=now)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert path.stat().st_size == size
    assert reader.read(2)["incidents"][0]["status"] == "monitoring"


def test_next_update_iso_without_zone_is_local_time(monkeypatch):
    import time
    from datetime import UTC, datetime

    from app.feed import parse_next_update

    monkeypatch.setenv("TZ", "EST+5")  # a clock that is not UTC, whatever the machine's is
    time.tzset()
    now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    local = datetime(2026, 3, 4, 17, 30).astimezone()  # 17:30 on this computer's clock
    try:
        assert parse_next_update("2026-03-04T17:30:00", now) == datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
        assert local.astimezone(UTC).hour == 22
        assert parse_next_update("2026-03-04T17:30:00Z", now) == datetime(2026, 3, 4, 17, 30, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
