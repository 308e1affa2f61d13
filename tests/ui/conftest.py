"""Tray tests run on Qt's offscreen platform (no display, no system tray)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from app.diagnosis.model import Check, Diagnosis  # noqa: E402
from app.jsonio import iso_utc, utc_now  # noqa: E402

HEADLINES = {
    "ok": "Mail works.",
    "degraded": "Mail partly works: sending is slow.",
    "down": "The mail server is not answering.",
    "local": "This computer has no working network.",
    "unknown": "No mail server is configured.",
}
SMTP_CODE = {"ok": "ok", "degraded": "slow", "down": "tcp_refused", "local": "tcp_unreachable"}
SMTP_STATUS = {"ok": "ok", "degraded": "warn", "down": "fail", "local": "fail"}


def make_diagnosis(verdict: str = "ok", **overrides) -> Diagnosis:
    checks = []
    if verdict != "unknown":
        checks = [
            Check(
                id="dns 127.0.0.1",
                kind="dns",
                target="127.0.0.1",
                status="fail" if verdict == "local" else "ok",
                code="dns_timeout" if verdict == "local" else "ok",
                detail="The resolver answered." if verdict != "local" else "No resolver answered.",
                duration_ms=3.2,
            ),
            Check(
                id="smtp 127.0.0.1:2525",
                kind="smtp",
                target="127.0.0.1:2525",
                status=SMTP_STATUS[verdict],
                code=SMTP_CODE[verdict],
                detail=f"Server said {verdict}.",
                duration_ms=12.5,
                name="Outgoing mail",
            ),
        ]
    fields = dict(
        verdict=verdict,
        layer={"ok": "none", "degraded": "service", "down": "server", "local": "dns"}.get(
            verdict, "none"
        ),
        headline=HEADLINES[verdict],
        advice="Nothing to do." if verdict == "ok" else "Try again later.",
        checked_at=iso_utc(utc_now()),
        duration_ms=20.0,
        checks=checks,
    )
    fields.update(overrides)
    return Diagnosis(**fields)


@pytest.fixture
def diagnosis_factory():
    return make_diagnosis


def dispose_tray(tray) -> None:
    """Tear a TrayApp down the way the process does at exit, so no timer, queued result or
    window of one test reaches into the next."""
    from PySide6.QtCore import QCoreApplication, QThreadPool

    tray.stop()
    tray.history_pool.waitForDone(5000)
    QThreadPool.globalInstance().waitForDone(10000)
    QCoreApplication.processEvents()  # deliver the results of finished jobs while all is alive
    if tray.history is not None:
        tray.history.close()
    tray.deleteLater()
    QCoreApplication.processEvents()


@pytest.fixture(autouse=True)
def no_desktop_bus(monkeypatch):
    """No tray test sends notifications to the desktop this runs on: without a session bus they
    show in the notification window (tests that want a bus start a private one)."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
