"""Terminal control sequences and bidi overrides from outside (a server's greeting, a feed's
title and message) never reach the terminal through the command line: `check` as a table and
as JSON, and `outbox list`, show them as visible escapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.report.outbox import Outbox
from app.terminal import has_unsafe
from tests.servers.smtp import HostileServer, close, send

ROOT = Path(__file__).resolve().parents[2]
# clear the screen, retitle the window, a one-byte CSI, a right-to-left override, a bell
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\u202c\x07"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"))


def test_check_and_outbox_neutralise_control_characters_from_outside(tmp_path, isolated_home):
    greeting = f"554 mail.example {HOSTILE} go away\r\n".encode()
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"schema": 1, "updated_at": "2030-01-01T00:00:00Z", "incidents": [
        {"id": "INC-1", "title": f"Mail {HOSTILE} down", "status": "investigating",
         "message": f"Details {HOSTILE}", "updated_at": "2030-01-01T00:00:00Z"}]}), encoding="utf-8")
    with HostileServer([send(greeting), close()]) as server:
        config = tmp_path / "mb.toml"
        config.write_text(
            '[network]\ninternet_url = ""\n[dns]\ncontrol_name = "localhost"\n[check]\ntimeout_s = 8\n'
            f'[feed]\nurl = "{status}"\n'
            f'[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
        )
        table = run("check", "--config", str(config))
        as_json = run("check", "--json", "--config", str(config))
    out = table.stdout.decode("utf-8")
    assert table.returncode == 2, table.stderr
    assert "Mail " in out and "evil" in out and "\\x1b[2J" in out  # shown, as text
    assert not has_unsafe(out) and not has_unsafe(table.stderr.decode("utf-8"))
    text = as_json.stdout.decode("utf-8")
    assert not has_unsafe(text)
    doc = json.loads(text)  # the same document: the escapes are JSON's own
    assert doc["it_status"]["incidents"][0]["title"] == f"Mail {HOSTILE} down"

    outbox = Outbox(isolated_home / "outbox")
    outbox.save({"id": "r1", "schema": 1, "created_at": HOSTILE, "diagnosis": {"headline": f"Mail {HOSTILE}"}},
                ["webhook"])
    listed = run("outbox", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "r1" in listed.stdout.decode() and not has_unsafe(listed.stdout.decode("utf-8"))
