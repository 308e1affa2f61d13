"""Unexpected errors in the running tray: each is logged with its traceback and the first is
shown once, never an abort; Qt's own warnings join the log. Installed at every tray start,
so it stays apart from the "cannot start" window (app.ui.startup_error), which only a failed
start needs."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, qInstallMessageHandler

from app.words import staff

log = logging.getLogger(__name__)


def scrub(text: str) -> str:
    from app.report.redact import scrub_text

    return scrub_text(text)


class UnexpectedErrors(QObject):
    """sys.excepthook (and threading's) for the running tray: each unexpected exception goes
    to the log with its traceback; the first is also shown to the user, once. PySide6 routes an
    exception raised in a slot here too, and the event loop goes on. Qt's own warnings join the
    log instead of a console nobody sees."""

    _show = Signal(str, str)

    TITLE, TEXT = staff.UNEXPECTED_ERROR

    def __init__(self, notify: Callable[[str, str], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._notify = notify
        self._shown = False
        self._lock = threading.Lock()
        self.count = 0
        self._show.connect(self._on_show)  # queued when raised off the GUI thread
        self._previous: tuple[Any, Any] | None = None

    def set_notify(self, notify: Callable[[str, str], Any]) -> None:
        self._notify = notify

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle
        threading.excepthook = lambda args: self.handle(args.exc_type, args.exc_value, args.exc_traceback)
        qInstallMessageHandler(_qt_message)

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None
        qInstallMessageHandler(None)

    def handle(self, exc_type: type[BaseException], exc: BaseException | None,
               tb: TracebackType | None) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            QCoreApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error (MailBeacon keeps running):\n%s", scrub(text))
        with self._lock:
            self.count += 1
            first = not self._shown
            self._shown = True
        if first:
            self._show.emit(self.TITLE, self.TEXT)

    def _on_show(self, title: str, text: str) -> None:
        try:
            self._notify(title, text)
        except Exception:  # showing the notice must not raise into the hook again
            log.debug("could not show the notice", exc_info=True)


# Qt's warnings are mostly about the platform plugin (offscreen, a tray host's quirks): the log
# keeps them for IT, the console only shows Qt's critical and fatal messages
_QT_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR, 4: logging.INFO}


def _qt_message(mode: Any, context: Any, message: str) -> None:
    level = _QT_LEVELS.get(int(getattr(mode, "value", mode)), logging.WARNING)
    logging.getLogger("qt").log(level, "%s", scrub(message))
