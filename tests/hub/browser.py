"""Debian's Chromium driven by Playwright for the dashboard tests: never a downloaded browser,
no network beyond loopback, and screenshots kept when MB_HUB_SCREENSHOTS names a folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
IT_USER, IT_PASSWORD = "alice", "a long dashboard password"


def _browser_env() -> dict[str, str]:
    """The browser is the IT person's, not ours: it runs on the machine's real clock even when
    the suite runs with the clock shifted (libfaketime preloaded into Chromium stalls its page
    loads). The hub under test still runs on the shifted clock."""
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


def launch(playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=_browser_env())


def shot(page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot; also copied to $MB_HUB_SCREENSHOTS for docs/screenshots."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("MB_HUB_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / f"hub-{name}.png")
    return path


def hub_cli(hub, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "app", "hub", *args, "--config", str(hub.config)],
                          input=stdin, capture_output=True, text=True, timeout=60, env=hub.env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def prepare(hub) -> dict[str, str]:
    """An IT account and a laptop and an admin token on a running hub, through its own CLI."""
    hub_cli(hub, "user", "add", IT_USER, stdin=IT_PASSWORD + "\n")
    laptop = hub_cli(hub, "token", "create", "laptops").strip().splitlines()[-1]
    admin = hub_cli(hub, "token", "create", "it-scripts", "--admin").strip().splitlines()[-1]
    return {"laptop": laptop, "admin": admin}


def sign_in(page, base: str) -> None:
    page.goto(base + "/")
    page.fill("#username", IT_USER)
    page.fill("#password", IT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def state_event(laptop: str, verdict: str, network: str, *, user: str = "", at: datetime | None = None,
                headline: str = "The mail server is not answering.") -> dict:
    failing = [] if verdict == "ok" else [{"kind": "smtp", "target": "smtp.corp.example:587", "code": "tcp_timeout"}]
    event = {"schema": 1, "laptop": laptop, "at": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
             "verdict": verdict, "layer": "none" if verdict == "ok" else "server", "headline": headline,
             "failing": failing, "network": network, "app_version": "0.1.0"}
    if user:
        event["username"] = user
    return event


def post_state(base: str, token: str, event: dict) -> None:
    r = httpx.post(base + "/api/v1/state", json=event, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code in (200, 201), r.text


def report_body(laptop: str, note: str, *, user: str = "jo") -> dict:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    checks = [{"id": "smtp smtp.corp.example:587", "kind": "smtp", "target": "smtp.corp.example:587",
               "status": "fail", "code": "tcp_timeout", "detail": "No answer from the mail server.",
               "duration_ms": 5000.0, "data": {}}]
    return {"schema": 1, "id": str(uuid.uuid4()), "created_at": now, "fingerprint": "0" * 64,
            "reporter": {"username": user, "hostname": f"{user}-laptop", "email": f"{user}@corp.example",
                         "laptop": laptop},
            "note": note, "known_incident": None,
            "diagnosis": {"schema": 1, "verdict": "down", "layer": "server",
                          "headline": "The mail server is not answering.", "advice": "Wait.",
                          "checked_at": now, "duration_ms": 5000.0, "checks": checks, "it_status": None},
            "history": [], "device": {"os": "Linux", "app_version": "0.1.0", "uptime_s": 100,
                                      "cpu_percent": 1.0, "memory_percent": 20.0, "battery": None},
            "network": {"interfaces": [], "default_gateway": "10.1.0.1", "dns_servers": ["10.1.0.53"],
                        "proxy": None, "vpn_suspected": False}}
