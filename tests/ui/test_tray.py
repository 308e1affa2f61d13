"""The tray: menu, icon and tooltip per state, Details, notifications per confirmed transition,
the no-tray fallback, and a GUI thread that keeps running while a check blocks."""

from __future__ import annotations

import sys
import threading
import types

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.monitor import Monitor
from app.ui import tray as tray_mod
from app.ui.tray import NO_TRAY_TEXT, TrayApp
from app.words import staff
from tests.ui.conftest import HEADLINES, dispose_tray, make_diagnosis

CONFIG = """
[mail]
webmail_url = "https://webmail.example.com/"
[[endpoints]]
kind = "smtp"
host = "127.0.0.1"
port = 2525
tls = "none"
[network]
internet_url = ""
"""


class FakeDiagnose:
    """Stands in for the engine: returns the current verdict, optionally blocking first."""

    def __init__(self, verdict: str = "ok") -> None:
        self.verdict = verdict
        self.calls = 0
        self.threads: list[threading.Thread] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, config):
        self.threads.append(threading.current_thread())
        self.release.wait(10)
        self.calls += 1
        return make_diagnosis(self.verdict)


@pytest.fixture
def make_tray(qtbot, make_config):
    made: list[TrayApp] = []

    def make(config_text: str = CONFIG, *, verdict: str = "ok", **kwargs) -> TrayApp:
        kwargs.setdefault("diagnose", FakeDiagnose(verdict))
        kwargs.setdefault("tray_available", lambda: True)
        kwargs.setdefault("watch_network", False)
        tray = TrayApp(make_config(config_text), **kwargs)
        made.append(tray)
        return tray

    yield make
    for tray in made:
        dispose_tray(tray)


def feed(tray: TrayApp, verdict: str, **overrides):
    """One pass straight into the slot, as the worker would deliver it."""
    tray.monitor.started()
    return tray.apply_diagnosis(make_diagnosis(verdict, **overrides))


def confirm(tray: TrayApp, verdict: str) -> None:
    feed(tray, verdict)
    if tray.verdict != verdict:
        feed(tray, verdict)
    assert tray.verdict == verdict


def menu_texts(tray: TrayApp) -> list[str]:
    return [a.text() for a in tray.menu.actions() if a.isVisible() and not a.isSeparator()]


def centre_rgb(tray: TrayApp) -> tuple[int, int, int]:
    image = tray.tray.icon().pixmap(32, 32).toImage()
    colour = image.pixelColor(image.width() // 2, image.height() // 4)
    return colour.red(), colour.green(), colour.blue()


@pytest.fixture
def fake_report_dialog(monkeypatch):
    opened: list = []

    class ReportDialog:
        def __init__(self, config, parent=None):
            self.config = config

        def open_for(self, diagnosis):
            opened.append(diagnosis)

        def close(self):
            pass

    module = types.ModuleType("app.ui.report_dialog")
    module.ReportDialog = ReportDialog
    monkeypatch.setitem(sys.modules, "app.ui.report_dialog", module)
    return opened


def test_menu_lists_every_action_in_order(make_tray):
    tray = make_tray()
    assert menu_texts(tray) == [
        "Checking…",
        "Check now",
        "Report a problem…",
        "Details…",
        "Open webmail",
        "Set up…",
        "Pause notifications for 1 hour",
        "Start at login",
        "Quit",
    ]
    # the headline is legible (enabled, bold) and opens Details
    assert tray.headline_action.isEnabled() and tray.headline_action.font().bold()
    tray.headline_action.trigger()
    assert tray.details_window().isVisible()
    assert tray.pause_action.isCheckable() and tray.autostart_action.isCheckable()


def test_no_webmail_item_without_a_webmail_url(make_tray):
    tray = make_tray(CONFIG.replace('webmail_url = "https://webmail.example.com/"', ""))
    assert "Open webmail" not in menu_texts(tray)


def test_check_now_runs_a_check_off_the_gui_thread(make_tray, qtbot):
    diagnose = FakeDiagnose("ok")
    tray = make_tray(diagnose=diagnose)
    tray.start()
    qtbot.waitUntil(lambda: diagnose.calls == 1 and not tray.monitor.running, timeout=5000)
    assert tray.verdict == "ok"
    assert tray.headline_action.text() == HEADLINES["ok"]
    # the interval is 60 s, so only the menu item explains a second check now
    tray.check_action.trigger()
    qtbot.waitUntil(lambda: diagnose.calls == 2 and not tray.monitor.running, timeout=5000)
    assert all(t is not threading.main_thread() for t in diagnose.threads)


def test_details_and_left_click_open_the_window(make_tray):
    tray = make_tray()
    tray.details_action.trigger()
    assert tray._details.isVisible()
    tray._details.close()
    tray._on_activated(tray.tray.ActivationReason.Trigger)
    assert tray._details.isVisible()


def test_report_item_opens_the_report_dialog_with_the_latest_diagnosis(make_tray, fake_report_dialog):
    tray = make_tray()
    feed(tray, "ok")
    tray.report_action.trigger()
    assert len(fake_report_dialog) == 1 and fake_report_dialog[0].verdict == "ok"


def test_report_item_without_the_dialog_module_does_not_fail(make_tray, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "app.ui.report_dialog", None)  # import raises ImportError
    tray = make_tray()
    tray.report_action.trigger()
    assert "report dialog is not available" in caplog.text


def test_open_webmail_opens_the_configured_url(make_tray, monkeypatch):
    opened = []
    monkeypatch.setattr(tray_mod.QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    tray = make_tray()
    tray.webmail_action.trigger()
    assert opened == ["https://webmail.example.com/"]


def test_start_at_login_writes_and_removes_the_autostart_entry(make_tray, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if sys.platform != "linux":
        pytest.skip("the XDG file is the Linux autostart")
    tray = make_tray()
    entry = tmp_path / "xdg" / "autostart" / "mailbeacon.desktop"
    assert not tray.autostart_action.isChecked()
    tray.autostart_action.trigger()
    assert entry.is_file() and "Exec=" in entry.read_text()
    tray.autostart_action.trigger()
    assert not entry.exists()


def test_quit_item_quits_the_application(make_tray, monkeypatch):
    calls = []
    monkeypatch.setattr(tray_mod.QCoreApplication, "quit", lambda: calls.append(1))
    tray = make_tray()
    tray.quit_action.trigger()
    assert calls == [1]


@pytest.mark.parametrize(
    "verdict, channel",
    [("ok", "green"), ("down", "red"), ("degraded", "amber"), ("local", "slate"), ("unknown", "grey")],
)
def test_icon_and_tooltip_follow_the_confirmed_verdict(make_tray, verdict, channel):
    tray = make_tray()
    grey = centre_rgb(tray)
    assert max(grey) - min(grey) < 30, "grey while the first check runs"
    assert "checking" in tray.tray.toolTip().lower()
    confirm(tray, verdict)
    r, g, b = centre_rgb(tray)
    if channel == "green":
        assert g > r + 60 and g > b + 40
    elif channel == "red":
        assert r > g + 80 and r > b + 80
    elif channel == "amber":
        assert r > b + 100 and g > b + 60
    elif channel == "slate":
        assert b > r + 20
    else:
        assert max(r, g, b) - min(r, g, b) < 30
    tooltip = tray.tray.toolTip()
    assert tooltip.startswith(f"MailBeacon: {staff.TOOLTIP_STATE[verdict]}")
    if verdict != "unknown":
        assert " (since " in tooltip and "min)." in tooltip
    assert len(tooltip) <= staff.TOOLTIP_LIMIT
    assert tray.headline_action.text() == HEADLINES[verdict]


def test_a_single_failed_pass_changes_nothing(make_tray):
    tray = make_tray()
    confirm(tray, "ok")
    assert feed(tray, "down") is None
    assert tray.verdict == "ok" and tray.notifications == []
    assert centre_rgb(tray)[1] > 120  # still green
    feed(tray, "ok")
    assert tray.verdict == "ok" and tray.notifications == []


def test_one_notification_per_confirmed_transition_and_recovery_says_how_long(make_tray):
    tray = make_tray()
    shown = []
    tray.notified.connect(lambda title, text: shown.append((title, text)))
    feed(tray, "ok")
    assert shown == []  # starting up green is no news
    feed(tray, "down")
    assert shown == []
    feed(tray, "down")
    assert shown == [("Mail is down", f"{HEADLINES['down']} Click to report it to IT.")]
    feed(tray, "down")
    feed(tray, "down")
    assert len(shown) == 1
    feed(tray, "ok")
    assert len(shown) == 2
    title, text = shown[1]
    assert title == "Mail works again"
    # the text adds what the title does not say, without repeating it
    assert text.startswith("It was down for ") and "min" in text and "works again" not in text


def test_paused_notifications_are_suppressed(make_tray):
    tray = make_tray()
    confirm(tray, "ok")
    tray.pause_action.trigger()
    assert tray.paused
    confirm(tray, "down")
    assert tray.notifications == []
    tray.pause_action.trigger()
    assert not tray.paused
    confirm(tray, "ok")
    assert [t for t, _ in tray.notifications] == ["Mail works again"]


def test_clicking_a_mail_is_down_notification_opens_the_report(make_tray, fake_report_dialog):
    tray = make_tray()
    confirm(tray, "ok")
    confirm(tray, "down")
    tray.tray.messageClicked.emit()
    assert len(fake_report_dialog) == 1 and fake_report_dialog[0].verdict == "down"


def test_details_window_shows_checks_timeline_it_status_and_copies_text(make_tray, qtbot):
    from app.history import History
    from app.paths import user_paths

    history = History(user_paths().history_db)
    tray = make_tray(history=history)
    confirm(tray, "ok")
    confirm(tray, "down")
    tray._update_it_status({
        "source": "native", "fetched_at": "2024-01-01T10:00:00Z", "error": None,
        "incidents": [{"id": "INC-1", "title": "Mail server outage", "status": "investigating",
                       "message": "We are on it", "updated_at": "2024-01-01T10:00:00Z",
                       "next_update_at": None}],
    })
    qtbot.waitUntil(lambda: len(history.changes(make_since())) == 2, timeout=5000)
    tray.show_details()
    window = tray._details
    assert window.headline.text() == HEADLINES["down"]
    # IT has posted: the advice leads with that and offers the affected list, not a new report
    assert window.advice.text().startswith("IT is aware of it. You do not need to report it again")
    assert window.report_button.text() == "Add me to the affected list…"
    assert tray.report_action.text() == "Add me to the affected list…"
    # staff read one plain sentence per check: no address, port, code or server words
    assert window.staff_rows() == [
        ("Name lookup", "Names can be looked up on this network."),
        ("Outgoing mail", "The server for sending mail is not answering."),
    ]
    assert "127.0.0.1" not in window.checks_title.text() + str(window.staff_rows())
    # the technical lines wait behind "Details for IT"
    assert window.it_text.isHidden()
    window.it_toggle.click()
    assert window.it_text.isVisible()
    assert "[Failed] smtp 127.0.0.1:2525 — tcp_refused (12 ms): Server said down." in window.it_text.toPlainText()
    qtbot.waitUntil(lambda: window.timeline.count() == 2, timeout=5000)
    timeline = [window.timeline.item(i).text() for i in range(2)]
    # each change shows its headline once, never "Mail works — Mail works."
    assert timeline[0].endswith(f"  {HEADLINES['ok']}") and timeline[1].endswith(f"  {HEADLINES['down']}")
    assert window.it_label.text().startswith("IT is aware: Mail server outage (investigating). We are on it.")
    assert "Last updated" in window.it_label.text()
    assert "IT is aware: Mail server outage" in tray.tray.toolTip()
    assert "IT is aware: Mail server outage" in menu_texts(tray)

    window.copy_button.click()
    text = QGuiApplication.clipboard().text()
    assert text.startswith(f"MailBeacon: {HEADLINES['down']}")
    assert "Outgoing mail: The server for sending mail is not answering." in text
    assert "[Failed] smtp 127.0.0.1:2525 — tcp_refused (12 ms): Server said down." in text
    assert "IT is aware: Mail server outage" in text
    assert "Changes in the last 24 hours:" in text


def test_details_has_a_title_a_close_button_and_esc_closes_it(make_tray, qtbot):
    from PySide6.QtCore import Qt

    tray = make_tray()
    confirm(tray, "down")
    tray.show_details()
    window = tray._details
    assert window.windowTitle() == "MailBeacon — mail status details"
    window.close_button.click()
    assert not window.isVisible()
    tray.show_details()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)


def test_details_never_scrolls_sideways(make_tray, qtbot):
    tray = make_tray()
    long = "The mail server answers but is not working properly " * 6
    tray.monitor.started()
    tray.apply_diagnosis(make_diagnosis("down", headline=long))
    tray.show_details()
    window = tray._details
    window.set_changes([{"at": "2024-01-01T10:00:00Z", "verdict": "down", "headline": long}])
    window.it_toggle.click()
    qtbot.waitExposed(window)
    assert window.timeline.horizontalScrollBar().maximum() == 0
    assert window.it_text.horizontalScrollBar().maximum() == 0
    assert window.sizeHint().width() <= 900 and window.width() <= 900


def make_since():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(hours=1)


def test_outbox_line_shows_waiting_reports(make_tray):
    tray = make_tray()
    tray.set_outbox_waiting(1)
    assert "1 report waiting to be sent" in menu_texts(tray)
    assert "1 report waiting to be sent" in tray.tray.toolTip()
    tray.set_outbox_waiting(3)
    assert "3 reports waiting to be sent" in menu_texts(tray)
    tray.set_outbox_waiting(0)
    assert not any("waiting" in t for t in menu_texts(tray))


def test_it_status_from_the_diagnosis_feeds_menu_and_notifications(make_tray):
    pytest.importorskip("app.feed")
    tray = make_tray()
    it_status = {
        "source": "native",
        "incidents": [
            {"id": "INC-1", "title": "Mail server outage", "status": "investigating",
             "message": "We are on it", "updated_at": "2024-01-01T10:00:00Z", "next_update_at": None}
        ],
        "fetched_at": "2024-01-01T10:00:00Z",
        "error": None,
    }
    feed(tray, "ok", it_status=it_status)
    assert any(t.startswith("IT is aware: Mail server outage") for t in menu_texts(tray))
    assert len(tray.notifications) == 1 and "Mail server outage" in tray.notifications[0][1]
    feed(tray, "ok", it_status=it_status)
    assert len(tray.notifications) == 1  # the same incident is not news twice


def test_without_a_tray_the_details_window_opens_with_an_explanation(make_tray, qtbot):
    tray = make_tray(tray_available=lambda: False, tray_wait_s=0.3, tray_poll_s=0.05)
    tray.start()
    qtbot.waitUntil(lambda: tray._details is not None and tray._details.isVisible(), timeout=3000)
    assert tray.no_tray
    assert tray._details.notice.text() == NO_TRAY_TEXT
    assert not tray._details.notice.isHidden()


def test_offscreen_has_no_tray_and_the_real_check_falls_back(make_tray, qtbot):
    from PySide6.QtWidgets import QSystemTrayIcon

    assert not QSystemTrayIcon.isSystemTrayAvailable()
    tray = make_tray(tray_available=QSystemTrayIcon.isSystemTrayAvailable, tray_wait_s=0.2,
                     tray_poll_s=0.05)
    tray.start()
    qtbot.waitUntil(lambda: tray.no_tray and tray._details.isVisible(), timeout=3000)


def test_gui_keeps_ticking_while_a_check_blocks(make_tray, qtbot):
    diagnose = FakeDiagnose("ok")
    diagnose.release.clear()
    tray = make_tray(diagnose=diagnose)
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    tray.start()
    qtbot.waitUntil(lambda: tray.monitor.running, timeout=2000)
    qtbot.wait(600)
    assert tray.monitor.running and diagnose.calls == 0  # still blocked
    assert len(ticks) >= 10  # the event loop ran all along
    tray.show_details()  # and the window opens while the check waits
    assert tray._details.isVisible()
    diagnose.release.set()
    qtbot.waitUntil(lambda: tray.verdict == "ok", timeout=5000)
    timer.stop()


def test_a_crashed_pass_keeps_the_confirmed_outage_and_retries(make_tray, qtbot):
    diagnose = FakeDiagnose("down")
    tray = make_tray(diagnose=diagnose)
    confirm(tray, "down")
    notices = len(tray.notifications)
    tray.monitor.started()
    tray._on_check_failed(RuntimeError("boom"))  # what the worker delivers when diagnose raises
    assert tray.verdict == "down" and not tray.monitor.running
    # the retry is the check's own (an outbox flush drawn 0.5-5 s after start may come sooner)
    assert 0 < tray.monitor.seconds_until_check() <= max(tray.config.check.confirm_after_s, 1.0) * 1.1 + 1
    # the next real pass agrees with the outage: no second "Mail is down"
    feed(tray, "down")
    assert tray.verdict == "down" and len(tray.notifications) == notices


def test_a_failing_diagnose_does_not_stop_the_light(make_tray, qtbot):
    def broken(config):
        raise RuntimeError("boom")

    tray = make_tray(diagnose=broken)
    tray.start()
    qtbot.waitUntil(lambda: not tray.monitor.running and tray.monitor.seconds_until_due() > 0, timeout=5000)
    assert tray.verdict == "checking" and tray.monitor.latest is None
    assert tray._due_timer.isActive()


def test_the_schedule_uses_one_single_shot_timer_for_the_monitors_next_job(make_tray, qtbot):
    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], flush_interval_s=None)
    tray = make_tray(monitor=monitor)
    confirm(tray, "ok")
    assert tray._due_timer.isSingleShot() and tray._due_timer.isActive()
    remaining = tray._due_timer.remainingTime()
    expected = monitor.seconds_until_due() * 1000
    # Qt's coarse timer: within 5 % of the interval, rounded to the second past 20 s
    slack = max(1000, 0.05 * expected) + 100
    assert abs(remaining - expected) < slack
    assert 30_000 - slack <= remaining  # the next slot of the grid, nothing sooner
    timers = [t for t in tray.findChildren(QTimer) if t.isActive()]
    assert set(timers) <= {tray._due_timer, tray._tick_timer}
    assert QApplication.instance() is not None


def test_a_timer_that_fires_early_runs_nothing_and_is_armed_for_the_rest(make_tray):
    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], flush_interval_s=None)
    tray = make_tray(monitor=monitor)
    confirm(tray, "ok")
    started = []
    tray.check_started.connect(lambda: started.append(1))
    clock[0] += 10  # a coarse timer woke up before the next slot
    left = monitor.seconds_until_due() * 1000
    assert left > 1000
    tray._on_due()
    assert started == [] and tray._due_timer.isActive()
    assert abs(tray._due_timer.remainingTime() - left) < max(1000, 0.05 * left) + 100
    clock[0] += left / 1000  # now it is due
    tray._on_due()
    assert started == [1]


def test_a_pass_that_finishes_after_stop_starts_nothing(make_tray, monkeypatch):
    """stop() is the end: a check that comes back later (its result was already queued) neither
    writes to the history, which is closed next, nor arms the schedule again."""
    from app.history import History
    from app.paths import user_paths
    from app.ui import tray as tray_mod

    history = History(user_paths().history_db)
    tray = make_tray(history=history)
    confirm(tray, "ok")
    tray.history_pool.waitForDone(5000)
    queued = []
    real = tray_mod.run_in_background
    monkeypatch.setattr(tray_mod, "run_in_background",
                        lambda fn, *a, **k: queued.append(fn) or real(fn, *a, **k))
    tray.stop()
    feed(tray, "down")
    assert queued == []
    assert not tray._due_timer.isActive()


def test_jobs_the_monitor_hands_out_run_on_the_worker(make_tray, qtbot, monkeypatch):
    calls = []
    monkeypatch.setattr(tray_mod, "run_in_background", lambda fn, *args, **kw: calls.append(fn))
    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], feed_interval_s=120)
    tray = make_tray(CONFIG + '[feed]\nurl = "/nonexistent/status.json"\n', monitor=monitor)
    clock[0] += 200  # the first check, a flush and a feed read are all due by now
    tray._on_due()
    assert {tray_mod.run_check, tray_mod.flush_outbox, tray_mod.read_feed} <= set(calls)
    assert monitor.running and monitor.feed_running and monitor.flush_running
    calls.clear()
    tray._on_due()
    assert calls == []  # each job once


def test_the_feed_is_polled_on_its_own_timer_and_resolution_clears_the_line(make_tray, qtbot, tmp_path):
    from app import feed as feed_mod

    path = tmp_path / "status.json"
    incident = feed_mod.post(path, "Mail server disk full", "Freeing space", next_update="30m")
    tray = make_tray(CONFIG + f'[feed]\nurl = "{path}"\ninterval_s = 15\n')
    assert tray.monitor.feed_interval_s == 15 and tray._feed_job
    tray.poll_feed()  # what the monitor's "feed" job runs, on the worker
    qtbot.waitUntil(lambda: any(t.startswith("IT is aware: Mail server disk full") for t in menu_texts(tray)),
                    timeout=10000)
    assert "next update" in tray.tray.toolTip()
    assert [text for _, text in tray.notifications if "disk full" in text]
    tray.show_details()
    details = tray._details.it_label.text()
    assert "Mail server disk full (investigating). Freeing space." in details
    assert "Last updated " in details and "Next update " in details
    feed_mod.resolve(path, incident, "Space freed")
    tray.poll_feed()
    qtbot.waitUntil(lambda: not any(t.startswith("IT is aware") for t in menu_texts(tray)), timeout=10000)
    title, text = tray.notifications[-1]
    assert title == "IT has fixed it"  # mail is green here, so IT's word stands
    assert text == "Mail server disk full. Space freed."  # IT's closing words are kept


def test_start_flushes_the_outbox_and_the_menu_line_sends_on_demand(make_tray, qtbot, make_config):
    from app.report import build
    from app.report.outbox import Outbox
    from tests.servers.receiver import Receiver, Reply

    receiver = Receiver().start()
    try:
        receiver.replies = [Reply(503)]  # the first attempt is refused for now: the report waits
        text = CONFIG + f'[report]\nwebhook_url = "{receiver.url}"\n'
        report = build.build_report(make_config(text), make_diagnosis("down"))
        outbox = Outbox()
        outbox.save(report, ["webhook"])
        tray = make_tray(text)
        tray.start()
        qtbot.waitUntil(lambda: len(receiver.requests) == 1, timeout=10000)
        qtbot.waitUntil(lambda: "1 report waiting to be sent" in menu_texts(tray), timeout=10000)
        receiver.replies = []
        tray.outbox_action.trigger()  # a person asked: ignore the backoff
        qtbot.waitUntil(lambda: len(receiver.requests) == 2, timeout=10000)
        qtbot.waitUntil(lambda: not any("waiting" in t for t in menu_texts(tray)), timeout=10000)
        assert receiver.requests[1].headers["Idempotency-Key"] == report["id"]
        assert outbox.waiting_count() == 0
    finally:
        receiver.stop()


def test_tooltip_keeps_since_when_across_a_restart(make_tray, qtbot):
    """Quit at 15:00 while mail was down since 13:00, start again: still 'since 13:00'."""
    from datetime import UTC, datetime, timedelta

    from app.history import History
    from app.jsonio import iso_utc
    from app.paths import user_paths

    history = History(user_paths().history_db)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2, minutes=5)
    history.record(make_diagnosis("down", checked_at=iso_utc(two_hours_ago)), confirmed=True)
    tray = make_tray(history=history, verdict="down")
    tray.monitor.confirm_after_s = 0.05
    tray.start()
    qtbot.waitUntil(lambda: tray.verdict == "down", timeout=5000)
    qtbot.waitUntil(lambda: ", 2 h 5 min)." in tray.tray.toolTip(), timeout=5000)
    local = two_hours_ago.astimezone().strftime("%H:%M")
    assert f"since {local}" in tray.tray.toolTip() or "yesterday" in tray.tray.toolTip()


def test_pause_ends_after_an_hour_of_wall_time_even_across_sleep(make_tray, monkeypatch):
    """A laptop paused for an hour and closed overnight gets its notifications back."""
    now = {"mono": 100.0, "wall": 1_700_000_000.0}
    fake_time = types.SimpleNamespace(monotonic=lambda: now["mono"], time=lambda: now["wall"])
    monkeypatch.setattr(tray_mod, "time", fake_time)
    tray = make_tray()
    confirm(tray, "ok")
    tray.pause_action.trigger()
    assert tray.paused and tray.pause_action.isChecked()
    now["wall"] += 8 * 3600  # asleep: the monotonic clock stood still
    now["mono"] += 30
    assert not tray.paused
    tray._on_tick()
    assert not tray.pause_action.isChecked()  # the menu no longer claims it is paused
    confirm(tray, "down")
    assert [t for t, _ in tray.notifications] == ["Mail is down"]


def test_early_unpause_then_pause_again_lasts_a_full_hour(make_tray, monkeypatch):
    now = {"mono": 100.0, "wall": 1_700_000_000.0}
    fake_time = types.SimpleNamespace(monotonic=lambda: now["mono"], time=lambda: now["wall"])
    monkeypatch.setattr(tray_mod, "time", fake_time)
    tray = make_tray()
    tray.pause_action.trigger()
    now["mono"] += 1800
    now["wall"] += 1800
    tray.pause_action.trigger()  # unpaused early
    assert not tray.paused
    tray.pause_action.trigger()  # and paused again
    now["mono"] += 1900
    now["wall"] += 1900  # past the first pause's hour
    tray._on_tick()
    assert tray.paused and tray.pause_action.isChecked()


def test_without_a_tray_the_wait_for_one_slows_down_after_the_fallback(make_tray, qtbot):
    tray = make_tray(tray_available=lambda: False, tray_wait_s=0.2, tray_poll_s=0.05)
    tray.start()
    qtbot.waitUntil(lambda: tray.no_tray, timeout=3000)
    # still watching for a panel that starts late, but not twenty times a second all day
    assert tray._tray_poll.isActive() and tray._tray_poll.interval() >= 5000


def test_a_network_change_arms_the_timer_for_one_spread_check(make_tray, qtbot):
    from app.monitor import NETWORK_DELAY_S

    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], flush_interval_s=None)
    tray = make_tray(monitor=monitor)
    confirm(tray, "ok")
    assert tray.trigger("network_change") is True
    clock[0] += 0.5
    assert tray.trigger("network_change") is False  # joins the check already coming
    remaining = tray._due_timer.remainingTime()
    assert tray._due_timer.isActive()
    assert NETWORK_DELAY_S[0] * 1000 - 600 <= remaining <= NETWORK_DELAY_S[1] * 1000


def test_history_writes_land_in_the_order_the_passes_came(make_tray, qtbot):
    """A slow first write (a busy disk, the CLI holding the database) must not let the next
    pass's write overtake it: the timeline and 'since' would then be wrong."""
    import time as _time

    class SlowFirstHistory:
        def __init__(self) -> None:
            self.recorded: list[str] = []

        def record(self, diagnosis, *, confirmed):
            if not self.recorded and diagnosis.verdict == "ok":
                _time.sleep(0.3)
            self.recorded.append(diagnosis.verdict)

        def changes(self, since, limit=100):
            return []

        def prune(self, days=30):
            return 0

        def close(self):
            pass

    history = SlowFirstHistory()
    tray = make_tray(history=history)
    feed(tray, "ok")
    feed(tray, "down")
    feed(tray, "down")
    qtbot.waitUntil(lambda: len(history.recorded) == 3, timeout=5000)
    assert history.recorded == ["ok", "down", "down"]


def test_the_history_opens_off_the_gui_thread_and_no_write_is_lost_meanwhile(make_tray, qtbot, monkeypatch):
    """Opening sqlite (up to its 10 s busy timeout on a locked file) must not hold the GUI
    thread while the icon is to be drawn; passes that finish before it is open still land."""
    import time as _time

    opened_on: list[threading.Thread] = []

    class RecordingHistory:
        def __init__(self) -> None:
            self.recorded: list[str] = []

        def record(self, diagnosis, *, confirmed):
            self.recorded.append(diagnosis.verdict)

        def prune(self, days=30):
            return 0

        def current_verdict(self):
            return None

        def current_since(self):
            return None

        def changes(self, since, limit=100):
            return []

        def close(self):
            pass

    history = RecordingHistory()

    def slow_open(self):
        opened_on.append(threading.current_thread())
        _time.sleep(0.5)
        return history

    monkeypatch.setattr(TrayApp, "_open_history", slow_open)
    tray = make_tray()
    started = _time.monotonic()
    tray.start()
    feed(tray, "ok")
    assert _time.monotonic() - started < 0.4  # neither start() nor the pass waited for it
    qtbot.waitUntil(lambda: history.recorded == ["ok"], timeout=5000)
    assert opened_on and opened_on[0] is not threading.main_thread()
    assert tray.history is history


def test_without_a_history_the_timeline_is_empty_and_nothing_fails(make_tray, qtbot, monkeypatch):
    monkeypatch.setattr(TrayApp, "_open_history", lambda self: None)
    tray = make_tray()
    tray.start()
    confirm(tray, "ok")
    tray.show_details()
    tray.history_pool.waitForDone(5000)
    qtbot.waitUntil(lambda: tray._details is not None, timeout=3000)
    assert tray.history is None


def test_the_network_watch_is_set_up_on_a_worker(make_tray, qtbot, monkeypatch):
    """Its first read loads psutil: not on the GUI thread, between the icon and its drawing."""
    from app import netwatch

    built_on: list[threading.Thread] = []

    class Watch:
        def __init__(self) -> None:
            built_on.append(threading.current_thread())

        def changed(self) -> bool:
            return False

    monkeypatch.setattr(netwatch, "NetworkWatch", Watch)
    tray = make_tray(watch_network=True)
    tray.start()
    qtbot.waitUntil(lambda: isinstance(tray._network, Watch), timeout=5000)
    assert built_on[0] is not threading.main_thread()


def test_memory_is_handed_back_once_after_a_burst_of_work(make_tray, qtbot, monkeypatch):
    from app.ui import app as app_mod

    trims = []
    monkeypatch.setattr(app_mod, "release_free_memory", lambda: trims.append(1) or True)
    monkeypatch.setattr(tray_mod, "SETTLE_MS", 200)
    tray = make_tray()
    tray.monitor.started()
    tray._on_check_done(tray_mod.CheckOutcome(make_diagnosis("ok")))
    tray._feed_done(False)  # the next job of the same burst comes back: the wait starts again
    assert trims == []
    qtbot.waitUntil(lambda: trims == [1], timeout=3000)
    qtbot.wait(400)
    assert trims == [1]  # once per burst, nothing while idle


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_free_memory_reaches_glibc():
    from app.ui.app import release_free_memory

    assert release_free_memory() is True


def test_history_is_pruned_while_the_tray_runs_for_weeks(make_tray, qtbot):
    """Laptops sleep instead of rebooting: pruning only at start would keep months."""

    class CountingHistory:
        def __init__(self) -> None:
            self.prunes = 0

        def record(self, diagnosis, *, confirmed):
            pass

        def prune(self, days=30):
            assert days == 30
            self.prunes += 1
            return 0

        def close(self):
            pass

    history = CountingHistory()
    tray = make_tray(history=history)
    confirm(tray, "ok")
    confirm(tray, "down")
    confirm(tray, "ok")
    qtbot.waitUntil(lambda: history.prunes >= 2, timeout=3000)


def test_timeline_times_say_which_day():
    from datetime import UTC, datetime, timedelta

    from app.ui.details_window import _local_time

    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC).astimezone()
    today = now.replace(hour=9, minute=5)
    assert _local_time(today.isoformat(), now) == "09:05"
    assert _local_time((today - timedelta(days=1)).isoformat(), now) == "yesterday 09:05"
    assert _local_time((today - timedelta(days=3)).isoformat(), now) == (today - timedelta(days=3)).strftime(
        "%a %d %b 09:05")
    assert _local_time("not a time", now) == "not a time"


def test_network_back_sends_waiting_reports_soon_ignoring_their_backoff(make_tray, monkeypatch):
    from app.monitor import FLUSH_NETWORK_BACK_S

    calls = []
    monkeypatch.setattr(tray_mod, "run_in_background", lambda fn, *args, **kw: calls.append((fn, args)))
    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0])
    tray = make_tray(monitor=monitor)
    clock[0] += 10
    tray._on_due()  # the flush after start
    monitor.flush_finished()
    confirm(tray, "local")
    calls.clear()
    confirm(tray, "ok")
    assert not [args for fn, args in calls if fn is tray_mod.flush_outbox]  # spread, not at once
    clock[0] += FLUSH_NETWORK_BACK_S[1]
    tray._on_due()
    flushes = [args for fn, args in calls if fn is tray_mod.flush_outbox]
    assert flushes and flushes[0][2] is True  # force: ignore the backoff


def test_confirmed_changes_are_pushed_off_the_gui_thread_and_retried(make_tray, qtbot):
    from app.monitor import STATE_DELAY_S

    pushed = []

    def push(transition):
        pushed.append((transition.current, threading.current_thread()))
        return (False, 90.0) if len(pushed) == 1 else True  # the hub is busy once

    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], flush_interval_s=None)
    tray = make_tray(monitor=monitor)
    tray.set_state_pusher(push)
    assert monitor.share_state
    confirm(tray, "ok")
    clock[0] += STATE_DELAY_S[1]
    tray._on_due()
    qtbot.waitUntil(lambda: len(pushed) == 1 and not monitor.state_running and not monitor.running, timeout=5000)
    assert pushed[0][0] == "ok" and pushed[0][1] is not threading.main_thread()
    clock[0] += 85  # Retry-After 90 s: not yet
    tray._on_due()
    qtbot.wait(200)
    assert len(pushed) == 1
    clock[0] += 10
    tray._on_due()
    qtbot.waitUntil(lambda: len(pushed) == 2 and not monitor.state_running, timeout=5000)
    assert pushed[1][0] == "ok"


def test_a_network_change_seen_on_the_tick_brings_one_spread_check(make_tray):
    from app.monitor import NETWORK_DELAY_S

    clock = [1000.0]
    monitor = Monitor(60, 5, clock=lambda: clock[0], flush_interval_s=None)
    tray = make_tray(monitor=monitor)
    confirm(tray, "ok")
    tray._network = types.SimpleNamespace(changed=lambda: False)
    tray._on_tick()
    assert monitor.trigger("check_now") and monitor.due() == ["check"]  # nothing was pending
    monitor.finished(make_diagnosis("ok"))
    tray._network = types.SimpleNamespace(changed=lambda: True)
    tray._on_tick()
    assert monitor.trigger("network_change") is False  # the tick's change is already coming
    assert monitor.seconds_until_due() <= NETWORK_DELAY_S[1]
    assert tray._due_timer.remainingTime() <= NETWORK_DELAY_S[1] * 1000
