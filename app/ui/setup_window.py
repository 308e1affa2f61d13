"""The first-run window: the person's email address, "Find my mail servers", what was found and
where from, a check of those servers right there (green or red per server), a manual form when
nothing is found, and Save into the user config. Finding, checking and saving run off the GUI
thread; a result that arrives after the person moved on is dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import firstrun
from app.config import Config, Endpoint
from app.report.redact import scrub_text
from app.ui import icons
from app.ui.setup_form import ManualForm
from app.ui.worker import run_in_background
from app.words import setup as words

log = logging.getLogger(__name__)

TITLE = words.TITLE
SAVE_TEXT = words.LABELS["save"]
SAVE_ANYWAY_TEXT = words.LABELS["save_anyway"]
# a row's state -> the icon it shows
_ROW_ICON = {"ok": "ok", "warn": "degraded", "fail": "down", "waiting": "unknown"}


def _default_discover(address: str, config: Config) -> Any:
    firstrun.warm_up()  # before discovery's deadline starts
    from app import discovery

    return discovery.discover(address, config)


def _default_save(result: Any, config: Config) -> Any:
    from app import discovery

    return discovery.save(result, config)


class EndpointRow(QWidget):
    """One server: a coloured dot, what it is for, where it is, and how it answered."""

    def __init__(self, endpoint: Endpoint, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.endpoint = endpoint
        self.state = "waiting"
        self.dot = QLabel()
        self.title = QLabel(f"<b>{words.endpoint_title(endpoint)}</b>")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.where = QLabel(words.endpoint_words(endpoint))
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.addWidget(self.dot, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.title, 0, 1)
        grid.addWidget(self.where, 0, 2)
        grid.addWidget(self.result, 1, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.show_check(None)

    def show_check(self, check: Any) -> None:
        self.state = words.check_state(check)
        self.dot.setPixmap(icons.icon(_ROW_ICON[self.state], template=False).pixmap(16, 16))
        self.result.setText(words.check_sentence(check))
        colour = {"ok": "#1b6e2e", "warn": "#7a5800", "fail": "#b3261e"}.get(self.state, "")
        self.result.setStyleSheet(f"color: {colour};" if colour else "")


class SetupWindow(QDialog):
    """`SetupWindow(config)`; emits `saved` after the user config was written."""

    saved = Signal(object)  # the path written

    def __init__(
        self,
        config: Config,
        *,
        address: str | None = None,
        discover: Callable[[str, Config], Any] | None = None,
        save: Callable[[Any, Config], Any] | None = None,
        diagnose: Callable[[Config], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config
        self._discover = discover or _default_discover
        self._save = save or _default_save
        self._diagnose = diagnose
        self._jobs: list[Any] = []  # keep jobs (and their emitters) alive until they report back
        self._generation = 0  # bumped whenever what is on screen changes; late results drop
        self.found: Any = None  # the Discovery the rows came from (None for the manual form)
        self.endpoints: list[Endpoint] = []
        self.diagnosis: Any = None
        self.rows: list[EndpointRow] = []
        self.state = "empty"
        self.setWindowTitle(TITLE)
        self.setMinimumWidth(660)

        heading = QLabel(TITLE)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)
        intro = QLabel(words.INTRO)
        intro.setWordWrap(True)

        self.address = QLineEdit()
        self.address.setPlaceholderText(words.LABELS["address_placeholder"])
        self.address.setAccessibleName("Your email address")
        self.address.setText(address if address is not None else config.mail.address)
        if firstrun.address_locked(config):
            self.address.setReadOnly(True)
            self.address.setToolTip(words.LABELS["address_locked"])
        address_label = QLabel(words.LABELS["address"])
        address_label.setBuddy(self.address)
        self.find_button = QPushButton(words.LABELS["find"])
        self.find_button.clicked.connect(self.find)
        address_row = QHBoxLayout()
        address_row.addWidget(address_label)
        address_row.addWidget(self.address, 1)
        address_row.addWidget(self.find_button)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.hide()
        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(12, 0, 0, 0)
        self.rows_box.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.hide()

        self.manual_button = QPushButton(words.LABELS["manual"])
        self.manual_button.clicked.connect(self.show_manual)
        self.form = ManualForm()
        self.form.hide()
        self.form.changed.connect(self._manual_changed)
        self.check_button = QPushButton(words.LABELS["check"])
        self.check_button.clicked.connect(self.check_manual)
        self.check_button.hide()
        manual_row = QHBoxLayout()
        manual_row.addWidget(self.manual_button)
        manual_row.addStretch(1)
        manual_row.addWidget(self.check_button)

        self.it_button = QPushButton(words.LABELS["it_show"])
        self.it_button.setCheckable(True)
        self.it_button.toggled.connect(self._show_it_detail)
        self.it_button.hide()
        self.it_detail = QPlainTextEdit()
        self.it_detail.setReadOnly(True)
        self.it_detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.it_detail.setMinimumHeight(140)
        self.it_detail.hide()

        self.cancel_button = QPushButton(words.LABELS["cancel"])
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = QPushButton(SAVE_TEXT)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        for button in (self.manual_button, self.check_button, self.it_button, self.cancel_button,
                       self.save_button, self.find_button):
            button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.it_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(address_row)
        layout.addWidget(self.status)
        layout.addWidget(self.rows_box)
        layout.addWidget(self.summary)
        layout.addWidget(self.form)
        layout.addLayout(manual_row)
        layout.addWidget(self.it_detail, 1)
        layout.addStretch(0)
        layout.addLayout(buttons)

        order = [self.address, self.find_button, *self.form.focus_order(), self.check_button,
                 self.manual_button, self.it_button, self.it_detail, self.cancel_button,
                 self.save_button]
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._set_default(self.find_button)
        self.address.textEdited.connect(self._address_edited)
        # load discovery and the probes now, while the person types
        self._start(firstrun.warm_up, on_done=lambda _r: None, on_error=lambda _exc: None)
        if address is None and not self.address.text():
            # asking Windows for the account's name may wait on a domain controller
            self._start(firstrun.os_address, on_done=self._prefill, on_error=lambda _exc: None)

    def _prefill(self, address: str) -> None:
        if address and not self.address.text() and self.state == "empty":
            self.address.setText(address)

    # ------------------------------------------------------------ finding

    def find(self) -> None:
        """Look the address up in the background; the rows come back with `_on_found`."""
        address = self.address.text().strip()
        if not firstrun.looks_like_address(address):
            self._say(words.STATUS["bad_address"])
            self.address.setFocus()
            return
        generation = self._begin("finding")
        self._hide_manual()
        domain = address.rpartition("@")[2]
        self._say(words.STATUS["finding"].format(domain=domain))
        log.info("set-up: looking up the mail servers of %s", domain)
        self.find_button.setEnabled(False)
        self._start(self._discover, address, self.config,
                    on_done=lambda result: self._on_found(generation, result),
                    on_error=lambda exc: self._on_find_failed(generation, exc))

    def _on_found(self, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        self.find_button.setEnabled(True)
        self.found = result
        log.info("set-up: discovery answered %s with %d endpoint(s)", getattr(result, "source", "?"),
                 len(getattr(result, "endpoints", None) or []))
        self._fill_it_detail(result)
        try:
            endpoints = [firstrun.endpoint_from_dict(e) for e in (result.endpoints or [])]
        except firstrun.SetupInputError as exc:
            log.warning("discovery gave an endpoint the config cannot take: %s", exc)
            endpoints = []
        if not endpoints:
            self._say(words.source_sentence(result))
            self.show_manual(domain=getattr(result, "domain", ""))
            self.state = "nothing"
            return
        self._say(words.source_sentence(result))
        self._check(endpoints, "found")

    def _on_find_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        log.warning("set-up: discovery failed: %s", _reason(exc))
        self.find_button.setEnabled(True)
        why = words.STATUS["no_lookup"] if isinstance(exc, ImportError) else _reason(exc)
        self._say(words.STATUS["find_failed"].format(reason=why))
        self.show_manual()
        self.state = "nothing"

    # ------------------------------------------------------------ the manual form

    def show_manual(self, *_args: Any, domain: str = "") -> None:
        self.form.set_domain_hint(domain or self.address.text().strip().rpartition("@")[2])
        if self.endpoints and self.form.isHidden():
            # start from what was found: changing one port is easier than typing it all
            self.form.fill(self.endpoints)
        self.form.show()
        self.check_button.show()
        self.manual_button.hide()
        self.state = "manual"
        self._set_default(self.check_button)
        self.form.sending.host.setFocus()
        self._fit()

    def _hide_manual(self) -> None:
        self.form.hide()
        self.check_button.hide()
        self.manual_button.show()
        self._fit()

    def _manual_changed(self) -> None:
        # what was checked (found or typed) is no longer what the form says: check again before
        # saving, and save what is typed, not what was found
        if self.form.isVisible() and (self.endpoints or self.found is not None):
            self.found = None
            self._begin("manual")
            self._set_default(self.check_button)

    def check_manual(self) -> None:
        try:
            endpoints = firstrun.manual_endpoints(self.form.entries())
        except firstrun.SetupInputError as exc:
            self._say(str(exc))
            return
        address = self.address.text().strip()
        if address and not firstrun.looks_like_address(address):
            self._say(words.STATUS["bad_address"])
            self.address.setFocus()
            return
        self.found = None
        self._say(words.STATUS["checking_typed"])
        self._check(endpoints, "manual")

    # ------------------------------------------------------------ checking

    def _check(self, endpoints: list[Endpoint], kind: str) -> None:
        generation = self._begin(f"{kind}_checking", keep_status=True)
        self.endpoints = endpoints
        self._clear_rows()
        for endpoint in endpoints:
            row = EndpointRow(endpoint)
            self.rows.append(row)
            self.rows_layout.addWidget(row)
        self.rows_box.show()
        self.summary.setText(words.STATUS["checking"])
        self.summary.show()
        self._fit()
        self._start(firstrun.check_endpoints, self.config, endpoints, self.address.text().strip(),
                    self._diagnose,
                    on_done=lambda d: self._on_checked(generation, kind, d),
                    on_error=lambda exc: self._on_check_failed(generation, exc))

    def _on_checked(self, generation: int, kind: str, diagnosis: Any) -> None:
        if generation != self._generation:
            return
        self.diagnosis = diagnosis
        checks = {c.id: c for c in diagnosis.endpoint_checks}
        for row in self.rows:
            row.show_check(checks.get(row.endpoint.id))
        self.summary.setText(words.summary_sentence(diagnosis, self.endpoints))
        self._fit()
        all_ok = all(row.state != "fail" for row in self.rows)
        self.save_button.setText(SAVE_TEXT if all_ok else SAVE_ANYWAY_TEXT)
        self.save_button.setEnabled(True)
        self._set_default(self.save_button)
        self.state = f"{kind}_checked"
        log.info("set-up: check done: %s", ", ".join(f"{r.endpoint.id} {r.state}" for r in self.rows))
        self._fill_it_detail(self.found, diagnosis)
        self.it_button.show()

    def _on_check_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.summary.setText(words.STATUS["check_failed"].format(reason=_reason(exc)))
        self.state = "manual" if self.found is None else "found"
        if self.found is None:
            self._set_default(self.check_button)

    # ------------------------------------------------------------ saving

    def save(self) -> None:
        if not self.endpoints or self.diagnosis is None:
            return
        generation = self._generation
        self.save_button.setEnabled(False)
        self._start(firstrun.save_choice, self._save, self.found, self.address.text().strip(),
                    list(self.endpoints), self.config,
                    on_done=lambda path: self._on_saved(generation, path),
                    on_error=lambda exc: self._on_save_failed(generation, exc))

    def _on_saved(self, generation: int, path: Any) -> None:
        if generation != self._generation:
            return
        self.state = "saved"
        log.info("set-up: saved to %s", path)
        self.saved.emit(path)
        self.accept()

    def _on_save_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        why = words.STATUS["no_save"] if isinstance(exc, ImportError) else _reason(exc)
        self.summary.setText(words.STATUS["save_failed"].format(reason=why))
        self.save_button.setEnabled(True)

    # ------------------------------------------------------------ helpers

    def _begin(self, state: str, *, keep_status: bool = False) -> int:
        """A new step: earlier results are dropped and nothing can be saved until checked."""
        self._generation += 1
        self.state = state
        self.diagnosis = None
        self.save_button.setEnabled(False)
        self.save_button.setText(SAVE_TEXT)
        if not keep_status:
            self._clear_rows()
            self.endpoints = []
            self.summary.hide()
        return self._generation

    def _address_edited(self, _text: str) -> None:
        if self.state not in ("empty", "manual"):
            self._begin("empty")
            self.found = None
            self.status.hide()
            self.find_button.setEnabled(True)
            self._set_default(self.find_button)

    def _clear_rows(self) -> None:
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        self.rows_box.hide()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.show()
        self._fit()

    def _fit(self) -> None:
        # grow with what is shown (rows, form, detail) so nothing is squeezed; never shrink
        # under the person's feet
        self.layout().activate()
        hint = self.sizeHint()
        if hint.height() > self.height() or hint.width() > self.width():
            self.resize(max(hint.width(), self.width()), max(hint.height(), self.height()))
        # a window that grew past the bottom of the screen moves up, so its buttons stay reachable
        screen = self.screen()
        if screen is not None and self.isVisible():
            area, frame = screen.availableGeometry(), self.frameGeometry()
            if frame.bottom() > area.bottom():
                self.move(frame.x(), max(area.top(), area.bottom() - frame.height()))

    def _set_default(self, button: QPushButton) -> None:
        for other in (self.find_button, self.check_button, self.save_button):
            other.setDefault(other is button)

    def _start(self, fn: Callable[..., Any], *args: Any, on_done: Callable, on_error: Callable) -> None:
        # the job may finish before run_in_background returns: forget it from its own callbacks
        box: list[Any] = []

        def done(result: Any) -> None:
            self._forget(box)
            on_done(result)

        def failed(exc: BaseException) -> None:
            self._forget(box)
            on_error(exc)

        box.append(run_in_background(fn, *args, on_done=done, on_error=failed))
        self._jobs.append(box[0])

    def _forget(self, box: list[Any]) -> None:
        if box and box[0] in self._jobs:
            self._jobs.remove(box[0])

    def _fill_it_detail(self, result: Any, diagnosis: Any = None) -> None:
        text = words.it_detail(result, diagnosis)
        self.it_detail.setPlainText(text)
        self.it_button.setVisible(bool(text))

    def _show_it_detail(self, shown: bool) -> None:
        self.it_detail.setVisible(shown)
        self._fit()
        self.it_button.setText(words.LABELS["it_hide" if shown else "it_show"])

    def present(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()
        self.address.setFocus()

    def done(self, result: int) -> None:  # noqa: D401 (Qt's name): Esc, Cancel, Save all end here
        self._generation += 1  # whatever is still running reports to nobody
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self._generation += 1
        super().closeEvent(event)


def _reason(exc: BaseException) -> str:
    """One short reason for a failure, without a traceback or a class name."""
    text = str(exc).strip().rstrip(".") or exc.__class__.__name__
    return scrub_text(text.removeprefix("mailbeacon: "))
