"""History on a real SQLite file: confirmed changes only, windows, limits, pruning, threads."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.diagnosis.model import Check, Diagnosis
from app.history import History
from app.jsonio import iso_utc
from app.paths import user_paths

NOW = datetime.now(UTC).replace(microsecond=0)


def diag(verdict: str, at: datetime = NOW, headline: str | None = None) -> Diagnosis:
    checks = [Check("dns", "dns", "example.com", "ok", "ok", "", 3.0)]
    if verdict == "down":
        checks.append(Check("smtp", "smtp", "mail.example.com:587", "fail", "tcp_refused", "no"))
        checks.append(Check("imap", "imap", "mail.example.com:993", "fail", "tcp_timeout", "no"))
    elif verdict == "degraded":
        checks.append(Check("smtp", "smtp", "mail.example.com:587", "warn", "slow", "2 s"))
    return Diagnosis(
        verdict=verdict,
        layer={"down": "server", "degraded": "service"}.get(verdict, "none"),
        headline=headline or f"headline {verdict}",
        advice="advice",
        checked_at=iso_utc(at),
        duration_ms=42.0,
        checks=checks,
        it_status={"id": "inc-1"} if verdict == "down" else None,
    )


@pytest.fixture
def history():
    h = History(user_paths().history_db)
    yield h
    h.close()


def test_file_lives_in_the_data_folder(history, isolated_home):
    assert history.path == isolated_home / "history.sqlite3"
    assert history.path.exists()


def test_changes_only_on_confirmed_verdict_changes(history):
    t0 = NOW - timedelta(hours=2)
    history.record(diag("ok", t0), confirmed=True)
    history.record(diag("ok", t0 + timedelta(minutes=1)), confirmed=True)  # same verdict
    history.record(diag("down", t0 + timedelta(minutes=2)), confirmed=False)  # not confirmed
    history.record(diag("down", t0 + timedelta(minutes=3)), confirmed=True)
    history.record(diag("down", t0 + timedelta(minutes=4)), confirmed=True)
    history.record(diag("ok", t0 + timedelta(minutes=50)), confirmed=True)
    rows = history.changes(NOW - timedelta(hours=24))
    assert [r["verdict"] for r in rows] == ["ok", "down", "ok"]
    assert rows[1] == {
        "at": iso_utc(t0 + timedelta(minutes=3)),
        "verdict": "down",
        "layer": "server",
        "headline": "headline down",
        "codes": ["tcp_refused", "tcp_timeout"],
    }
    assert rows[1]["at"].endswith("Z")
    assert history.current_since() == t0 + timedelta(minutes=50)


def test_degraded_change_lists_warning_codes(history):
    history.record(diag("degraded"), confirmed=True)
    assert history.changes(NOW - timedelta(hours=1))[0]["codes"] == ["slow"]


def test_24h_window(history):
    history.record(diag("down", NOW - timedelta(hours=30)), confirmed=True)
    history.record(diag("ok", NOW - timedelta(hours=25)), confirmed=True)
    history.record(diag("down", NOW - timedelta(hours=3)), confirmed=True)
    history.record(diag("ok", NOW - timedelta(hours=1)), confirmed=True)
    rows = history.changes(NOW - timedelta(hours=24))
    assert [r["at"] for r in rows] == [
        iso_utc(NOW - timedelta(hours=3)),
        iso_utc(NOW - timedelta(hours=1)),
    ]


def test_limit_keeps_the_newest_oldest_first(history):
    for i in range(150):
        history.record(diag("down" if i % 2 else "ok", NOW - timedelta(minutes=150 - i)),
                       confirmed=True)
    rows = history.changes(NOW - timedelta(hours=24))
    assert len(rows) == 100
    assert rows[0]["at"] == iso_utc(NOW - timedelta(minutes=100))
    assert rows[-1]["at"] == iso_utc(NOW - timedelta(minutes=1))
    assert rows == sorted(rows, key=lambda r: r["at"])
    assert len(history.changes(NOW - timedelta(hours=24), limit=5)) == 5


def test_prune_after_30_days_keeps_the_current_state(history):
    history.record(diag("down", NOW - timedelta(days=40)), confirmed=True)
    history.record(diag("ok", NOW - timedelta(days=35)), confirmed=True)
    history.record(diag("down", NOW - timedelta(days=29)), confirmed=True)
    history.record(diag("ok", NOW - timedelta(days=1)), confirmed=True)
    assert history.prune(30) == 2
    assert [r["verdict"] for r in history.changes(NOW - timedelta(days=365))] == ["down", "ok"]
    assert history.prune(30) == 0


def test_prune_never_drops_the_newest_change(history):
    history.record(diag("ok", NOW - timedelta(days=90)), confirmed=True)
    assert history.prune(30) == 0
    assert history.current_since() == NOW - timedelta(days=90)


def test_last_diagnosis_round_trip_and_survives_reopen(history):
    assert history.last_diagnosis() is None
    d = diag("down")
    history.record(d, confirmed=False)
    got = history.last_diagnosis()
    assert got is not None
    assert got.to_json() == d.to_json()
    history.close()
    again = History(user_paths().history_db)
    try:
        assert again.last_diagnosis().to_json() == d.to_json()
        assert again.changes(NOW - timedelta(days=1)) == []  # unconfirmed: no change row
    finally:
        again.close()


def test_empty_history(history):
    assert history.current_since() is None
    assert history.changes(NOW - timedelta(days=1)) == []


def test_threads_can_share_one_history(history):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                verdict = "down" if (i + n) % 2 else "ok"
                history.record(diag(verdict, NOW - timedelta(seconds=i)), confirmed=True)
                history.changes(NOW - timedelta(hours=1))
                history.last_diagnosis()
        except BaseException as exc:  # collected and asserted in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors
    assert not any(t.is_alive() for t in threads)
    rows = history.changes(NOW - timedelta(hours=1), limit=1000)
    assert rows
    # consecutive change rows never repeat a verdict (recorded by insertion order)
    db = sqlite3.connect(history.path)
    verdicts = [v for (v,) in db.execute("SELECT verdict FROM changes ORDER BY id")]
    db.close()
    assert all(a != b for a, b in zip(verdicts, verdicts[1:], strict=False))


def test_corrupt_file_is_moved_aside(isolated_home):
    path = user_paths().history_db
    path.write_bytes(b"this is not a database" * 100)
    h = History(path)
    try:
        h.record(diag("ok"), confirmed=True)
        assert h.current_since() == NOW
    finally:
        h.close()
    assert list(isolated_home.glob("history.sqlite3.corrupt-*"))
