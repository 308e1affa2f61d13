"""The real tray on a virtual screen with a real tray host: green against a live SMTP server,
then red after the server stops and "Check now" is chosen from the tray menu with xdotool.

Screenshots land in tests/e2e/artifacts/ (ignored by git); their paths are printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TOOLS = ("Xvfb", "trayer", "xdotool", "import")
WIDTH, HEIGHT = 1024, 600
# trayer sits at the top right; the newest (only) icon is the right-most 32x32 cell
ICON_BOX = (WIDTH - 40, 0, WIDTH, 32)
ICON_CENTRE = (WIDTH - 12, 16)

missing = [t for t in TOOLS if shutil.which(t) is None]
if missing:
    pytest.skip(
        f"needs {', '.join(missing)} (apt-get install xvfb trayer xdotool imagemagick)",
        allow_module_level=True,
    )


class Screen:
    """Xvfb on a free display plus trayer as the system tray."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not start"
        self.display = f":{number}"
        self.env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        self.env["DISPLAY"] = self.display
        self.trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
             "--tint", "0xffffff", "--transparent", "false"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)

    def shot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return path

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def close(self) -> None:
        for proc in (self.trayer, self.xvfb):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def icon_colours(path: Path) -> dict[str, int]:
    """How many pixels of the icon cell are green, red or other (not background)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), path
    counts = {"green": 0, "red": 0, "other": 0}
    x0, y0, x1, y1 = ICON_BOX
    for y in range(y0, y1):
        for x in range(x0, x1):
            c = image.pixelColor(x, y)
            r, g, b = c.red(), c.green(), c.blue()
            if g > r + 50 and g > b + 30:
                counts["green"] += 1
            elif r > g + 80 and r > b + 80:
                counts["red"] += 1
            elif max(r, g, b) - min(r, g, b) > 40:
                counts["other"] += 1
    return counts


def wait_for_colour(screen: Screen, colour: str, path: Path, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = icon_colours(screen.shot(path))
        dominant = max(counts, key=counts.get)
        if dominant == colour and counts[colour] >= 100:
            return counts
        if time.monotonic() > deadline:
            pytest.fail(f"tray icon never turned {colour}: {counts}; see {path}")
        time.sleep(0.5)


@pytest.fixture
def screen():
    s = Screen()
    yield s
    s.close()


@pytest.fixture
def demo(tmp_path):
    pytest.importorskip("aiosmtpd")
    from app.demo import Demo

    d = Demo(tmp_path / "server")
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
        # the headline line is disabled, so the first item the keyboard reaches is "Check now"
        screen.xdotool("key", "Down", "Return")

        red_png = ARTIFACTS / "tray-red.png"
        red = wait_for_colour(screen, "red", red_png, timeout=20)
        print(f"screenshot: {red_png} {red}")
        assert red["green"] == 0
        assert app.poll() is None
    finally:
        app.terminate()
        try:
            app.wait(5)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    log = app.stderr.read().decode(errors="replace")
    assert app.returncode == 0, log[-2000:]
