"""Another local user cannot squat the tray's single-instance socket: the socket lives in a
folder only this user can create, a folder someone else made first is not used, and a socket
held by another user is never handed off to (peer credentials are checked). The other user is
real: created with useradd for the test, its squatter a separate process running as it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from app.ui import single_instance
from app.ui.single_instance import SingleInstance, server_name, socket_basename

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="needs root and useradd to create the other local user",
)

SQUATTER = r"""
import os, socket, sys
log = sys.argv[1]
sockets = []
for path in sys.argv[2:]:
    if not os.path.isdir(os.path.dirname(path)):
        os.mkdir(os.path.dirname(path))
        os.chmod(os.path.dirname(path), 0o777)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen(5)
    s.settimeout(0.2)
    sockets.append(s)
print("ready", flush=True)
import time
end = time.monotonic() + 30
while time.monotonic() < end:
    for s in sockets:
        try:
            c, _ = s.accept()
        except OSError:
            continue
        c.settimeout(1)
        try:
            data = c.recv(100)
        except OSError:
            data = b""
        with open(log, "ab") as fh:
            fh.write(b"got:" + data + b"\n")
        c.close()
"""


@pytest.fixture
def other_user():
    name = f"mbpeer{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def shared_tmp(monkeypatch):
    """A world-writable sticky folder like /tmp, used as the temp folder for this test only."""
    base = Path(tempfile.mkdtemp(prefix="mb-shared-", dir="/tmp"))
    os.chmod(base, 0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def squat(user: str, log: Path, *paths: Path) -> subprocess.Popen:
    log.touch()
    os.chmod(log, 0o666)
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", sys.executable, "-c", SQUATTER,
         str(log), *map(str, paths)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": os.environ.get("PATH", "")}, cwd="/",
    )
    line = proc.stdout.readline()
    assert line.strip() == b"ready", proc.stderr.read().decode()
    return proc


def test_another_user_binding_first_neither_stops_the_tray_nor_gets_the_hand_off(qtbot, other_user, shared_tmp):
    name = socket_basename()
    squatted_dir = shared_tmp / f"mailbeacon-{os.getuid()}"
    legacy = shared_tmp / name  # where the name alone put the socket before: anyone could bind it
    log = shared_tmp / "squatter.log"
    proc = squat(other_user, log, squatted_dir / name, legacy)
    try:
        assert os.lstat(squatted_dir).st_uid != os.getuid()
        first = SingleInstance()
        assert not first.name.startswith(str(squatted_dir)) and first.name != str(legacy)
        folder = Path(first.name).parent
        info = os.lstat(folder)
        assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700
        # nobody of ours runs yet: no hand-off to the squatter, and the tray takes its own name
        assert first.hand_off() is False
        assert first.listen()
        shown = []
        first.show_requested.connect(lambda: shown.append(1))
        second = SingleInstance()
        assert second.name == first.name
        assert second.hand_off()
        qtbot.waitUntil(lambda: shown == [1], timeout=3000)
        # pointed straight at a socket another user holds, the peer check refuses to hand off
        assert SingleInstance(name=str(legacy)).hand_off() is False
        assert SingleInstance(name=str(squatted_dir / name))._answers() is False
        first.close()
    finally:
        proc.kill()
        proc.wait()
    assert b"show" not in log.read_bytes()


def test_the_socket_lives_in_a_private_runtime_dir(monkeypatch, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert Path(server_name()).parent == runtime
    # a runtime dir others may write to is not trusted
    os.chmod(runtime, 0o777)
    assert Path(server_name()).parent != runtime
    assert single_instance.runtime_dir() != runtime
