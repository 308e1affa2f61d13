"""End to end on Xvfb + trayer: right-click the tray, choose "Report a problem…", press Enter,
and a local webhook receiver gets the report, with the diagnosis of a real local SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop import ICON_CENTRE, Screen, stop
from tests.e2e.test_tray_e2e import ARTIFACTS, ROOT
from tests.servers.receiver import Receiver
from tests.servers.smtp import SMTPServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def screen():
    s = Screen()
    yield s
    s.close()


def test_report_from_the_tray_menu_reaches_the_receiver(screen, tmp_path):
    with Receiver() as rx, SMTPServer(mode="plain") as smtp:
        cfg = tmp_path / "mb.toml"
        cfg.write_text(
            '[network]\ninternet_url = ""\n[dns]\ncontrol_name = "localhost"\n'
            f'[check]\ninterval_s = 300\ntimeout_s = 2\n[report]\nwebhook_url = "{rx.url}"\n'
            f'[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {smtp.port}\ntls = "none"\n',
            encoding="utf-8",
        )
        env = dict(screen.env, PYTHONPATH=str(ROOT), MAILBEACON_HOME=os.environ["MAILBEACON_HOME"])
        app = subprocess.Popen([sys.executable, "-m", "app", "-v", "tray", "--config", str(cfg)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(3.0)  # the icon docks in trayer
            dialog = None
            for _attempt in range(3):
                screen.xdotool("mousemove", str(ICON_CENTRE[0]), str(ICON_CENTRE[1]), "click", "3")
                time.sleep(1.0)
                screen.shot(ARTIFACTS / "report-menu.png")
                # Down reaches the headline (it opens Details), then "Check now", then "Report a problem…"
                screen.xdotool("key", "Down", "Down", "Down", "Return")
                dialog = screen.find_window("Report a problem to IT", timeout=5)
                if dialog:
                    break
                screen.xdotool("key", "Escape")
            assert dialog, f"the report dialog never opened; see {ARTIFACTS / 'report-menu.png'}"
            screen.xdotool("windowfocus", "--sync", dialog)
            time.sleep(0.5)
            screen.shot(ARTIFACTS / "report-dialog.png")
            # the note has the focus and takes several lines: Ctrl+Enter sends
            screen.xdotool("key", "ctrl+Return")
            deadline = time.monotonic() + 20
            while not rx.requests and time.monotonic() < deadline:
                time.sleep(0.2)
            screen.shot(ARTIFACTS / "report-sent.png")
            assert len(rx.requests) == 1, f"no report arrived; see {ARTIFACTS / 'report-sent.png'}"
            report = rx.requests[0].json()
            assert rx.requests[0].headers["Idempotency-Key"] == report["id"]
            # the one endpoint is a working SMTP server on loopback: the report carries "ok" for it
            diagnosis = report["diagnosis"]
            assert (diagnosis["verdict"], diagnosis["layer"]) == ("ok", "none"), diagnosis
            (smtp_check,) = [c for c in diagnosis["checks"] if c["kind"] == "smtp"]
            assert smtp_check["target"] == f"127.0.0.1:{smtp.port}"
            assert (smtp_check["status"], smtp_check["code"]) == ("ok", "ok"), smtp_check
            assert any("mail.test" in str(v) for v in smtp_check["data"].values()), smtp_check["data"]
            assert app.poll() is None
        finally:
            stop(app)
    log = app.stderr.read().decode(errors="replace")
    assert app.returncode == 0, log[-2000:]
    assert not list((Path(os.environ["MAILBEACON_HOME"]) / "outbox").glob("*.json"))
