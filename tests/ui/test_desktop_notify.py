"""Notifications on Linux go to the desktop's notification daemon over a real (private) session
bus: the Notify call carries exactly the spec's argument types, a click in the daemon does what a
click on the notification does, and without a daemon or without a bus the notification window
shows instead. Nothing here reaches the desktop's own bus."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest

from app.ui import desktop_notify
from tests.ui.conftest import dispose_tray, make_diagnosis
from tests.ui.notify_daemon import NotificationDaemon, PrivateBus

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the freedesktop bus is Linux's"),
    pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon (Debian package dbus)"),
]

CONFIG = '[network]\ninternet_url = ""\n[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = 2\n'


@pytest.fixture
def bus(tmp_path, monkeypatch):
    """A private session bus; the app under test finds it through DBUS_SESSION_BUS_ADDRESS."""
    private = PrivateBus(tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", private.address)
    yield private
    private.stop()


@pytest.fixture
def daemon(bus):
    running = NotificationDaemon(bus.address)
    yield running
    running.stop()


@pytest.fixture
def tray(qtbot, make_config, monkeypatch):
    from app.ui.tray import TrayApp

    made = TrayApp(make_config(CONFIG), diagnose=lambda c: make_diagnosis("down"),
                   tray_available=lambda: True, watch_network=False)
    monkeypatch.setattr(made.tray, "isVisible", lambda: True)
    made.balloons = []
    monkeypatch.setattr(made.tray, "showMessage", lambda *a: made.balloons.append(a))
    made.opened, made.details = [], []
    monkeypatch.setattr(made, "open_report", lambda *a: made.opened.append(a))
    monkeypatch.setattr(made, "show_details", lambda *a: made.details.append(a))
    yield made
    dispose_tray(made)


def test_mail_is_down_goes_to_the_daemon_with_the_specs_types(tray, daemon, qtbot):
    assert tray.notify("Mail is down", "Sending & receiving <fail>.", "down")
    qtbot.waitUntil(lambda: len(daemon.calls) == 1, timeout=5000)
    call = daemon.calls[0]
    assert call.signature == "susssasa{sv}i"
    app_name, replaces_id, app_icon, summary, body, actions, hints, expire = call.body
    assert app_name == "MailBeacon" and replaces_id == 0
    assert summary == "Mail is down"
    assert body == "Sending &amp; receiving &lt;fail&gt;."  # the daemon reads body markup
    assert actions == ["default", "Open"]
    assert hints == {"urgency": ("y", 2), "desktop-entry": ("s", "mailbeacon")}
    assert expire == 10000
    assert Path(app_icon).name == "down.svg" and Path(app_icon).is_file()
    qtbot.wait(200)  # nothing else shows it as well
    assert tray.balloons == [] and tray._toast is None


def test_the_next_notification_replaces_the_open_one_and_plain_text_stays_plain(bus, tray, qtbot):
    daemon = NotificationDaemon(bus.address, capabilities=["body", "actions"])  # no body-markup
    try:
        tray.notify("Mail is down", "A & B", "down")
        qtbot.waitUntil(lambda: len(daemon.calls) == 1, timeout=5000)
        tray.notify("Mail works again", "It was down for 3 min.", "ok")
        qtbot.waitUntil(lambda: len(daemon.calls) == 2, timeout=5000)
        first, second = (call.body for call in daemon.calls)
        assert first[4] == "A & B"
        assert first[1] == 0 and second[1] == 42  # the id the daemon gave the first one
        assert second[6]["urgency"] == ("y", 1) and Path(second[2]).name == "ok.svg"
        # once the daemon says it closed, the next one is new again
        daemon.emit("NotificationClosed", "uu", (42, 2))
        qtbot.wait(200)
        tray.notify("Mail is down", "Again.", "down")
        qtbot.waitUntil(lambda: len(daemon.calls) == 3, timeout=5000)
        assert daemon.calls[2].body[1] == 0
    finally:
        daemon.stop()


def test_a_click_in_the_daemon_opens_what_a_click_on_the_notification_opens(tray, daemon, qtbot):
    tray.notify("Mail is down", "The mail server is not answering.", "down")
    qtbot.waitUntil(lambda: len(daemon.calls) == 1, timeout=5000)
    daemon.emit("ActionInvoked", "us", (42, "default"))
    qtbot.waitUntil(lambda: bool(tray.opened), timeout=5000)  # as tray.messageClicked: the report
    assert tray.details == []
    # another program's notification, or another action, is not ours to act on
    daemon.emit("ActionInvoked", "us", (7, "default"))
    daemon.emit("ActionInvoked", "us", (42, "snooze"))
    qtbot.wait(300)
    assert len(tray.opened) == 1


def test_a_click_on_a_recovery_notification_opens_details(tray, daemon, qtbot):
    tray.notify("Mail works again", "It was down for 3 min.", "ok")
    qtbot.waitUntil(lambda: len(daemon.calls) == 1, timeout=5000)
    daemon.emit("ActionInvoked", "us", (42, "default"))
    qtbot.waitUntil(lambda: bool(tray.details), timeout=5000)
    assert tray.opened == []


def test_a_bus_without_a_daemon_gets_the_window(tray, bus, qtbot):
    tray.notify("Mail is down", "The mail server is not answering.", "down")
    qtbot.waitUntil(lambda: tray._toast is not None and tray._toast.isVisible(), timeout=5000)
    assert tray._toast.title.text() == "Mail is down" and tray.balloons == []
    assert tray._desktop.available is False


def test_no_bus_at_all_gets_the_window(tray, monkeypatch, tmp_path, qtbot):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    tray.notify("Mail is down", "The mail server is not answering.", "down")
    qtbot.waitUntil(lambda: tray._toast is not None and tray._toast.isVisible(), timeout=5000)
    assert tray._toast.text.text() == "The mail server is not answering." and tray.balloons == []


def test_an_unset_bus_address_gets_the_window(tray, monkeypatch, qtbot):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    tray.notify("Mail is down", "The mail server is not answering.", "down")
    qtbot.waitUntil(lambda: tray._toast is not None and tray._toast.isVisible(), timeout=5000)


def test_a_daemon_that_fails_gets_the_window_and_one_warning(bus, tray, qtbot, caplog):
    daemon = NotificationDaemon(bus.address, fail_notify=True)
    caplog.set_level(logging.WARNING, logger="app.ui.desktop_notify")
    try:
        tray.notify("Mail is down", "First.", "down")
        qtbot.waitUntil(lambda: tray._toast is not None and tray._toast.isVisible(), timeout=5000)
        tray._toast.hide()
        tray.notify("Mail is down", "Second.", "down")
        qtbot.waitUntil(lambda: tray._toast.isVisible(), timeout=5000)
        assert tray._toast.text.text() == "Second." and len(daemon.calls) == 2
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and not warnings[0].exc_info, warnings
    finally:
        daemon.stop()


def test_the_core_needs_no_qt_and_escapes_markup():
    body = desktop_notify.notify_body(desktop_notify.Notice("S", "a<b>&c"), 5, True, "MailBeacon", "mailbeacon")
    assert body[1] == 5 and body[4] == "a&lt;b&gt;&amp;c" and body[6]["urgency"] == ("y", 1)
    assert "PySide6" not in open(desktop_notify.__file__, encoding="utf-8").read()


def test_the_gui_thread_never_waits_on_the_bus(tray, daemon, qtbot, monkeypatch):
    import threading
    import time

    import jeepney.io.blocking

    real, threads = jeepney.io.blocking.open_dbus_connection, []

    def slow_bus(*args, **kwargs):
        threads.append(threading.current_thread())
        time.sleep(0.5)  # a session bus that is slow to answer
        return real(*args, **kwargs)

    monkeypatch.setattr(jeepney.io.blocking, "open_dbus_connection", slow_bus)
    started = time.monotonic()
    tray.notify("Mail is down", "The mail server is not answering.", "down")
    tray.notify("Mail works again", "It was down for 3 min.", "ok")  # queued meanwhile
    assert time.monotonic() - started < 0.3
    qtbot.waitUntil(lambda: len(daemon.calls) == 2, timeout=5000)
    assert [call.body[3] for call in daemon.calls] == ["Mail is down", "Mail works again"]
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
