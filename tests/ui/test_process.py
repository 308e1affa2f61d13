"""The tray as a process: a second launch hands off to the first; SIGTERM and SIGINT end it
within 2 s even while a probe waits on a silent server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.ui.single_instance import SingleInstance, server_name
from app.ui.tray import TrayApp
from tests.ui.conftest import dispose_tray

ROOT = Path(__file__).resolve().parents[2]


def tray_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT)
    return env


class Tarpit:
    """Accepts connections and never says a word, like a server stuck mid-greeting."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "tray.toml"
    path.write_text(
        f"""
[[endpoints]]
kind = "smtp"
host = "127.0.0.1"
port = {port}
tls = "none"
[network]
internet_url = ""
[check]
timeout_s = 8
""",
        encoding="utf-8",
    )
    return path


def test_server_name_is_per_state_folder(monkeypatch, tmp_path):
    first = server_name()
    monkeypatch.setenv("MAILBEACON_HOME", str(tmp_path / "other"))
    assert server_name() != first


def test_second_launch_asks_the_first_to_show_details_and_exits_0(qtbot, make_config, tmp_path):
    tray = TrayApp(make_config("[network]\ninternet_url = \"\""), diagnose=lambda c: None,
                   tray_available=lambda: True, watch_network=False)
    instance = SingleInstance()
    assert instance.listen()
    instance.show_requested.connect(tray.show_details)
    try:
        config = write_config(tmp_path, 9)
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "tray", "--config", str(config)],
            env=tray_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=15000)
        out, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
        qtbot.waitUntil(lambda: tray._details is not None and tray._details.isVisible(), timeout=3000)
    finally:
        instance.close()
        dispose_tray(tray)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_tray_within_2_s_while_a_probe_waits(tmp_path, signum):
    tarpit = Tarpit()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "-v", "tray", "--config", str(write_config(tmp_path, tarpit.port))],
        env=tray_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # the first check starts at once and then waits on the silent server
        assert tarpit.accepted.wait(15), "the tray never started a check"
        time.sleep(0.3)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
        assert proc.returncode == 0, proc.stderr.read().decode()
        assert elapsed < 2.0, f"took {elapsed:.2f} s to exit"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        tarpit.close()


def test_a_twin_started_at_the_same_moment_does_not_steal_the_name(qtbot):
    """Both launches found nobody to hand off to; the later one must not remove the
    earlier one's live socket (which would leave two trays and an orphan)."""
    first = SingleInstance()
    assert first.listen()
    shown = []
    first.show_requested.connect(lambda: shown.append(1))
    twin = SingleInstance()
    try:
        assert twin.listen() is False
        later = SingleInstance()
        assert later.hand_off()
        qtbot.waitUntil(lambda: shown == [1], timeout=3000)
    finally:
        twin.close()
        first.close()


def test_a_stale_socket_left_by_a_crash_is_taken_over(qtbot):
    from PySide6.QtNetwork import QLocalServer

    if sys.platform == "win32":
        pytest.skip("named pipes leave nothing behind")
    name = server_name()
    instance = SingleInstance()
    # a socket file nobody listens on, as a killed tray leaves it
    probe = QLocalServer()
    assert probe.listen(name)
    stale = Path(probe.fullServerName())
    probe.close()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(stale))
    sock.close()
    assert stale.exists()
    try:
        assert instance.listen()
    finally:
        instance.close()
