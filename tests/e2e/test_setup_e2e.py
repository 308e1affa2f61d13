"""A new user's first start on a virtual screen with a real tray host: a fresh home, no
endpoints; the set-up window appears; an address of a domain that publishes nothing opens the
manual form; the company address finds SMTP and IMAP (dnslib DNS, HTTPS autoconfig on a random
127.x.y.z:443, aiosmtpd, Dovecot), checks both green; Enter saves; the icon turns green.

Screenshots of each state land in tests/e2e/artifacts/ (ignored by git); their paths are printed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop import Screen, stop, wait_for_colour
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.imap import run_dovecot
from tests.servers.maildomain import MailDomain, named_cert

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

def wait_for_log(log_file: Path, text: str, after: int, timeout: float) -> int:
    """Wait until the tray's log has `text` past offset `after`; returns the new offset."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = log_file.read_text(errors="replace") if log_file.exists() else ""
        found = data.find(text, after)
        if found >= 0:
            return found + len(text)
        time.sleep(0.2)
    raise AssertionError(f"the tray never logged {text!r}; log:\n{data[-3000:]}")


def shot_window(screen: Screen, window: str, name: str) -> Path:
    time.sleep(0.6)  # let the last repaint reach the screen
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", window, str(path)], env=screen.env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    print(f"screenshot: {path}")
    return path


def test_first_run_window_gets_a_fresh_tray_to_green(screen, certs, tmp_path_factory):  # noqa: F811
    home = tmp_path_factory.mktemp("home")
    with run_dovecot(tmp_path_factory.mktemp("dc"), certs, named_cert(certs, "imap.corp.test")) as dovecot, \
            MailDomain(certs, "corp.test", imap_port=dovecot.ports["imaps"]) as world:
        env = dict(screen.env, PYTHONPATH=str(ROOT), MAILBEACON_HOME=str(home), NO_PROXY="*",
                   **world.env())
        # green means "it works": a loaded CI machine must not turn a working server "slow"
        env["MAILBEACON_CHECK_SLOW_MS"] = "20000"
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(var, None)
        app = subprocess.Popen([sys.executable, "-m", "app", "-v", "tray"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log_file = home / "logs" / "mailbeacon.log"
        try:
            window = screen.find_window("Set up MailBeacon", timeout=60)
            assert window, "the set-up window never appeared"
            shot_window(screen, window, "setup-empty.png")
            screen.xdotool("windowfocus", "--sync", window)

            # a domain that publishes nothing: the manual form, focused on the first server
            screen.xdotool("type", "--delay", "15", "sam@nowhere.test")
            screen.xdotool("key", "Return")
            offset = wait_for_log(log_file, "discovery answered none", 0, timeout=60)
            shot_window(screen, window, "setup-nothing-found.png")

            # back to the address (Alt+E), the company address, Enter finds and checks
            screen.xdotool("key", "alt+e", "ctrl+a")
            screen.xdotool("type", "--delay", "15", world.address)
            screen.xdotool("key", "Return")
            offset = wait_for_log(log_file, "discovery answered autoconfig with 2", offset, timeout=60)
            offset = wait_for_log(log_file, "set-up: check done:", offset, timeout=60)
            data = log_file.read_text(errors="replace")
            assert "smtp smtp.corp.test:" in data and data.count(" ok", offset - 200) >= 2, data[-1500:]
            shot_window(screen, window, "setup-found-checked.png")

            screen.xdotool("key", "Return")  # Save is now the default button
            wait_for_log(log_file, "set-up: saved to", offset, timeout=30)
            green_png = ARTIFACTS / "setup-tray-green.png"
            green = wait_for_colour(screen, "green", green_png, timeout=60)
            print(f"screenshot: {green_png} {green}")
            assert green["red"] == 0
            saved = (home / "mailbeacon.toml").read_text()
            assert "smtp.corp.test" in saved and "imap.corp.test" in saved and "jane@corp.test" in saved
            assert app.poll() is None
        finally:
            stop(app)
            if log_file.exists():  # shown by pytest when the test fails
                print(log_file.read_text(errors="replace")[-4000:])
    log = app.stderr.read().decode(errors="replace")
    assert app.returncode == 0, log[-2000:]
