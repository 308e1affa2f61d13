"""A real desktop for end-to-end tests and benchmarks: Xvfb on a free display with trayer as the
system tray, screenshots with ImageMagick, clicks with xdotool, and the tray icon's colours."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

TOOLS = ("Xvfb", "trayer", "xdotool", "import")
WIDTH, HEIGHT = 1024, 600
# trayer sits at the top right; the newest (only) icon is the right-most 32x32 cell
ICON_BOX = (WIDTH - 40, 0, WIDTH, 32)
ICON_CENTRE = (WIDTH - 12, 16)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


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
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        self.env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        self.env["DISPLAY"] = self.display
        self.trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
             "--tint", "0xffffff", "--transparent", "false"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        self.empty_cell = self.icon_cell()

    def shot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return path

    def icon_cell(self) -> bytes:
        """Raw RGB bytes of the tray's icon cell."""
        x0, y0, x1, y1 = ICON_BOX
        return subprocess.run(
            ["import", "-window", "root", "-crop", f"{x1 - x0}x{y1 - y0}+{x0}+{y0}", "-depth", "8", "rgb:-"],
            env=self.env, capture_output=True, timeout=10,
        ).stdout

    def icon_visible(self) -> bool:
        """The icon cell differs from the empty tray: an icon (of any colour) is on screen."""
        cell, empty = self.icon_cell(), self.empty_cell
        changed = sum(
            1 for i in range(0, min(len(cell), len(empty)) - 2, 3)
            if abs(cell[i] - empty[i]) + abs(cell[i + 1] - empty[i + 1]) + abs(cell[i + 2] - empty[i + 2]) > 60
        )
        return changed > 40

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def find_window(self, name: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], env=self.env,
                                   capture_output=True, text=True, timeout=10)
            if found.stdout.strip():
                return found.stdout.split()[0]
            time.sleep(0.3)
        return None

    def close(self) -> None:
        for proc in (self.trayer, self.xvfb):
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def icon_colours(path: Path) -> dict[str, int]:
    """How many pixels of the icon cell are green, red or other (not background)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    if image.isNull():
        raise AssertionError(f"unreadable screenshot {path}")
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
    """Screenshot until the icon cell is mostly `colour`; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            counts = icon_colours(screen.shot(path))
        except (AssertionError, subprocess.SubprocessError):
            counts = {"green": 0, "red": 0, "other": 0}  # a screenshot taken mid-redraw: retry
        dominant = max(counts, key=counts.get)
        if dominant == colour and counts[colour] >= 100:
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"tray icon never turned {colour}: {counts}; see {path}")
        time.sleep(0.5)
