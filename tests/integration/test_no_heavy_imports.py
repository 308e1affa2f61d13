"""Memory guards: `mailbeacon check` and the tray's checks run on the standard library, leaving
requests (report sending) and the report channels unloaded. Each runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.servers.http import HttpServer

# loaded only to send a report (requests, the channel modules) or to build one
HEAVY = ("requests", "urllib3", "app.report.channels.email", "app.report.channels.webhook", "app.report.build")

CHECK = """
import json, sys
import app.cli
status = app.cli.main(["check", "--json", "--config", sys.argv[1]])
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
sys.exit(status)
"""

TRAY = """
import json, sys
from PySide6.QtCore import QTimer
from app import config as config_mod
from app.monitor import Monitor
from app.ui.app import application
from app.ui.tray import TrayApp

app = application()
config = config_mod.load(sys.argv[1], system_file=None, policy_file=None, registry=False)
tray = TrayApp(config, monitor=Monitor(0.001, 0.001), watch_network=False)
seen = []

def on_state():
    seen.append(tray.monitor.latest.checks)
    if len(seen) == 3:  # three whole checks (the outbox flush and the feed read ran too)
        QTimer.singleShot(200, app.quit)

tray.state_changed.connect(on_state)
QTimer.singleShot(8000, app.quit)
tray.start()
app.exec()
internet = [c for c in seen[-1] if c.kind == "internet"] if seen else []
print(json.dumps({"checks": len(seen), "internet": internet[0].code if internet else None,
                  "modules": sorted(sys.modules)}))
"""


def _env(home) -> dict[str, str]:
    env = dict(os.environ, MAILBEACON_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env["NO_PROXY"] = "*"
    return env


def _config(tmp_path, web: HttpServer) -> str:
    feed = tmp_path / "status.json"
    feed.write_text('{"schema": 1, "updated_at": null, "incidents": []}')
    path = tmp_path / "c.toml"
    path.write_text(
        f'[network]\ninternet_url = "{web.url("/generate_204")}"\n'
        f'[report]\nwebhook_url = "{web.url("/report")}"\n'
        f'[feed]\nurl = "{feed}"\n'
    )
    return str(path)


def test_check_json_does_not_load_requests(tmp_path):
    with HttpServer() as web:
        web.route("/generate_204", status=204)
        proc = subprocess.run(
            [sys.executable, "-c", CHECK, _config(tmp_path, web)],
            capture_output=True, text=True, timeout=30, env=_env(tmp_path / "home"),
        )
        assert len(web.requests_to("/generate_204")) == 1
    assert proc.returncode == 4, proc.stderr  # no mail endpoints configured: unknown
    checks = {c["kind"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["internet"]["code"] == "ok"
    modules = set(json.loads(proc.stderr.rsplit("MODULES ", 1)[1]))
    assert "app.diagnosis.probes.internet" in modules
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


def test_tray_checks_do_not_load_requests_or_report_channels(tmp_path):
    with HttpServer() as web:
        web.route("/generate_204", status=204)
        proc = subprocess.run(
            [sys.executable, "-c", TRAY, _config(tmp_path, web)],
            capture_output=True, text=True, timeout=30, env=_env(tmp_path / "home"),
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["checks"] >= 3 and result["internet"] == "ok"
    modules = set(result["modules"])
    assert {"app.ui.tray", "app.feed", "app.report.outbox"} <= modules  # it did count the outbox
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))
