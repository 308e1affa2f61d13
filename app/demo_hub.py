"""The demo's hub: `mailbeacon hub serve` as a child process on loopback with SQLite in the
demo's temp folder, so the demo shows the whole loop: an outage on the tray, IT notified once
(through the demo's webhook receiver), the hub's own incident back in the tray.

The laptop app never imports app.hub: the hub runs as `mailbeacon hub ...` processes, and a
build without the `hub` extra (the frozen app) simply runs the demo without one.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
DASHBOARD_USER = "it"
# the demo's one laptop is "plainly shared" enough: so its outage opens the hub's incident
HUB_SETTINGS = {"group_wait_s": 5, "group_interval_s": 60, "detect_min_laptops": 1,
                "detect_min_networks": 1, "retention_days": 1}


def available() -> str | None:
    """None when this install can run a hub; else why not, in words."""
    if getattr(sys, "frozen", False):
        return "the installed app has no hub; run the demo from a source install with the 'hub' extra"
    missing = [m for m in ("starlette", "uvicorn", "sqlalchemy", "alembic", "argon2", "jinja2")
               if importlib.util.find_spec(m) is None]
    if missing or importlib.util.find_spec("app.hub") is None:
        return "the hub needs the 'hub' extra: pip install 'mailbeacon[hub]'"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _private_file(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return path


class DemoHub:
    """start() -> self (or raises RuntimeError with the hub's words); stop() ends the process."""

    def __init__(self, folder: Path, *, notify_url: str = "") -> None:
        self.folder = Path(folder)
        self.notify_url = notify_url
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.laptop_token = ""
        self.password_file = self.folder / "dashboard-password.txt"
        self.admin_token_file = self.folder / "admin-token.txt"
        self._log = self.folder / "hub.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "hub.toml"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBEACON_")}
        env["MAILBEACON_HOME"] = str(self.folder)
        return env

    def _run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app", "hub", *args, "--config", str(self.config_path)],
            input=stdin, capture_output=True, text=True, timeout=120, env=self._env(),
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"mailbeacon hub {args[0]} exited {done.returncode}")
        return done.stdout

    def write_config(self) -> None:
        lines = ["# written by `mailbeacon demo`; removed when the demo ends", "[hub]",
                 f'listen = "{HOST}:{self.port}"', f'public_url = "{self.url}"']
        lines += [f"{k} = {v}" for k, v in HUB_SETTINGS.items()]
        lines += ["", "[notify]"]
        if self.notify_url:
            lines.append(f'webhook_url = "{self.notify_url}"')
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> DemoHub:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.port = _free_port()
        self.write_config()
        self._run("migrate")
        self.laptop_token = self._run("token", "create", "demo-laptop").strip().splitlines()[-1]
        admin = self._run("token", "create", "demo-it", "--admin").strip().splitlines()[-1]
        _private_file(self.admin_token_file, admin)
        password = secrets.token_urlsafe(12)
        self._run("user", "add", DASHBOARD_USER, stdin=password + "\n")
        _private_file(self.password_file, password)
        log_fh = self._log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "hub", "serve", "--config", str(self.config_path)],
            stdout=log_fh, stderr=subprocess.STDOUT, env=self._env(),
        )
        log_fh.close()
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        from app import httpio

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the demo hub stopped at once: {self.output()[-500:]}")
            try:
                if httpio.request(self.url + "/healthz", timeout_s=1.0).status == 200:
                    return
            except httpio.HttpError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the demo hub did not start within {START_TIMEOUT_S:.0f} s")

    def output(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
