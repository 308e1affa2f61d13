"""The tray light: renders the monitor's confirmed state, runs the jobs the monitor hands out off
the GUI thread and forwards clicks and events; every decision (when to check, read the feed, flush
the outbox or push state, what is confirmed) belongs to app.monitor. One timer is armed for
monitor.next_due(), one ticks every TICK_S for wake detection."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QFont
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app import firstrun
from app.bounds import MAX_MENU_LINE, MAX_NOTIFICATION, MAX_NOTIFICATION_TITLE, clip
from app.config import Config
from app.diagnosis.model import Diagnosis
from app.monitor import TICK_S, Monitor, Transition
from app.paths import user_paths
from app.report.redact import scrub_text
from app.ui import icons
from app.ui.worker import run_in_background
from app.words import staff

log = logging.getLogger(__name__)

NO_TRAY_TEXT = staff.NO_TRAY_TEXT
PAUSE_S = 3600.0
# once the fallback window is up, a panel that starts late is still noticed, without waking
# the process twice a second all day
TRAY_LATE_POLL_S = 10.0
# this long after the last job of a burst (a check, the feed, a push) has finished, the memory
# it freed goes back to the system
SETTLE_MS = 1500

PROBLEM_TITLES = staff.PROBLEM_TITLES


@dataclass
class CheckOutcome:
    """What one background check brings back to the GUI thread."""

    diagnosis: Diagnosis
    outbox_waiting: int | None = None


def _default_diagnose(config: Config) -> Diagnosis:
    from app.diagnosis.engine import diagnose

    return diagnose(config)


def _load_default_config() -> Config:
    from app import config as config_mod

    return config_mod.load()


def _diagnose_without_feed(config: Config) -> Diagnosis:
    from app.diagnosis.engine import diagnose

    # the feed has its own schedule; run_check puts the last result in instead
    return diagnose(config, it_status_fn=lambda _config, _deadline: None)


_OWN_FEED = object()  # run_check: the diagnosis reads the feed itself


def run_check(
    diagnose: Callable[[Config], Diagnosis], config: Config, outbox: Path, it_status: Any = _OWN_FEED
) -> CheckOutcome:
    """Runs on a worker thread: the diagnosis, plus how many reports wait in the outbox.
    `it_status`: the last feed result, carried by the diagnosis (reports name the incident)."""
    diagnosis = diagnose(config)
    if it_status is not _OWN_FEED:
        diagnosis.it_status = it_status
    waiting = None
    try:
        from app.report.outbox import Outbox
    except ImportError:
        pass
    else:
        try:
            waiting = Outbox(outbox).waiting_count()
        except Exception:  # the outbox line is a hint; a broken outbox must not stop the light
            log.exception("could not count the outbox")
    return CheckOutcome(diagnosis, waiting)


def read_feed(config: Config) -> dict | None:
    """Runs on a worker thread: one bounded read of IT's status feed."""
    from app import feed
    from app.diagnosis.probes.base import Deadline

    return feed.read_it_status(config, Deadline(float(config.check.timeout_s)))


def flush_outbox(config: Config, outbox: Path, force: bool) -> int:
    """Runs on a worker thread: deliver what is due, then count what still waits."""
    from app.report.outbox import Outbox, flush_configured

    try:
        flush_configured(config, force=force)
    except Exception as exc:  # a channel bug must not stop the light; the reports stay queued
        log.warning("sending waiting reports failed: %s", exc)
    return Outbox(outbox).waiting_count()


def _incident_key(it_status: dict | None) -> list[tuple[Any, Any, Any]]:
    incidents = (it_status or {}).get("incidents") or []
    return [(i.get("id"), i.get("status"), i.get("updated_at")) for i in incidents if isinstance(i, dict)]


def stored_state(history: Any) -> tuple[str, datetime] | None:
    """Runs on a worker thread: the confirmed verdict the history ends with, and since when."""
    verdict, since = history.current_verdict(), history.current_since()
    return (verdict, since) if verdict and since else None


def _with_history(tray: TrayApp, work: str | Callable[..., Any], default: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs on the history thread, behind the job that opens the database: `work` (a History
    method's name, or a function taking the history first) on the history, or `default` when
    there is none."""
    history = tray.history
    if history is None:
        return default
    if isinstance(work, str):
        return getattr(history, work)(*args, **kwargs)
    return work(history, *args, **kwargs)


class TrayApp(QObject):
    """The tray icon, its menu, the Details window and the check schedule."""

    notified = Signal(str, str)  # title, text: each notification actually shown
    # from the desktop notification thread, delivered on the GUI thread (queued)
    _desktop_clicked = Signal()
    _desktop_fallback = Signal(str, str)
    check_started = Signal()
    state_changed = Signal()

    def __init__(
        self,
        config: Config,
        *,
        diagnose: Callable[[Config], Diagnosis] | None = None,
        monitor: Monitor | None = None,
        history: Any = None,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        tray_wait_s: float = 10.0,
        tray_poll_s: float = 0.5,
        tick_s: float = TICK_S,
        watch_network: bool = True,
        load_config: Callable[[], Config] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config
        self._load_config = load_config or _load_default_config
        self.monitor = monitor or Monitor(
            config.check.interval_s,
            config.check.confirm_after_s,
            feed_interval_s=float(config.feed.interval_s) if config.feed.url else None,
        )
        self._own_monitor = monitor is None
        self._given_diagnose = diagnose
        self._feed_job = False
        self._diagnose: Callable[[Config], Diagnosis] = _default_diagnose
        self._plan_feed()
        self._push_state: Callable[[Transition], Any] | None = None
        self._plan_state()
        # the history database (sqlite) opens once the icon is up, on the history thread: it is
        # not needed to show the icon, and a locked database must never hold the GUI thread
        self.history = history
        self._history_pending = history is None
        self._stopped = False  # stop() was called: no new job, no timer armed
        self._history_opening = False
        # history work runs off the GUI thread on one thread of its own, in order: a write
        # must not be overtaken by the next pass's write or by the timeline read after it
        self.history_pool = QThreadPool(self)
        self.history_pool.setMaxThreadCount(1)
        self._tray_available = tray_available
        self._tray_wait_s = tray_wait_s
        self._watch_network = watch_network
        self._network: Any = None
        self._outbox_dir = user_paths().outbox
        self._job: Any = None
        # (monotonic, wall) ends of a pause: whichever comes first ends it, so a laptop that
        # sleeps through the hour (monotonic stands still) is not left silent the next day
        self._paused_until: tuple[float, float] | None = None
        self._last_notice_verdict: str | None = None
        self._it_line: str | None = None
        self._outbox_count = 0
        self._toast: Any = None
        # True: always the notification window (set by the screenshots). Otherwise Linux sends
        # notifications to the desktop's notification daemon and falls back to the window;
        # Windows and macOS use Qt's showMessage
        self.use_toast: bool | None = None
        self._desktop: Any = None
        self._desktop_clicked.connect(self._on_message_clicked)  # emitted off the GUI thread: queued
        self._desktop_fallback.connect(self._on_desktop_fallback)
        self._it_status: dict | None = None
        self._incidents: Any = None
        self._details: Any = None
        self._report_dialog: Any = None
        self._setup: Any = None
        self._setup_offered = False
        self._autostart: Any = None
        self._tray_wait_started = 0.0
        self.no_tray = False
        self.notifications: list[tuple[str, str]] = []

        self.tray = QSystemTrayIcon(self)
        self.tray.setIcon(icons.icon("unknown"))
        self.tray.activated.connect(self._on_activated)
        self.tray.messageClicked.connect(self._on_message_clicked)
        self.menu = QMenu()
        self._build_menu()
        self.tray.setContextMenu(self.menu)

        self._due_timer = QTimer(self)
        self._due_timer.setSingleShot(True)
        # Qt's default (coarse) timer: within 5 % of the interval, to the second past 20 s. One
        # that fires early finds nothing due and is armed again for the rest (_on_due). Asking
        # for a precise one would build the whole `Qt` namespace of enums, a megabyte of idle
        # memory the light does not otherwise need (benchmarks/tray_footprint.py).
        self._due_timer.timeout.connect(self._on_due)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(int(tick_s * 1000))
        self._tick_timer.timeout.connect(self._on_tick)
        self._tray_poll = QTimer(self)
        self._tray_poll.setInterval(int(tray_poll_s * 1000))
        self._tray_poll.timeout.connect(self._poll_tray)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._on_settled)
        self._refresh()

    # ------------------------------------------------------------ setup

    def _ensure_history(self) -> None:
        """Open the history database, once, as the first job of the history thread: every
        history job is queued behind it and finds it open (or finds there is none)."""
        if self._history_pending:
            self._history_pending = False
            self._history_opening = True
            run_in_background(self._open_history_in_pool, pool=self.history_pool)

    def _open_history_in_pool(self) -> None:
        self.history = self._open_history()
        self._history_opening = False

    def _history_job(self, work: str | Callable[..., Any], *args: Any,
                     on_done: Callable[[Any], None] | None = None, default: Any = None,
                     **kwargs: Any) -> None:
        """`work` on the history, on the history thread in order; nothing without a history,
        nor once the tray is stopped (the database is closed after that)."""
        if self._stopped:
            return
        self._ensure_history()
        if self.history is None and not self._history_opening:
            return
        run_in_background(_with_history, self, work, default, *args, on_done=on_done,
                          pool=self.history_pool, **kwargs)

    def _open_history(self) -> Any:
        try:
            from app.history import History

            return History(user_paths().history_db)  # it makes its folder, private
        except ImportError:
            log.info("history module not available; the timeline stays empty")
        except Exception:  # a broken database must not keep the light off
            log.exception("could not open the history database")
        return None

    def _build_menu(self) -> None:
        menu = self.menu
        words = staff.MENU
        # the headline is the most important line: full contrast (a disabled item is the
        # faintest text of a menu), bold, and a click opens Details, where it is explained
        self.headline_action = menu.addAction(words["checking"])
        bold = QFont(self.headline_action.font())
        bold.setBold(True)
        self.headline_action.setFont(bold)
        self.headline_action.setToolTip(words["headline_tip"])
        self.headline_action.triggered.connect(self.show_details)
        self.it_action = menu.addAction("")
        self.it_action.setToolTip(words["headline_tip"])
        self.it_action.triggered.connect(self.show_details)
        self.it_action.setVisible(False)
        self.outbox_action = menu.addAction("")
        self.outbox_action.setToolTip(words["outbox_tip"])
        self.outbox_action.triggered.connect(lambda: self.flush_outbox(force=True))
        self.outbox_action.setVisible(False)
        menu.addSeparator()
        self.check_action = menu.addAction(words["check_now"])
        self.check_action.triggered.connect(self.check_now)
        self.report_action = menu.addAction(words["report"])
        self.report_action.triggered.connect(lambda: self.open_report())
        self.details_action = menu.addAction(words["details"])
        self.details_action.triggered.connect(self.show_details)
        self.webmail_action = menu.addAction(words["webmail"])
        self.webmail_action.triggered.connect(self.open_webmail)
        self.webmail_action.setVisible(bool(self.config.mail.webmail_url))
        self.setup_action = menu.addAction(words["setup"])
        self.setup_action.triggered.connect(self.show_setup)
        self.setup_action.setVisible(firstrun.setup_allowed(self.config))
        menu.addSeparator()
        self.pause_action = menu.addAction(words["pause"])
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.set_paused)
        self.autostart_action = menu.addAction(words["autostart"])
        self.autostart_action.setCheckable(True)
        self._init_autostart()
        self.autostart_action.toggled.connect(self.set_autostart)
        self._extras_separator = menu.addSeparator()
        self.quit_action = menu.addAction(words["quit"])
        self.quit_action.triggered.connect(self.quit)

    def _init_autostart(self) -> None:
        try:
            from app import autostart

            kwargs: dict[str, Any] = {}
            if sys.platform == "win32":
                from PySide6.QtCore import QSettings

                # QSettings already has the value/setValue/remove/contains the Run key needs
                kwargs["settings"] = QSettings(autostart.RUN_KEY, QSettings.Format.NativeFormat)
            self._autostart = autostart.for_platform(None, **kwargs)
            self.autostart_action.setChecked(bool(self._autostart.enabled))
        except ImportError:
            log.info("autostart module not available")
            self.autostart_action.setEnabled(False)
        except Exception:
            log.exception("could not read the autostart setting")
            self.autostart_action.setEnabled(False)

    def keep_login_items(self) -> None:
        """The demo's tray: "Start at login" stays visible but off, so trying the demo never
        writes a login item for a MailBeacon that has no configuration."""
        self._autostart = None
        self.autostart_action.blockSignals(True)
        self.autostart_action.setChecked(False)
        self.autostart_action.blockSignals(False)
        self.autostart_action.setEnabled(False)
        self.autostart_action.setText(staff.MENU["autostart_demo"])

    def add_action(self, text: str, callback: Callable[[], Any]) -> QAction:
        """An extra menu item above Quit (the demo's "Simulate outage")."""
        action = QAction(text, self.menu)
        action.triggered.connect(lambda: callback())
        self.menu.insertAction(self._extras_separator, action)
        return action

    def start(self) -> None:
        """Show the icon (or the fallback window) and start checking at once."""
        self._tick_timer.start()
        if self._tray_available():
            self.tray.show()
        else:
            self._tray_wait_started = time.monotonic()
            self._tray_poll.start()
            if self._tray_wait_s <= 0:
                self._poll_tray()
        # after the icon, and off the GUI thread: nothing here is needed to show it
        self._history_job("prune", 30)
        self._history_job(stored_state, on_done=self._on_stored_state)
        if self._watch_network:
            self._watch_network_changes()
        if firstrun.needs_setup(self.config):
            self._setup_offered = True
            QTimer.singleShot(0, self.show_setup)
        self._arm()

    def _plan_feed(self) -> None:
        """The feed is read on the monitor's schedule when it keeps one (a monitor given by a
        caller may not); else within each check, as `mailbeacon check` does."""
        config = self.config
        if self._own_monitor:
            self.monitor.set_feed_interval(float(config.feed.interval_s) if config.feed.url else None)
        self._feed_job = bool(config.feed.url) and self.monitor.feed_interval_s is not None
        self._diagnose = self._given_diagnose or (_diagnose_without_feed if self._feed_job else _default_diagnose)

    def _watch_network_changes(self) -> None:
        # polled on the tick instead of Qt's QNetworkInformation: its NetworkManager/GIO backend
        # cost more idle memory than the rest of the tray's network code (app.netwatch)
        from app.netwatch import NetworkWatch

        # its first read of the interfaces: on a worker, so the GUI thread goes on to draw the icon
        run_in_background(NetworkWatch, on_done=self._on_network_watch)

    def _on_network_watch(self, watch: Any) -> None:
        self._network = watch

    def _poll_tray(self) -> None:
        if self._tray_available():
            self._tray_poll.stop()
            self.tray.show()
            if self.no_tray and self._details is not None:
                self._details.set_notice("")
            self.no_tray = False
            return
        if time.monotonic() - self._tray_wait_started >= self._tray_wait_s and not self.no_tray:
            self.no_tray = True
            self._tray_poll.setInterval(int(max(self._tray_poll.interval(), TRAY_LATE_POLL_S * 1000)))
            log.warning("no system tray after %.0f s; showing the Details window", self._tray_wait_s)
            self.show_details()
            self._details.set_notice(NO_TRAY_TEXT)

    # ------------------------------------------------------------ scheduling

    def _work_finished(self) -> None:
        """A background job came back: once the burst is over, hand back what it freed."""
        self._settle_timer.start()

    def _on_settled(self) -> None:
        from app.ui.app import release_free_memory

        release_free_memory()

    def _arm(self) -> None:
        """The one schedule timer, set for the monitor's next job (none once stopped: a job that
        finishes after stop() must not start the schedule again)."""
        if self._stopped:
            return
        seconds = self.monitor.seconds_until_due()  # on the monitor's own clock
        self._due_timer.start(int(min(seconds, 86400.0) * 1000))

    def _on_due(self) -> None:
        for job in self.monitor.due():
            if job == "check":
                self._start_check()
            elif job == "feed":
                self.poll_feed()
            elif job == "flush":
                self.flush_outbox(force=self.monitor.flush_urgent, scheduled=True)
            elif job == "state":
                self._start_state()
        self._arm()

    def _on_stored_state(self, state: tuple[str, datetime] | None) -> None:
        if state is not None:
            self.monitor.restore(*state)
            self._refresh_tooltip()

    def _on_tick(self) -> None:
        if self._network is not None and self._network.changed():
            self.monitor.trigger("network_change")
        self.monitor.tick()
        self._arm()
        if self._paused_until is not None and not self.paused:
            self.set_paused(False)
        self._refresh_tooltip()

    def trigger(self, reason: str) -> bool:
        became_due = self.monitor.trigger(reason)
        self._arm()
        return became_due

    def check_now(self) -> None:
        self.trigger("check_now")

    def _start_check(self) -> None:
        """Run the check the monitor handed out (it already counts as started)."""
        self.check_started.emit()
        self._job = run_in_background(
            run_check,
            self._diagnose,
            self.config,
            self._outbox_dir,
            self._it_status if self._feed_job else _OWN_FEED,
            on_done=self._on_check_done,
            on_error=self._on_check_failed,
        )

    def _on_check_done(self, outcome: CheckOutcome) -> None:
        self._job = None
        self._work_finished()
        if outcome.outbox_waiting is not None:
            self.set_outbox_waiting(outcome.outbox_waiting)
        self.apply_diagnosis(outcome.diagnosis)
        if not self._setup_offered and firstrun.nothing_to_watch(self.config, outcome.diagnosis):
            # an address or domain was set but discovery found nothing: ask once per run
            self._setup_offered = True
            self.show_setup()

    def _on_check_failed(self, exc: BaseException) -> None:
        self._job = None
        self._work_finished()
        log.warning("the check could not finish: %r; the light keeps its state", exc)
        self.monitor.failed()
        self._arm()

    def apply_diagnosis(self, diagnosis: Diagnosis) -> Transition | None:
        """One finished pass: let the monitor judge it, record it, render, maybe notify."""
        transition = self.monitor.finished(diagnosis)
        self._history_job("record", diagnosis, confirmed=self.monitor.confirmed is diagnosis)
        if transition is not None:
            # a tray may run for weeks without a restart: keep it to 30 days as it goes
            self._history_job("prune", 30)
        if not self._feed_job:
            self._update_it_status(diagnosis.it_status)
        self._refresh()
        if transition is not None:
            self._on_transition(transition)
        self._arm()
        self.state_changed.emit()
        return transition

    # ------------------------------------------------------------ rendering

    @property
    def verdict(self) -> str:
        return self.monitor.confirmed_verdict

    def _refresh(self) -> None:
        verdict = self.monitor.confirmed_verdict
        self.tray.setIcon(icons.icon(icons.state_for(verdict)))
        confirmed = self.monitor.confirmed
        self.headline_action.setText(confirmed.headline if confirmed else staff.MENU["checking"])
        self.report_action.setText(self._call_to_action().button)
        self._refresh_tooltip()
        if self._details is not None and self._details.isVisible():
            self._fill_details()

    def _it_aware(self) -> str | None:
        return staff.it_aware(self._it_status)

    def _call_to_action(self) -> staff.CallToAction:
        confirmed = self.monitor.confirmed
        verdict = self.monitor.confirmed_verdict
        return staff.call_to_action(verdict, confirmed.advice if confirmed else "", self._it_status)

    def tooltip_text(self) -> str:
        confirmed = self.monitor.confirmed
        verdict = self.monitor.confirmed_verdict if confirmed is not None else "checking"
        return staff.tooltip(
            verdict,
            self.monitor.confirmed_since,
            datetime.now(UTC),
            it_lines=(staff.it_aware(self._it_status, title=True) or "", self._it_aware() or ""),
            outbox=self._outbox_count,
        )

    def _refresh_tooltip(self) -> None:
        self.tray.setToolTip(self.tooltip_text())

    def set_outbox_waiting(self, count: int) -> None:
        """Menu line for reports the outbox still has to send."""
        self._outbox_count = max(0, count)
        self.outbox_action.setText(staff.outbox_line(count) if count > 0 else "")
        self.outbox_action.setVisible(count > 0)
        self._refresh_tooltip()

    # ------------------------------------------------------------ feed and outbox (worker)

    def poll_feed(self) -> None:
        """Read IT's status feed off the GUI thread (the monitor's "feed" job); the reader keeps
        the last good feed and asks with a conditional GET."""
        if not self.config.feed.url:
            self._feed_done(False)
            return
        run_in_background(read_feed, self.config, on_done=self._on_feed, on_error=self._on_feed_failed)

    def _on_feed(self, it_status: dict | None) -> None:
        before = _incident_key(self._it_status)
        self._update_it_status(it_status)
        if self._details is not None and self._details.isVisible():
            self._fill_details()
        self._feed_done(_incident_key(it_status) != before)

    def _on_feed_failed(self, _exc: BaseException) -> None:
        self._feed_done(False)

    def _feed_done(self, changed: bool) -> None:
        self._work_finished()
        self.monitor.feed_finished(changed)
        self._arm()

    def flush_outbox(self, force: bool = False, *, scheduled: bool = False) -> None:
        """Send what waits in the outbox, off the GUI thread; `force` ignores backoff (a person
        asked, or the connection came back); `scheduled`: the monitor's "flush" job."""
        # bound methods, not closures: a queued result is delivered to a receiver that lives on
        # (a closure's only context is the job's emitter, which may be gone by then)
        if scheduled:
            on_done, on_error = self._on_scheduled_flush_done, self._on_scheduled_flush_failed
        else:
            on_done, on_error = self.set_outbox_waiting, None
        run_in_background(flush_outbox, self.config, self._outbox_dir, force, on_done=on_done, on_error=on_error)

    def _on_scheduled_flush_done(self, waiting: int) -> None:
        self.set_outbox_waiting(waiting)
        self._on_scheduled_flush_failed(None)

    def _on_scheduled_flush_failed(self, _exc: BaseException | None) -> None:
        self._work_finished()
        self.monitor.flush_finished()
        self._arm()

    # ------------------------------------------------------------ state pushes (worker)

    def _plan_state(self) -> None:
        """With [hub] url and share_state, confirmed changes go to the hub (SPEC 8)."""
        from app import state_share

        self.set_state_pusher(state_share.pusher(self.config))

    def set_state_pusher(self, push: Callable[[Transition], Any] | None) -> None:
        """Share confirmed verdict changes: `push(transition)` runs on a worker thread and
        returns True / False, or (ok, retry_after_s); the monitor spreads and retries them."""
        self._push_state = push
        self.monitor.share_state = push is not None

    def _start_state(self) -> None:
        transition, push = self.monitor.state_transition, self._push_state
        if transition is None or push is None:
            self._state_done(True)
            return
        run_in_background(push, transition, on_done=self._state_done, on_error=self._on_state_failed)

    def _on_state_failed(self, _exc: BaseException) -> None:
        self._state_done(False)

    def _state_done(self, result: Any) -> None:
        self._work_finished()
        ok, retry_after = result if isinstance(result, tuple) else (bool(result), None)
        self.monitor.state_finished(bool(ok), retry_after)
        self._arm()

    def set_it_line(self, text: str | None) -> None:
        """The "IT is aware: …" menu and tooltip line (None hides it)."""
        text = clip(scrub_text(text), MAX_MENU_LINE) if text else None
        self._it_line = text or None
        # "&" in a menu text marks a shortcut letter; a feed's "R&D" must show as written
        self.it_action.setText((text or "").replace("&", "&&"))
        self.it_action.setVisible(bool(text))
        self._refresh_tooltip()

    def _incident_lines(self) -> list[str]:
        if not self._it_status:
            return []
        from app.feed.text import incident_lines, is_verified_source

        return incident_lines(self._it_status, verified=is_verified_source(self.config.feed.url))

    def _update_it_status(self, it_status: dict | None) -> None:
        self._it_status = it_status
        try:
            from app import feed
        except ImportError:
            return
        try:
            self.set_it_line(feed.status_line(it_status) if it_status else None)
            if self._incidents is None:
                self._incidents = feed.IncidentTracker()
            reader = feed.reader_for(self.config) if self.config.feed.url else None
            closing = reader.closing_words if reader is not None else None
            for event in self._incidents.update(it_status, closing) or []:
                if event.kind == "summary":  # many changes at once: one notification, not a flood
                    self.notify(event.title, event.text)
                    continue
                self.notify(*staff.incident_notice(event.kind, event.incident, self.monitor.confirmed_verdict))
            self.report_action.setText(self._call_to_action().button)
        except Exception:  # a bad feed must never break the light
            log.exception("could not render the IT status")

    # ------------------------------------------------------------ notifications

    @property
    def paused(self) -> bool:
        if self._paused_until is None:
            return False
        mono_end, wall_end = self._paused_until
        return time.monotonic() < mono_end and time.time() < wall_end

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._paused_until = (time.monotonic() + PAUSE_S, time.time() + PAUSE_S)
            QTimer.singleShot(int(PAUSE_S * 1000), self._end_pause)
        else:
            self._paused_until = None
        if self.pause_action.isChecked() != paused:
            self.pause_action.setChecked(paused)

    def _end_pause(self) -> None:
        # a pause started again after an early unpause has its own, later end
        if self._paused_until is not None and time.monotonic() >= self._paused_until[0] - 1:
            self.set_paused(False)

    def notify(self, title: str, text: str, verdict: str | None = None) -> bool:
        # every notification may quote outside text (a feed, a server): scrubbed and bounded
        title, text = clip(scrub_text(title), MAX_NOTIFICATION_TITLE), clip(scrub_text(text), MAX_NOTIFICATION)
        if self.paused:
            log.info("notification paused: %s: %s", title, text)
            return False
        self._last_notice_verdict = verdict
        self.notifications.append((title, text))
        icon = (
            QSystemTrayIcon.MessageIcon.Warning
            if verdict in PROBLEM_TITLES
            else QSystemTrayIcon.MessageIcon.Information
        )
        if self.tray.isVisible():
            if self.use_toast:
                self._show_toast(title, text)
            elif sys.platform.startswith("linux"):
                self._show_on_desktop(title, text, verdict)
            else:
                self.tray.showMessage(title, text, icon, 10000)
        self.notified.emit(title, text)
        return True

    def _show_on_desktop(self, title: str, text: str, verdict: str | None) -> None:
        """Linux: through the desktop's notification daemon, found out off the GUI thread; where
        there is none (or the bus fails) the notification comes back as _desktop_fallback."""
        from app.ui import desktop_notify

        if self._desktop is None:
            self._desktop = desktop_notify.DesktopNotifier(
                on_click=self._desktop_clicked.emit,
                on_fallback=lambda notice: self._desktop_fallback.emit(notice.summary, notice.body),
            )
        state = icons.state_for(verdict or self.monitor.confirmed_verdict)
        self._desktop.show(
            desktop_notify.Notice(title, text, icon=icons.icon_file(state), critical=verdict == "down")
        )

    def _on_desktop_fallback(self, title: str, text: str) -> None:
        if self.tray.isVisible():
            self._show_toast(title, text)

    def _show_toast(self, title: str, text: str) -> None:
        """No notification daemon (a bare X11 panel): a small window away from the icon instead
        of Qt's balloon, which would cover the icon and swallow the click meant for it."""
        if self._toast is None:
            from app.ui import toast as toast_mod

            self._toast = toast_mod.Toast()
            self._toast.clicked.connect(self._on_message_clicked)
        self._toast.show_message(title, text, self.tray.geometry())

    def _on_transition(self, transition: Transition) -> None:
        current, previous = transition.current, transition.previous
        if current == "ok" and previous in ("checking", "ok"):
            return
        better = staff.recovery_notice(current, previous, transition.duration_s, transition.diagnosis.headline)
        if better is not None:
            self.notify(*better, current)
        elif current in PROBLEM_TITLES:
            title, text = staff.problem_notice(current, transition.diagnosis.headline, self._it_status)
            self.notify(title, text, current)

    def _on_message_clicked(self) -> None:
        if self._last_notice_verdict == "down" or (self._last_notice_verdict == "degraded" and self._it_aware()):
            self.open_report()
        else:
            self.show_details()

    # ------------------------------------------------------------ actions

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_details()

    def details_window(self) -> Any:
        if self._details is None:
            from app.ui.details_window import DetailsWindow

            self._details = DetailsWindow()
            self._details.check_now_requested.connect(self.check_now)
            self._details.report_requested.connect(lambda: self.open_report())
            self._details.closed.connect(self._on_details_closed)
        return self._details

    def show_details(self) -> None:
        window = self.details_window()
        self._fill_details()
        window.present()

    def _fill_details(self) -> None:
        from app.words import it  # IT's catalogue: loaded with Details, not before the icon

        window = self._details
        diagnosis = self.monitor.latest or self.monitor.confirmed
        window.show_diagnosis(diagnosis, verdict=self.monitor.confirmed_verdict, action=self._call_to_action())
        window.set_it_lines(self._incident_lines(), it.feed_line(self._it_status))
        since = datetime.now(UTC) - timedelta(hours=24)
        self._history_job("changes", since, on_done=self._on_changes, default=[])

    def _on_changes(self, changes: list[dict]) -> None:
        if self._details is not None:
            self._details.set_changes(changes)

    def _on_details_closed(self) -> None:
        if self.no_tray:
            self.quit()

    def open_report(self, diagnosis: Diagnosis | None = None) -> None:
        try:
            from app.ui.report_dialog import ReportDialog
        except ImportError:
            log.warning("the report dialog is not available in this build")
            return
        if self._report_dialog is None:
            self._report_dialog = ReportDialog(self.config, parent=None)
        self._report_dialog.open_for(diagnosis or self.monitor.latest or self.monitor.confirmed)

    def show_setup(self) -> None:
        """The set-up window; never while policy or the environment sets the endpoints."""
        if not firstrun.setup_allowed(self.config):
            return
        if self._setup is None or not self._setup.isVisible():
            from app.ui.setup_window import SetupWindow

            if self._setup is not None:
                self._setup.deleteLater()
            self._setup = SetupWindow(self.config)
            self._setup.saved.connect(self._on_setup_saved)
        self._setup.present()

    def _on_setup_saved(self, _path: Any) -> None:
        self.reload_config()
        self.check_now()

    def reload_config(self) -> bool:
        """Read the configuration again (after the set-up window saved it); a broken file keeps
        the running one."""
        try:
            config = self._load_config()
        except Exception as exc:  # ConfigError or unreadable: the light keeps going on the old one
            log.warning("could not read the configuration again: %s", exc)
            return False
        self.config = config
        self._plan_feed()
        self._plan_state()
        self._arm()
        self.webmail_action.setVisible(bool(config.mail.webmail_url))
        self.setup_action.setVisible(firstrun.setup_allowed(config))
        return True

    def open_webmail(self) -> None:
        QDesktopServices.openUrl(QUrl(self.config.mail.webmail_url))

    def set_autostart(self, enabled: bool) -> None:
        if self._autostart is None:
            return
        try:
            if enabled:
                self._autostart.enable()
            else:
                self._autostart.disable()
        except OSError as exc:
            log.warning("could not change the autostart setting: %s", exc)
        actual = bool(self._autostart.enabled)
        if actual != self.autostart_action.isChecked():
            self.autostart_action.blockSignals(True)
            self.autostart_action.setChecked(actual)
            self.autostart_action.blockSignals(False)

    def stop(self) -> None:
        """Stop every timer, hide the icon and close the windows; nothing new starts after this."""
        self._stopped = True
        for timer in (self._due_timer, self._tick_timer, self._tray_poll, self._settle_timer):
            timer.stop()
        self.tray.hide()
        if self._desktop is not None:
            self._desktop.close()
        for window in (self._details, self._report_dialog, self._setup, self._toast):
            if window is not None:
                window.close()

    def quit(self) -> None:
        self.stop()
        QCoreApplication.quit()

