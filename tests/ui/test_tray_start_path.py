"""What the real `mailbeacon tray` has loaded by the time its icon is shown: nothing the icon does
not need (benchmarks/tray_footprint.py measures what each of these cost). Run as a child process
so the modules other tests imported do not count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, sys
import app.ui  # as `mailbeacon tray` does, before PySide6
import PySide6.QtCore
from PySide6.QtWidgets import QSystemTrayIcon
# PySide6 builds a class (and the `Qt` namespace's hundred enums) on first use, where it loads lazily
lazy = "Qt" not in vars(PySide6.QtCore)
# offscreen has no system tray; say there is one so the icon is shown as on a desktop
QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: True)
def show(self):
    maps = ""
    if os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps") as fh:
            maps = fh.read()
    with open(os.environ["START_PATH_OUT"], "w") as fh:
        json.dump({"modules": sorted(sys.modules), "maps": maps, "lazy": lazy,
                   "qt_namespace": "Qt" in vars(PySide6.QtCore)}, fh)
    os._exit(0)
QSystemTrayIcon.show = show
import app.cli
sys.exit(app.cli.main(["tray", "--config", os.environ["START_PATH_CONFIG"]]))
"""


@pytest.fixture(scope="module")
def at_icon(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("start-path")
    config = tmp / "tray.toml"
    config.write_text(
        '[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = 9\ntls = "none"\n'
        '[network]\ninternet_url = ""\n',
        encoding="utf-8",
    )
    out = tmp / "at_icon.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBEACON_")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), MAILBEACON_HOME=str(tmp / "home"),
               START_PATH_OUT=str(out), START_PATH_CONFIG=str(config))
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          timeout=60)
    assert out.exists(), f"the tray never showed its icon (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(out.read_text())


def test_the_icon_is_shown_by_the_real_tray_command(at_icon):
    assert "app.ui.tray" in at_icon["modules"] and "app.ui.icons" in at_icon["modules"]


def test_no_svg_module_or_plugin_before_the_icon(at_icon):
    """The state icons are PNGs rendered beforehand (scripts/render_icons.py)."""
    assert "PySide6.QtSvg" not in at_icon["modules"]
    if sys.platform.startswith("linux"):
        assert "Qt6Svg" not in at_icon["maps"] and "libqsvg" not in at_icon["maps"]


def test_the_qt_namespace_is_not_built_before_the_icon(at_icon):
    """Its first use builds every enum in it: about a megabyte the light does not need."""
    if not at_icon["lazy"]:
        pytest.skip("this PySide6 builds its classes at import")
    assert at_icon["qt_namespace"] is False


@pytest.mark.skipif(sys.platform == "win32", reason="Windows keeps Qt's named pipe")
def test_no_qtnetwork_before_the_icon(at_icon):
    """The single-instance socket is a plain Unix socket (app.ui.single_instance)."""
    assert "PySide6.QtNetwork" not in at_icon["modules"]
    if sys.platform.startswith("linux"):
        assert "Qt6Network" not in at_icon["maps"]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the system proxy is read through urllib there")
def test_no_http_client_stack_before_the_icon(at_icon):
    """urllib.request brings http.client, email and more; the checks load it after the icon."""
    for name in ("urllib.request", "http.client", "email.parser"):
        assert name not in at_icon["modules"], name


def test_a_good_start_loads_no_cannot_start_window(at_icon):
    """The "cannot start" window's code is for a failed start; every start installs only the
    unexpected-error hook."""
    assert "app.ui.unexpected" in at_icon["modules"]
    assert "app.ui.startup_error" not in at_icon["modules"]


def test_the_icon_needs_neither_importlib_resources_nor_metadata(at_icon):
    """Icons are read from app.resources' folder on disk; the version after the icon, and
    without importlib.metadata; IT's sentences come with the checks and Details."""
    for name in ("importlib.resources", "importlib.metadata", "app.commands.hub", "app.words.it"):
        assert name not in at_icon["modules"], name
