"""Every file MailBeacon creates is private to the user (0600, folders 0700) whatever the umask:
the history database with its -wal/-shm, the outbox and its failed/ folder, the lock, the log.
IT's feed file is the exception by design: every laptop must read it."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.diagnosis.model import Check, Diagnosis
from app.history import History
from app.report.channels import REFUSED, Channel, Result
from app.report.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))}


def assert_private(root: Path) -> None:
    found = modes(root)
    assert found
    for name, mode in found.items():
        wanted = 0o700 if (root / name).is_dir() else 0o600
        assert mode == wanted, f"{name} is {oct(mode)}"


def diagnosis() -> Diagnosis:
    check = Check(id="smtp a:587", kind="smtp", target="a:587", status="fail", code="tcp_refused", detail="no")
    return Diagnosis("down", "server", "Mail is down", "Wait", "2026-01-01T00:00:00.000Z", 1.0, [check])


def test_history_and_its_wal_files_are_private_under_a_permissive_umask(tmp_path):
    with umask(0o022):
        home = tmp_path / "state"
        with History(home / "history.sqlite3") as history:
            history.record(diagnosis(), confirmed=True)
            assert (home / "history.sqlite3-wal").exists()
            assert_private(home)


class Refuses(Channel):
    name = "webhook"

    def send(self, report, body):
        return Result(REFUSED, "HTTP 400 Bad Request")


def test_outbox_files_and_folders_are_private(tmp_path):
    with umask(0o000):
        outbox = Outbox(tmp_path / "data" / "outbox")
        outcome = outbox.submit({"id": "r1", "schema": 1}, {"webhook": Refuses()})
        assert outcome.failed
        outbox.save({"id": "r2", "schema": 1}, ["webhook"])
    assert (tmp_path / "data" / "outbox" / "failed" / "r1.reason.txt").exists()
    assert (tmp_path / "data" / "outbox" / ".lock").exists()
    assert_private(tmp_path / "data")


def test_the_command_line_creates_only_private_files_and_a_readable_feed(tmp_path, isolated_home):
    config = tmp_path / "mb.toml"
    config.write_text('[network]\ninternet_url = ""\n[dns]\ncontrol_name = "localhost"\n[check]\ntimeout_s = 1\n')
    feed = tmp_path / "shared" / "status.json"
    feed.parent.mkdir()
    env = dict(os.environ)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "-m", "app", *args],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
        )

    report = run("report", "--config", str(config))
    assert report.returncode == 78, report.stderr  # no channel: saved in the outbox
    assert list((isolated_home / "outbox").glob("*.json"))
    posted = run("feed", "post", "--file", str(feed), "--title", "Mail down", "--message", "Working on it")
    assert posted.returncode == 0, posted.stderr
    assert_private(isolated_home)
    # IT's feed is shared with every laptop: it keeps the mode IT's own umask gives
    assert stat.S_IMODE(feed.stat().st_mode) == 0o644
