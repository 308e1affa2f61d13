"""Starting and stopping the tray process: QApplication, single instance, signals, exit status."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from app import APP_NAME, version
from app.config import Config

log = logging.getLogger(__name__)


class SignalWatcher(QObject):
    """SIGTERM/SIGINT wake the Qt event loop through a socketpair (Python's wakeup fd), so
    the app quits at once without a polling timer that would cost CPU between checks."""

    def __init__(self, on_signal: Callable[[int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_signal = on_signal
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno())
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous: dict[int, Any] = {}
        for number in (signal.SIGTERM, signal.SIGINT):
            # the Python-level handler only has to exist; the wakeup fd carries the number
            self._previous[number] = signal.signal(number, lambda *_: None)

    def _drain(self, *_: Any) -> None:
        try:
            data = self._read.recv(64)
        except BlockingIOError:
            return
        for number in data:
            if number in (signal.SIGTERM, signal.SIGINT):
                self._on_signal(number)
                return

    def close(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._read.close()
        self._write.close()


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates an arena of its own, and probe threads come and go
    with every check; two arenas keep freed memory reusable (measured: about 1.5 MB less idle
    USS and half the growth over 1,000 checks). No effect off glibc."""
    from app.libc import libc

    try:
        libc().mallopt(-8, arenas)  # -8 is M_ARENA_MAX
    except AttributeError:  # no glibc (None), or one without mallopt
        log.debug("mallopt is not available; keeping the allocator's defaults")


def release_free_memory() -> bool:
    """Give the pages glibc's allocator holds free back to the system (malloc_trim). A check
    frees most of what it allocated, but into the arenas of its threads, which glibc keeps;
    trimming once the work has settled measured 3 to 4 MB less idle USS. False off glibc."""
    from app.libc import libc

    try:
        libc().malloc_trim(0)
    except AttributeError:
        return False
    return True


def application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setQuitOnLastWindowClosed(False)
    return app  # type: ignore[return-value]


def run_tray(
    config: Config | Callable[[], Config],
    *,
    extra_actions: list[tuple[str, Callable[[], Any]]] | None = None,
    tray_wait_s: float = 10.0,
    on_started: Callable[[Any], None] | None = None,
    on_exit: Callable[[], None] | None = None,
    config_file: Path | None = None,
    load_config: Callable[[], Config] | None = None,
) -> int:
    """Run the tray until Quit or a signal; returns the exit status.

    `config` may be a function that loads it: when that (or anything else on the way up)
    fails, the tray runs in its "cannot start" mode (app.ui.startup_error) and starts for
    real once `config_file` is fixed."""
    limit_malloc_arenas()
    app = application()
    from app.ui.single_instance import SingleInstance
    from app.ui.unexpected import UnexpectedErrors

    instance = SingleInstance()
    if instance.hand_off():
        log.info("MailBeacon is already running; asked it to show its window")
        return 0
    if not instance.listen() and instance.hand_off():
        log.info("MailBeacon started at the same moment elsewhere; asked it to show its window")
        return 0

    load = config if callable(config) else (lambda: config)
    running: dict[str, Any] = {}

    def start(cfg: Config) -> Any:
        from app.ui.tray import TrayApp

        tray = TrayApp(cfg, tray_wait_s=tray_wait_s, load_config=load_config)
        try:
            for text, callback in extra_actions or []:
                tray.add_action(text, callback)
            tray.start()
            if on_started is not None:
                on_started(tray)
        except BaseException:
            tray.stop()
            raise
        running["tray"] = tray
        errors.set_notify(tray.notify)
        log.info("tray running (pid %d)", os.getpid())
        return tray

    # until a tray runs, an unexpected error goes to the log only (the window says enough)
    errors = UnexpectedErrors(lambda title, text: None)
    errors.install()
    problem: Any = None  # the "cannot start" window (app.ui.startup_error), loaded only then
    try:
        start(load())
    except Exception as exc:
        from app.paths import user_paths
        from app.ui.startup_error import CannotStart

        paths = user_paths()
        problem = CannotStart(exc, retry=lambda: start(load()), log_dir=paths.log_dir,
                              config_file=config_file or paths.user_config)
        problem.show()

    def show_requested() -> None:
        if "tray" in running:
            running["tray"].show_details()
        elif problem is not None:
            problem.show_window()

    def quit_now() -> None:
        if "tray" in running:
            running["tray"].quit()
        else:
            app.quit()

    instance.show_requested.connect(show_requested)
    watcher = SignalWatcher(lambda _n: quit_now())
    # reading the version loads importlib.metadata: after the icon is up, not before
    QTimer.singleShot(0, lambda: app.setApplicationVersion(version()))
    status = app.exec()
    watcher.close()
    instance.close()
    errors.uninstall()
    if problem is not None:
        problem.close()
    tray = running.get("tray")
    # let the last history writes land before the database closes under them; one stuck on
    # a locked database is left behind (the exit below does not wait for it)
    history_settled = tray is None or tray.history_pool.waitForDone(1000)
    if tray is not None and tray.history is not None and history_settled:
        try:
            tray.history.close()
        except Exception:
            log.debug("history close failed", exc_info=True)
    if on_exit is not None:
        on_exit()
    pool = QThreadPool.globalInstance()
    if pool.activeThreadCount() > 0 or not history_settled:
        # a probe may still wait on a silent server; Qt would wait for it when the
        # application is destroyed, and a quit must not take that long
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    QCoreApplication.processEvents()
    return status
