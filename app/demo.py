"""`mailbeacon demo`: a real SMTP server with STARTTLS on loopback, a config watching it, and an
outage switch, so a newcomer sees the light go green -> red -> green. Qt-free.

Other parts extend it through `Demo.config_sections` (extra TOML sections), `Demo.running`
(what to print) and `Demo.add_cleanup` before `start()` returns control to the tray.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import MailBeaconError

log = logging.getLogger(__name__)

INSTALL_HINT = "the demo needs two extra packages: pip install 'mailbeacon[demo]'"
HOST = "127.0.0.1"


class DemoUnavailable(MailBeaconError):
    """aiosmtpd or trustme is missing."""

    exit_status = 69


def require_demo_packages() -> None:
    try:
        import aiosmtpd.controller  # noqa: F401
        import trustme  # noqa: F401
    except ImportError:
        raise DemoUnavailable(INSTALL_HINT) from None


def _free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_toml(sections: dict[str, dict[str, Any]], endpoints: list[dict[str, Any]]) -> str:
    lines: list[str] = ["# written by `mailbeacon demo`; removed when the demo ends", ""]
    for endpoint in endpoints:
        lines.append("[[endpoints]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in endpoint.items())
        lines.append("")
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)


class _Sink:
    """Accepts and forgets: the probe never sends mail, but a person trying the demo might."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK (the demo keeps nothing)"


class Demo:
    """The demo's servers and its temp folder; `running` says what runs where."""

    def __init__(self, workdir: Path | None = None, *, hub: bool = True) -> None:
        self._own_workdir = workdir is None
        self._want_hub = hub
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mailbeacon-demo-"))
        self.home = self.workdir / "home"
        self.config_path = self.workdir / "mailbeacon.toml"
        self.smtp_port = 0
        self.running: dict[str, str] = {}
        self.config_sections: dict[str, dict[str, Any]] = {
            "network": {"internet_url": ""},
            "check": {"interval_s": 10, "confirm_after_s": 2, "timeout_s": 3},
        }
        self.endpoints: list[dict[str, Any]] = []
        self._controller: Any = None
        self._tls_context: Any = None
        self._cleanups: list[Callable[[], None]] = []
        self.outage = False
        self.webhook: Any = None
        self.feed_path: Path | None = None
        self.hub: Any = None  # the demo hub (app.demo_hub.DemoHub) when this install has one
        self.hub_missing = ""  # why there is none, in words
        self.secrets: dict[str, str] = {}  # MAILBEACON_SECRET_* the demo's tray needs

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        require_demo_packages()
        import trustme

        self.home.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="MailBeacon demo")
        leaf = ca.issue_cert("localhost", HOST)
        ca_file = self.workdir / "demo-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        self._tls_context = context

        self.smtp_port = _free_port()
        self._start_smtp()
        self.endpoints = [
            {"kind": "smtp", "host": HOST, "port": self.smtp_port, "tls": "starttls",
             "name": "Demo mail server"}
        ]
        self.config_sections.setdefault("tls", {})["ca_file"] = str(ca_file)
        self.running["smtp"] = f"{HOST}:{self.smtp_port} (STARTTLS, certificate from {ca_file.name})"
        self._start_webhook_receiver()
        self._start_feed()
        self._start_hub()
        self.write_config()
        self.running["config"] = str(self.config_path)
        self.running["state"] = str(self.home)

    def _start_webhook_receiver(self) -> None:
        """IT's side of "Report a problem…": a loopback webhook that prints each report."""
        from app.demo_receiver import WebhookReceiver

        receiver = WebhookReceiver(host=HOST).start()
        self.webhook = receiver
        self.add_cleanup(receiver.stop)
        self.config_sections["report"] = {"webhook_url": receiver.url}
        self.running["webhook"] = f"{receiver.url} (reports are printed here)"

    def _start_feed(self) -> None:
        """IT's status feed as a file, as a share mounted on every laptop would be."""
        from app import feed

        self.feed_path = feed.create_empty(self.workdir / "status.json")
        self.config_sections["feed"] = {"url": str(self.feed_path), "interval_s": 10}
        self.running["feed"] = str(self.feed_path)

    def _start_hub(self) -> None:
        """IT's hub on loopback: the tray shares its state with it and reads its feed, reports
        go to it beside the webhook, and its notifications reach the same webhook receiver."""
        from app import demo_hub

        if not self._want_hub:
            return
        self.hub_missing = demo_hub.available() or ""
        if self.hub_missing:
            self.running["hub"] = f"not included ({self.hub_missing})"
            return
        hub = demo_hub.DemoHub(self.workdir / "hub", notify_url=self.webhook.url if self.webhook else "")
        try:
            hub.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            self.hub_missing = f"it could not start: {exc}"
            self.running["hub"] = f"not included ({self.hub_missing})"
            hub.stop()
            return
        self.hub = hub
        self.add_cleanup(hub.stop)
        self.secrets["MAILBEACON_SECRET_HUB_TOKEN"] = hub.laptop_token
        self.config_sections["hub"] = {"url": hub.url}
        # the tray reads the hub's feed (feed.url defaults to <hub>/feed.json)
        self.config_sections["feed"] = {"interval_s": 10}
        self.running["feed"] = f"{hub.url}/feed.json (the hub's incidents)"
        self.running["hub"] = f"{hub.url} (IT's hub: groups the outage, opens an incident, serves the feed)"
        self.running["IT page"] = (f"{hub.url}/ (user {demo_hub.DASHBOARD_USER}, password in "
                                   f"{hub.password_file})")

    def write_config(self) -> Path:
        """(Re)write the config from `config_sections` and `endpoints`."""
        self.config_path.write_text(render_toml(self.config_sections, self.endpoints), encoding="utf-8")
        return self.config_path

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """Something another part started for the demo and wants stopped with it."""
        self._cleanups.append(fn)

    def stop(self) -> None:
        self._stop_smtp()
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:
                log.exception("demo cleanup failed")
        self._cleanups.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ the outage switch

    def simulate_outage(self) -> None:
        """Stop the SMTP server: its port refuses connections, as a crashed server's would."""
        self._stop_smtp()
        self.outage = True
        log.info("demo: SMTP server stopped (outage)")

    def end_outage(self) -> None:
        if self._controller is None:
            self._start_smtp()
        self.outage = False
        log.info("demo: SMTP server started again")

    def _start_smtp(self) -> None:
        from aiosmtpd.controller import Controller

        controller = Controller(
            _Sink(),
            hostname=HOST,
            port=self.smtp_port,
            server_hostname="demo.mailbeacon.invalid",
            tls_context=self._tls_context,
            auth_require_tls=True,
        )
        controller.start()
        self._controller = controller

    def _stop_smtp(self) -> None:
        if self._controller is not None:
            try:
                self._controller.stop()
            finally:
                self._controller = None
