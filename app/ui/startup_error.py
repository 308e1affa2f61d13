"""The tray never fails silently: when it cannot start (a config error, an unreadable file, any
exception on the way up) it still shows a grey icon that says why, opens one window with that
sentence, logs the full error, and starts normally as soon as the config file is fixed. (Later
errors: app.ui.unexpected.)"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QFileSystemWatcher,
    QObject,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.errors import ConfigError
from app.ui import icons
from app.ui.unexpected import scrub
from app.words import staff

log = logging.getLogger(__name__)

# a save is often several events (truncate, write, rename): read the file once they settle
SETTLE_MS = 300
_LABEL_PREFIXES = ("system file ", "policy ")


def source_file(exc: BaseException) -> Path | None:
    """The file a config error names, when it names one (not the environment or registry)."""
    if not isinstance(exc, ConfigError):
        return None
    label = exc.source
    for prefix in _LABEL_PREFIXES:
        if label.startswith(prefix):
            label = label[len(prefix):]
            break
    path = Path(label)
    return path if path.is_absolute() or path.suffix == ".toml" else None


def short_path(path: Path) -> str:
    """…/mailbeacon.toml: the name staff can find, without the folders that push it off screen."""
    return f"…/{path.name}" if len(path.parts) > 1 else path.name


def cannot_start_sentence(exc: BaseException, *, brief: bool = False) -> str:
    """One plain sentence saying what is wrong (the words: app.words.staff.cannot_start)."""
    if not isinstance(exc, ConfigError):
        return scrub(staff.cannot_start("crash", detail=str(exc).strip() or type(exc).__name__, brief=brief))
    path = source_file(exc)
    name = short_path(path) if path else exc.source
    where = f"in {name}" if path else f"in the {exc.source}"
    if exc.line and path:
        where = f"on line {exc.line} of {name}"
    expected = exc.expected
    if exc.key:
        sentence = staff.cannot_start("setting", key=exc.key, name=name, where=where, expected=expected, brief=brief)
    elif expected.startswith("an existing file"):
        sentence = staff.cannot_start("missing", name=name, brief=brief)
    elif expected.startswith("cannot read the file"):
        reason = expected.removeprefix("cannot read the file").strip(" ()")
        sentence = staff.cannot_start("unreadable", name=name, detail=reason, brief=brief)
    elif expected.startswith("not valid TOML"):
        sentence = staff.cannot_start("mistake", where=where, detail=expected.removeprefix("not valid TOML: "), brief=brief)
    else:
        sentence = staff.cannot_start("config", where=where, expected=expected, brief=brief)
    return scrub(sentence)


class CannotStart(QObject):
    """The grey icon, menu, tooltip and window of a tray that could not start, watching the
    config file; `recovered` carries the value `retry` returned once it stops failing."""

    recovered = Signal(object)

    def __init__(
        self,
        exc: BaseException,
        *,
        retry: Callable[[], Any],
        config_file: Path | None,
        log_dir: Path,
        open_url: Callable[[QUrl], Any] = QDesktopServices.openUrl,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        settle_ms: int = SETTLE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._retry = retry
        self._open_url = open_url
        self._tray_available = tray_available
        self.log_dir = log_dir
        self.config_file = config_file
        self.error = exc
        self.sentence = self.brief = ""
        self._done = False  # recovered or quitting: the window's closing means nothing more
        # the dialog's widget classes cost the idle tray memory when merely imported: only here
        from app.ui.startup_window import CannotStartWindow

        self.window = CannotStartWindow("")
        self.window.open_config.connect(self.open_config_file)
        self.window.open_logs.connect(self.open_log_folder)
        self.window.quit_requested.connect(self.quit)

        self.tray = QSystemTrayIcon(self)
        self.tray.setIcon(icons.icon("unknown"))
        self.menu = QMenu()
        self.sentence_action = self.menu.addAction("")
        self.sentence_action.triggered.connect(self.show_window)
        self.menu.addSeparator()
        self.menu.addAction(staff.CANNOT_START["open_config"], self.open_config_file)
        self.menu.addAction(staff.CANNOT_START["open_logs"], self.open_log_folder)
        self.menu.addSeparator()
        self.menu.addAction(staff.CANNOT_START["quit"], self.quit)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(lambda *_: self.show_window())

        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._changed)
        self.watcher.directoryChanged.connect(self._changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(settle_ms)
        self._settle.timeout.connect(self.try_again)
        self._set_error(exc)
        self._watch()

    # ------------------------------------------------------------ state

    def _set_error(self, exc: BaseException) -> None:
        self.error = exc
        self.sentence = cannot_start_sentence(exc)
        self.brief = cannot_start_sentence(exc, brief=True)
        if isinstance(exc, ConfigError):
            log.error("%s (%s)", self.sentence, scrub(str(exc)))
        else:
            log.error("%s\n%s", self.sentence, scrub("".join(traceback.format_exception(exc))))
        self.sentence_action.setText(self.brief)
        self.tray.setToolTip(self.brief)
        self.window.set_sentence(self.sentence)

    def watched_files(self) -> list[Path]:
        """The user's config file and the file the error names (they often are one)."""
        files = [p for p in (self.config_file, source_file(self.error)) if p is not None]
        return list(dict.fromkeys(files))

    def _watch(self) -> None:
        # the folder too: an editor's atomic save renames a new file over the old one, which
        # the file watch alone loses; a file created after the start is seen the same way
        wanted = []
        for path in self.watched_files():
            wanted.append(str(path.parent))
            if path.exists():
                wanted.append(str(path))
        current = set(self.watcher.files()) | set(self.watcher.directories())
        missing = [p for p in dict.fromkeys(wanted) if p not in current and Path(p).exists()]
        if missing:
            self.watcher.addPaths(missing)

    def _changed(self, _path: str) -> None:
        self._settle.start()

    def try_again(self) -> bool:
        """Read the configuration again; True (and `recovered`) when it now works."""
        try:
            result = self._retry()
        except Exception as exc:
            if cannot_start_sentence(exc) != self.sentence or type(exc) is not type(self.error):
                self._set_error(exc)
            self._watch()
            return False
        log.info("the problem is fixed; MailBeacon starts")
        self.close()
        self.recovered.emit(result)
        return True

    # ------------------------------------------------------------ showing

    def show(self) -> None:
        """The grey icon (when there is a tray) and the window, once. Without a tray the
        window is all there is, so closing it quits, as the normal tray's fallback window does."""
        if self._tray_available():
            self.tray.show()
        else:
            self.window.rejected.connect(self._closed_without_tray)
        self.show_window()

    def _closed_without_tray(self) -> None:
        if not self._done:
            self.quit()

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def open_config_file(self) -> None:
        path = source_file(self.error) or self.config_file
        if path is None:
            return
        # a file that does not exist yet cannot be opened; its folder can
        target = path if path.exists() else path.parent
        self._open_url(QUrl.fromLocalFile(str(target)))

    def open_log_folder(self) -> None:
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            log.warning("cannot make the log folder %s: %s", self.log_dir, exc)
        self._open_url(QUrl.fromLocalFile(str(self.log_dir)))

    def close(self) -> None:
        self._done = True
        self._settle.stop()
        paths = self.watcher.files() + self.watcher.directories()
        if paths:
            self.watcher.removePaths(paths)
        self.tray.hide()
        self.window.close()

    def quit(self) -> None:
        self.close()
        QCoreApplication.quit()


# ---------------------------------------------------------------- later exceptions
