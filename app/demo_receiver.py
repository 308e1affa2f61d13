"""A local webhook receiver for `mailbeacon demo`: listens on loopback and prints each report it
gets, so a newcomer sees the whole loop from tray to IT without any real service."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO


def notification_summary(body: dict[str, Any]) -> str:
    """The hub's notification to IT (SPEC 8 webhook: {"event", "group"}) in two lines."""
    g = body.get("group") or {}
    words = {"opened": "new outage", "grew": "outage grew", "resolved": "outage resolved"}
    counts = (f"{g.get('laptops', 0)} laptop(s), {g.get('people', 0)} person/people, "
              f"{g.get('networks', 0)} network(s)")
    return (f"[IT notified by the hub] {words.get(body.get('event'), body.get('event'))}: {counts}\n"
            f"    {g.get('verdict', '?')}: {g.get('headline', '')}")


def summary(report: dict[str, Any]) -> str:
    if "event" in report and isinstance(report.get("group"), dict):
        return notification_summary(report)
    d = report.get("diagnosis", {})
    r = report.get("reporter") or {}
    who = r.get("email") or r.get("username") or "someone"
    lines = [
        f"[IT webhook] report {report.get('id', '?')} from {who} on {r.get('hostname') or '(hidden)'}",
        f"    {d.get('verdict', '?')}: {d.get('headline', '')}",
    ]
    if report.get("note"):
        lines.append(f"    note: {report['note']}")
    for c in d.get("checks", []):
        if c.get("status") in ("fail", "warn"):
            lines.append(f"    {c.get('id')}: {c.get('code')} - {c.get('detail')}")
    return "\n".join(lines)


class WebhookReceiver:
    """start() binds host:port (0 = any free port); `url` is what report.webhook_url should be."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, out: TextIO | None = None,
                 on_report: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.host, self.port = host, port
        self.out = out or sys.stdout
        self.on_report = on_report
        self.reports: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/report"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    report = json.loads(body)
                except ValueError:
                    self.send_error(400, "not JSON")
                    return
                receiver.reports.append(report)
                print(summary(report), file=receiver.out, flush=True)
                if receiver.on_report:
                    receiver.on_report(report)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server_class = ThreadingHTTPServer
        if ":" in self.host:
            class _V6(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_class = _V6
        self._server = server_class((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
