"""A real tray process started with a bad config file, on a virtual screen with a tray host: it
shows its icon and the "cannot start" window, writes the error to its log file, and turns into
the normal (green) tray once the file is fixed by an editor-style atomic save.

Screenshots land in tests/e2e/artifacts/ (ignored by git); their paths are printed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop import ICON_CENTRE, icon_colours, stop, wait_for_colour

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def bad_demo(tmp_path):
    """The demo's mail server, with a mistake in the config file the tray is pointed at."""
    pytest.importorskip("aiosmtpd")
    from app.demo import Demo

    d = Demo(tmp_path / "server", hub=False)
    # slow_ms high: on a busy machine a slow answer would turn the fixed tray amber, not green
    d.config_sections["check"] = {"interval_s": "every minute", "confirm_after_s": 1, "timeout_s": 10,
                                  "slow_ms": 60000}
    d.start()
    yield d
    d.stop()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_bad_config_shows_the_problem_then_starts_once_fixed(screen, bad_demo, tmp_path):
    home = tmp_path / "home"
    env = dict(screen.env, PYTHONPATH=str(ROOT), MAILBEACON_HOME=str(home))
    log_file = home / "logs" / "mailbeacon.log"
    app = subprocess.Popen(
        [sys.executable, "-m", "app", "tray", "--config", str(bad_demo.config_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        # generous bounds: a loaded machine (or the shifted-clock run) starts Python slowly
        window = screen.find_window("MailBeacon cannot start", timeout=90)
        assert window, "the cannot-start window never opened"
        assert wait_until(screen.icon_visible, 30, "the tray icon")
        shot = screen.shot(ARTIFACTS / "cannot-start.png")
        grey = icon_colours(shot)
        print(f"\nscreenshot: {shot} {grey}")
        assert grey["green"] == 0 and grey["red"] == 0  # the grey "not working" icon
        assert app.poll() is None  # it did not exit: it waits for the fix
        screen.xdotool("mousemove", str(ICON_CENTRE[0]), str(ICON_CENTRE[1]), "click", "3")
        time.sleep(1.0)
        print(f"screenshot: {screen.shot(ARTIFACTS / 'cannot-start-menu.png')}")
        screen.xdotool("key", "Escape")

        logged = log_file.read_text(encoding="utf-8")
        assert "MailBeacon cannot start: the setting check.interval_s" in logged
        assert f"{bad_demo.config_path}:" in logged  # the full path and line for IT

        # an editor's save: a new file renamed over the old one
        bad_demo.config_sections["check"]["interval_s"] = 300
        new = bad_demo.config_path.with_name("mailbeacon.toml.new")
        new.write_text(bad_demo.config_path.read_text(encoding="utf-8").replace(
            '"every minute"', "300"), encoding="utf-8")
        os.replace(new, bad_demo.config_path)

        green_png = ARTIFACTS / "cannot-start-fixed.png"
        counts = wait_for_colour(screen, "green", green_png, timeout=90)
        print(f"screenshot: {green_png} {counts}")
        assert screen.find_window("MailBeacon cannot start", timeout=1) is None
        assert wait_until(lambda: "tray running" in log_file.read_text(encoding="utf-8"), 30,
                          "the tray's start in the log")
        assert app.poll() is None
    finally:
        stop(app)
    err = app.stderr.read().decode(errors="replace")
    assert app.returncode == 0, err[-2000:]
    assert "Traceback" not in err
