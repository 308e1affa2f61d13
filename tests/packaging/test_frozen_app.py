"""The PyInstaller build on Linux: its command line, resources and version, and its tray icon."""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, need

pytestmark = [pytest.mark.packaging, pytest.mark.slow]
ARTIFACTS = ROOT / "tests" / "packaging" / "artifacts"


def run(exe: Path, *args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_version_comes_from_pyproject(frozen_exe, frozen_env):
    with (ROOT / "pyproject.toml").open("rb") as fh:
        version = tomllib.load(fh)["project"]["version"]
    result = run(frozen_exe, "--version", env=frozen_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"MailBeacon {version}"
    # one metadata folder only: a developer's stale mailbeacon.egg-info must not outvote it
    internal = frozen_exe.parent / "_internal"
    assert sorted(p.name for p in internal.glob("mailbeacon*-info")) == [f"mailbeacon-{version}.dist-info"]


def test_resources_are_inside_the_bundle(frozen_exe):
    resources = frozen_exe.parent / "_internal" / "app" / "resources"
    assert (resources / "mailbeacon.svg").is_file()
    assert any((resources / "icons").glob("*.svg"))


def test_unused_qt_is_left_out(frozen_exe):
    internal = frozen_exe.parent / "_internal"
    names = [p.name for p in internal.rglob("*")]
    for unwanted in ("libQt6Qml.so.6", "libQt6Quick.so.6", "libQt6Pdf.so.6", "libqgtk3.so", "libqwayland.so"):
        assert unwanted not in names
    assert not list(internal.rglob("translations/*.qm"))
    assert "libqxcb.so" in names and "libqsvg.so" in names


def test_check_json_against_local_server(frozen_exe, frozen_env, tmp_path):
    pytest.importorskip("aiosmtpd")
    from app.demo import Demo

    demo = Demo(tmp_path / "server", hub=False)
    demo.start()
    try:
        result = run(frozen_exe, "check", "--json", "--config", str(demo.config_path), env=frozen_env)
    finally:
        demo.stop()
    assert result.returncode == 0, result.stderr
    diagnosis = json.loads(result.stdout)
    assert diagnosis["verdict"] == "ok"
    smtp = [c for c in diagnosis["checks"] if c["kind"] == "smtp"]
    assert smtp and smtp[0]["status"] == "ok"
    assert smtp[0]["data"]  # TLS facts: the bundled ssl and certificate parsing work


def test_config_error_exit_status(frozen_exe, frozen_env, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[check]\ninterval_s = 1\n", encoding="utf-8")
    result = run(frozen_exe, "check", "--config", str(bad), env=frozen_env)
    assert result.returncode == 78
    assert "check.interval_s" in result.stderr and "Traceback" not in result.stderr


def test_feed_post_from_frozen_binary(frozen_exe, frozen_env, tmp_path):
    feed = tmp_path / "feed.json"
    result = run(frozen_exe, "feed", "post", "--file", str(feed), "--title", "Mail down",
                 "--message", "Working on it", env=frozen_env)
    assert result.returncode == 0, result.stderr
    incident_id = result.stdout.strip()
    data = json.loads(feed.read_text(encoding="utf-8"))
    assert [i["id"] for i in data["incidents"]] == [incident_id]


def test_frozen_tray_shows_its_icon(frozen_exe, frozen_env, tmp_path):
    need("Xvfb", "trayer", "import")
    pytest.importorskip("aiosmtpd")
    from app.demo import Demo
    from tests.desktop import Screen, stop, wait_for_colour

    demo = Demo(tmp_path / "server", hub=False)
    demo.start()
    screen = Screen()
    env = dict(frozen_env, DISPLAY=screen.display)
    started = time.monotonic()
    tray = subprocess.Popen([str(frozen_exe), "tray", "--config", str(demo.config_path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shot = ARTIFACTS / "frozen-tray.png"
        counts = wait_for_colour(screen, "green", shot, timeout=30)
        print(f"\nscreenshot: {shot} {counts}; icon after {time.monotonic() - started:.1f} s")
        assert tray.poll() is None
    finally:
        stop(tray)
        screen.close()
        demo.stop()
    log = tray.stderr.read().decode(errors="replace")
    assert "Traceback" not in log, log[-2000:]
