"""A full disk, for real: a tiny tmpfs mounted by the test (as root). After a successful send
the outcome is still told truly (never "Nothing was sent"); a full disk while `feed post`
takes its lock, or writes the feed, is exit 73 with one line saying which file and why."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.http import HttpServer, Response
from tests.servers.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounts a tmpfs: Linux, as root",
)


@pytest.fixture
def tiny_fs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    with open(folder / "filler", "ab", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with pytest.raises(OSError):
        (folder / "probe").write_bytes(b"x" * 4096)


def cli(*args: str, home: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--config", str(config)] if config else []
    env = dict(os.environ, MAILBEACON_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "app", *args, *extra], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)


def config_for(tmp_path: Path, **report: str) -> Path:
    path = tmp_path / "mb.toml"
    path.write_text('[network]\ninternet_url = ""\n[dns]\ncontrol_name = "localhost"\n[check]\ntimeout_s = 1\n'
                    "[report]\n" + "".join(f'{k} = "{v}"\n' for k, v in report.items()))
    return path


def filling_receiver(server: HttpServer, folder: Path) -> None:
    def answer(request):
        fill(folder)  # the disk fills while the receiver takes the report
        return Response(200, body=b"ok")

    server.route("/hook", answer)


def test_a_full_disk_after_the_send_still_says_it_was_sent(tmp_path, tiny_fs):
    home = tiny_fs / "home"
    with HttpServer() as server:
        filling_receiver(server, tiny_fs)
        result = cli("report", "--json", home=home, config=config_for(tmp_path, webhook_url=server.url("/hook")))
        assert len(server.requests_to("/hook")) == 1
    assert "Nothing was sent" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["delivered"] == ["webhook"] and outcome["path"] is None
    # every channel acknowledged, so the report left the outbox: no stale record misleads anyone
    assert result.returncode == 0, result.stderr
    assert not list((home / "outbox").glob("*.json"))


def test_a_full_disk_between_channels_is_told_truly_and_exits_73(tmp_path, tiny_fs):
    home = tiny_fs / "home"
    with HttpServer() as server:
        filling_receiver(server, tiny_fs)
        config = config_for(tmp_path, webhook_url=server.url("/hook"),
                            slack_url=f"http://127.0.0.1:{free_port()}/services/T/B/X")
        result = cli("report", home=home, config=config)
    assert result.returncode == 73, result.stderr
    assert "Sent to IT via webhook." in result.stdout
    assert "Waiting to send via slack" in result.stdout
    assert "Nothing was sent" not in result.stdout + result.stderr
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "could not record the outcome in the outbox" in err[0]
    assert "no space left on device" in err[0].lower()
    # the report is kept for the channel still waiting
    assert len(list((home / "outbox").glob("*.json"))) == 1


def test_feed_post_on_a_full_disk_exits_73_with_one_clear_line(tmp_path, tiny_fs):
    feed = tiny_fs / "status.json"
    fill(tiny_fs)
    result = cli("feed", "post", "--file", str(feed), "--title", "Mail down", "--message", "Working on it",
                 home=tmp_path / "home")
    assert result.returncode == 73, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left on device" in lines[0].lower()
    assert str(tiny_fs) in lines[0]
    assert not feed.exists() and not (tiny_fs / ".status.json.lock").exists()


def test_feed_post_when_the_feed_itself_cannot_be_written_exits_73(tmp_path, tiny_fs):
    feed = tiny_fs / "status.json"
    first = cli("feed", "post", "--file", str(feed), "--title", "Mail down", "--message", "x",
                home=tmp_path / "home")
    assert first.returncode == 0, first.stderr
    before = feed.read_bytes()
    # room for the lock's few bytes, none for a new feed file
    (tiny_fs / "filler").unlink(missing_ok=True)
    fill(tiny_fs)
    os.truncate(tiny_fs / "filler", os.path.getsize(tiny_fs / "filler") - 4096)
    result = cli("feed", "post", "--file", str(feed), "--title", "x" * 1000, "--message", "y" * 20000,
                 home=tmp_path / "home")
    assert result.returncode == 73, result.stderr
    assert "no space left on device" in result.stderr.lower()
    assert feed.read_bytes() == before  # the old feed is intact: the write was atomic
