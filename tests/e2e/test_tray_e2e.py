"""The real tray on a virtual screen with a real tray host: green against a live SMTP server,
then red after the server stops and "Check now" is chosen from the tray menu with xdotool.

Screenshots land in tests/e2e/artifacts/ (ignored by git); their paths are printed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop import ICON_CENTRE, Screen, missing_tools, stop, wait_for_colour

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

missing = missing_tools()
if missing:
    pytest.skip(
        f"needs {', '.join(missing)} (apt-get install xvfb trayer xdotool imagemagick)",
        allow_module_level=True,
    )


@pytest.fixture
def screen():
    s = Screen()
    yield s
    s.close()


@pytest.fixture
def demo(tmp_path):
    pytest.importorskip("aiosmtpd")
    from app.demo import Demo

    d = Demo(tmp_path / "server", hub=False)
    # a long interval: only "Check now" can explain a change within the test
    d.config_sections["check"] = {"interval_s": 300, "confirm_after_s": 1, "timeout_s": 3}
    d.start()
    yield d
    d.stop()


def test_tray_turns_from_green_to_red_after_check_now(screen, demo):
    env = dict(screen.env, PYTHONPATH=str(ROOT))
    app = subprocess.Popen(
        [sys.executable, "-m", "app", "-v", "tray", "--config", str(demo.config_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        green_png = ARTIFACTS / "tray-green.png"
        green = wait_for_colour(screen, "green", green_png, timeout=20)
        print(f"\nscreenshot: {green_png} {green}")
        assert green["red"] == 0

        demo.simulate_outage()
        screen.xdotool("mousemove", str(ICON_CENTRE[0]), str(ICON_CENTRE[1]), "click", "3")
        time.sleep(1.0)
        menu_png = screen.shot(ARTIFACTS / "tray-menu.png")
        print(f"screenshot: {menu_png}")
        # the first item the keyboard reaches is the headline (it opens Details), then "Check now"
        screen.xdotool("key", "Down", "Down", "Return")

        red_png = ARTIFACTS / "tray-red.png"
        red = wait_for_colour(screen, "red", red_png, timeout=20)
        print(f"screenshot: {red_png} {red}")
        assert red["green"] == 0
        assert app.poll() is None
    finally:
        stop(app)
    log = app.stderr.read().decode(errors="replace")
    assert app.returncode == 0, log[-2000:]
