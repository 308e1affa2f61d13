"""The single-instance channel itself: the Unix socket the tray uses on Linux and macOS, and Qt's
QLocalServer that Windows keeps (run here on Unix too, so that code stays exercised)."""

from __future__ import annotations

import os
import socket
import stat
import sys
import time

import pytest

from app.ui import single_instance
from app.ui.single_instance import LocalServerInstance, UnixSocketInstance

BACKENDS = [LocalServerInstance]
if sys.platform != "win32":
    BACKENDS.insert(0, UnixSocketInstance)


def test_the_platform_picks_its_channel():
    expected = LocalServerInstance if sys.platform == "win32" else UnixSocketInstance
    assert single_instance.SingleInstance is expected


@pytest.mark.parametrize("kind", BACKENDS, ids=lambda k: k.__name__)
def test_a_second_launch_hands_off_and_a_twin_does_not_steal_the_name(qtbot, kind):
    first = kind()
    assert first.hand_off() is False  # nobody runs yet
    assert first.listen()
    shown = []
    first.show_requested.connect(lambda: shown.append(1))
    twin = kind()
    try:
        assert twin.name == first.name
        assert twin.listen() is False
        assert kind().hand_off()
        qtbot.waitUntil(lambda: shown == [1], timeout=3000)
        assert kind().hand_off()
        qtbot.waitUntil(lambda: shown == [1, 1], timeout=3000)
    finally:
        twin.close()
        first.close()
    assert kind().hand_off() is False  # closed: nobody answers any more


@pytest.mark.skipif(sys.platform == "win32", reason="a Unix socket file")
def test_the_socket_file_is_private_and_removed_on_close(qtbot):
    instance = UnixSocketInstance()
    assert instance.listen()
    try:
        info = os.lstat(instance.name)
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.getuid()
    finally:
        instance.close()
    assert not os.path.exists(instance.name)
    again = UnixSocketInstance()
    assert again.listen()  # a fresh start after a clean exit
    again.close()


@pytest.mark.skipif(sys.platform == "win32", reason="a Unix socket file")
def test_a_silent_or_chatty_peer_neither_blocks_nor_shows(qtbot):
    instance = UnixSocketInstance()
    assert instance.listen()
    shown = []
    instance.show_requested.connect(lambda: shown.append(1))
    silent = socket.socket(socket.AF_UNIX)
    chatty = socket.socket(socket.AF_UNIX)
    try:
        silent.connect(instance.name)
        chatty.connect(instance.name)
        chatty.sendall(b"x" * 200)
        started = time.monotonic()
        qtbot.waitUntil(lambda: len(instance._peers) == 1, timeout=3000)  # the chatty one dropped
        assert time.monotonic() - started < 2.5 and shown == []
        # the tray still answers a real hand-off while the silent peer hangs on
        assert UnixSocketInstance().hand_off()
        qtbot.waitUntil(lambda: shown == [1], timeout=3000)
    finally:
        silent.close()
        chatty.close()
        instance.close()
    assert instance._peers == {}


@pytest.mark.skipif(sys.platform == "win32", reason="a Unix socket file")
def test_something_else_at_the_socket_path_is_left_alone(tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("keep me", encoding="utf-8")
    instance = UnixSocketInstance(name=str(path))
    assert instance.listen() is False
    assert path.read_text(encoding="utf-8") == "keep me"
