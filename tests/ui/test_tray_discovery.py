"""The tray discovers first: with only mail.address set, its background check finds the servers
(through dnslib and a slow autoconfig host) and checks them, while the GUI thread keeps running."""

from __future__ import annotations

import ssl

from PySide6.QtCore import QTimer

from app.ui.tray import TrayApp
from tests.servers.certs import certs  # noqa: F401  (fixture)
from tests.servers.http import Request, Response
from tests.servers.mailworld import world  # noqa: F401  (fixture)
from tests.servers.smtp import SMTPServer
from tests.ui.conftest import dispose_tray


def test_tray_check_discovers_first_without_blocking_the_gui(qtbot, make_config, world, certs):  # noqa: F811
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certs.ca.issue_cert("smtp.corp.example").configure_cert(ctx)

    def slow(request: Request) -> Response:
        return Response(404, delay=0.8)  # discovery takes a while: the GUI must not wait for it

    world.host("autoconfig.corp.example").https.route("/mail/config-v1.1.xml", slow)
    with SMTPServer("starttls", ctx) as smtp:
        world.dns.add("smtp.corp.example", "127.0.0.1")
        world.zone(f"_submission._tcp.corp.example. 60 IN SRV 0 1 {smtp.port} smtp.corp.example.")
        cfg = world.config(make_config, '[network]\ninternet_url = ""\n[mail]\naddress = "jane@corp.example"\n')
        tray = TrayApp(cfg, tray_available=lambda: True, watch_network=False)
        ticks: list[int] = []
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start()
        try:
            tray.start()
            qtbot.waitUntil(lambda: tray.monitor.latest is not None, timeout=15000)
            latest = tray.monitor.latest
            assert latest.discovery["source"] == "srv"
            assert [(c.kind, c.code) for c in latest.endpoint_checks] == [("smtp", "ok")]
            assert len(ticks) >= 20  # the event loop ran while discovery and the check did
        finally:
            timer.stop()
            dispose_tray(tray)
