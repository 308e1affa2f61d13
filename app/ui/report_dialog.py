"""The "Report a problem" dialog: shows what IT will receive (and, on request, the exact JSON),
takes the user's note (several lines; Ctrl+Enter sends), and sends with one click without ever
blocking the GUI thread. With no report channel set up it says so and offers Save and Copy."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jsonio import parse_iso
from app.report import build
from app.report.channels import configured
from app.report.outbox import Outbox, Outcome
from app.ui.worker import run_in_background
from app.words import staff

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.model import Diagnosis

log = logging.getLogger(__name__)

WORDS = staff.REPORT
SEND_TEXT = WORDS["send"]
KNOWN_SEND_TEXT = WORDS["affected"]
SAVED_MESSAGE = WORDS["queued"]
_CHANNEL_WORDS = staff.CHANNEL_WORDS
_SEND_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class _CtrlEnterSends(QObject):
    """Enter in the note starts a new line; Ctrl+Enter sends (a half-written note never goes)."""

    def __init__(self, send: Any, parent: QObject) -> None:
        super().__init__(parent)
        self._send = send

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in _SEND_KEYS and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self._send()
                return True
        return False


def _prepare(config: Config, diagnosis: Diagnosis | None) -> tuple[dict[str, Any], list[str]]:
    report = build.build_report(config, diagnosis)
    return report, build.known_secrets(config)


class ReportDialog(QDialog):
    """`ReportDialog(config).open_for(diagnosis)`; diagnosis None runs a fresh one first."""

    finished_sending = Signal(object)  # the Outcome

    def __init__(self, config: Config, parent: QWidget | None = None, *, outbox: Outbox | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.outbox = outbox or Outbox()
        self.report: dict[str, Any] | None = None
        self.outcome: Outcome | None = None
        self._known: list[str] = []
        self._send_requested = False
        self._sending = False
        self._jobs: list[Any] = []  # keep jobs (and their emitters) alive until they report back
        self.setWindowTitle(WORDS["title"])
        self.setMinimumWidth(520)

        self.known_label = QLabel()
        self.known_label.setTextFormat(Qt.TextFormat.PlainText)  # IT's words, never markup
        self.known_label.setWordWrap(True)
        self.known_label.setStyleSheet(
            "background: #fff4ce; color: #3b2f00; padding: 8px; border-radius: 4px;"
        )
        self.known_label.hide()
        self.no_channel_label = QLabel(WORDS["no_channel"])
        self.no_channel_label.setWordWrap(True)
        self.no_channel_label.setStyleSheet(
            "background: #fde7e9; color: #4a0e12; padding: 8px; border-radius: 4px;"
        )
        self.no_channel_label.hide()
        self.headline = QLabel(WORDS["checking"])
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.contents = QLabel()
        self.contents.setWordWrap(True)
        # plain text: a rich-text list is measured too short and its last lines were cut off,
        # and outside words (the headline, host names) are never read as markup
        self.contents.setTextFormat(Qt.TextFormat.PlainText)
        # its own label: QLabel measures rich text after a list too short and cuts the last line
        self.no_secrets = QLabel(WORDS["no_secrets"])
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText(WORDS["note_placeholder"])
        self.note.setTabChangesFocus(True)
        self.note.setFixedHeight(self.note.fontMetrics().lineSpacing() * 4 + 12)
        self.note.textChanged.connect(self._refresh_preview)
        self.note.installEventFilter(_CtrlEnterSends(self.send, self))
        self.toggle = QPushButton(WORDS["show"])
        self.toggle.setCheckable(True)
        self.toggle.setAutoDefault(False)
        self.toggle.toggled.connect(self._show_preview)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setMinimumHeight(260)
        self.preview.hide()
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        self.copy_button = QPushButton(WORDS["copy"])
        self.save_button = QPushButton(WORDS["save"])
        self.close_button = QPushButton(WORDS["cancel"])
        self.send_button = QPushButton(SEND_TEXT)
        for b in (self.copy_button, self.save_button, self.close_button):
            b.setAutoDefault(False)
        self.send_button.setDefault(True)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.save_button.clicked.connect(self._ask_save)
        self.close_button.clicked.connect(self.reject)
        self.send_button.clicked.connect(self.send)

        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.known_label)
        layout.addWidget(self.no_channel_label)
        layout.addWidget(self.headline)
        layout.addWidget(QLabel(WORDS["receives"]))
        layout.addWidget(self.contents)
        layout.addWidget(self.no_secrets)
        layout.addWidget(QLabel(WORDS["note_label"]))
        layout.addWidget(self.note)
        layout.addWidget(self.toggle)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ opening

    def open_for(self, diagnosis: Diagnosis | None = None) -> None:
        """Show the dialog and build the report in the background."""
        self.report = None
        self.outcome = None
        self._send_requested = self._sending = False
        self.note.clear()
        self.note.setEnabled(True)
        self.preview.setPlainText("")
        self.status.setText(WORDS["preparing"])
        self.headline.setText(diagnosis.headline if diagnosis is not None else WORDS["checking"])
        self.send_button.setText(SEND_TEXT)
        self.send_button.setEnabled(True)
        self.known_label.hide()
        self.close_button.setText(WORDS["cancel"])
        self.close_button.show()
        self._show_channel_state()
        self._set_report_actions(False)
        self._start(_prepare, self.config, diagnosis, on_done=self._on_built, on_error=self._on_build_failed)
        self.show()
        self.raise_()
        self.activateWindow()
        self.note.setFocus()

    def _start(self, fn: Any, *args: Any, on_done: Any, on_error: Any) -> None:
        job = run_in_background(fn, *args, on_done=on_done, on_error=on_error)
        self._jobs.append(job)
        job.signals.done.connect(lambda _r, j=job: self._forget(j))
        job.signals.failed.connect(lambda _e, j=job: self._forget(j))

    def _forget(self, job: Any) -> None:
        if job in self._jobs:
            self._jobs.remove(job)

    @property
    def has_channel(self) -> bool:
        return bool(configured(self.config))

    def _show_channel_state(self) -> None:
        """No channel set up: say so, and make Save the main action instead of a Send that could
        only ever queue the report on this computer."""
        channel = self.has_channel
        self.no_channel_label.setVisible(not channel)
        self.send_button.setVisible(channel)
        self.send_button.setDefault(channel)
        self.save_button.setDefault(not channel)
        self.close_button.setText(WORDS["cancel"] if channel else WORDS["close"])

    def _set_report_actions(self, enabled: bool) -> None:
        self.copy_button.setEnabled(enabled)
        self.save_button.setEnabled(enabled)
        self.toggle.setEnabled(enabled)

    def _on_built(self, result: tuple[dict[str, Any], list[str]]) -> None:
        self.report, self._known = result
        self.headline.setText(self.report["diagnosis"].get("headline", ""))
        self.contents.setText(self.describe(self.report))
        self._show_known_incident(self.report)
        # the list and the banner arrive after the dialog was first laid out; a wrapped label
        # gets the height its lines need at this width, or the layout squeezes its first and
        # last lines away
        width = max(self.contents.width(), self.width() - 24)
        for label in (self.contents, self.known_label, self.no_channel_label, self.headline):
            label.setMinimumHeight(label.heightForWidth(width) if label.isVisibleTo(self) else 0)
        self.adjustSize()
        self._set_report_actions(True)
        self._refresh_preview()
        self.status.setText("")
        if self._send_requested:
            self.send()

    def _show_known_incident(self, report: dict[str, Any]) -> None:
        """When IT already knows, say so first; sending then counts this user as affected."""
        if not report.get("known_incident"):
            return
        from app import feed

        line = feed.status_line((report.get("diagnosis") or {}).get("it_status")) or WORDS["known_fallback"]
        self.known_label.setText(WORDS["known"].format(line=line))
        self.known_label.show()
        if self.outcome is None:
            self.send_button.setText(KNOWN_SEND_TEXT)

    def _on_build_failed(self, exc: BaseException) -> None:
        self.status.setText(WORDS["build_failed"].format(reason=exc))
        self._send_requested = False

    def describe(self, report: dict[str, Any]) -> str:
        """A plain-language list of what IT will receive."""
        r = report.get("reporter") or {}
        d = report.get("diagnosis") or {}
        w = staff.REPORT_ITEMS
        items = [w["found"].format(headline=d.get("headline", "")),
                 w["checks"].format(n=len(d.get("checks", [])))]
        history = report.get("history") or []
        if history:
            items.append(w["changes_one" if len(history) == 1 else "changes"].format(n=len(history)))
        who = [x for x in (r.get("username"), r.get("email")) if x]
        items.append(w["who"].format(who=", ".join(who)) if who else w["no_who"])
        items.append(w["host"].format(host=r["hostname"]) if r.get("hostname") else w["no_host"])
        items.append(w["device"])
        items.append(w["network_masked" if self.config.report.redact_addresses else "network"])
        items.append(w["note"])
        channels = [_CHANNEL_WORDS[c] for c in configured(self.config)]
        items.append(w["to"].format(where=", ".join(channels)) if channels else w["nowhere"])
        return "\n".join(f"•  {item}" for item in items)

    # ------------------------------------------------------------ what will be sent

    def current_report(self) -> dict[str, Any] | None:
        if self.report is None:
            return None
        return build.with_note(self.report, self.note.toPlainText(), self.config, self._known)

    def preview_text(self) -> str:
        """The exact bytes `report --dry-run` prints for this report, as text."""
        report = self.current_report()
        return "" if report is None else build.body_text(report)

    def _refresh_preview(self) -> None:
        if self.report is not None:
            self.preview.setPlainText(self.preview_text())

    def _show_preview(self, shown: bool) -> None:
        self.preview.setVisible(shown)
        self.toggle.setText(WORDS["hide"] if shown else WORDS["show"])

    def copy_to_clipboard(self) -> None:
        text = self.preview_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.status.setText(WORDS["copied"])

    def _ask_save(self) -> None:
        report = self.current_report()
        if report is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the report", str(Path.home() / f"mailbeacon-report-{report['id']}.json"), "JSON (*.json)"
        )
        if name:
            self.save_to(Path(name))

    def save_to(self, path: Path) -> bool:
        report = self.current_report()
        if report is None:
            return False
        try:
            path.write_bytes(build.body_bytes(report))
        except OSError as exc:
            self.status.setText(WORDS["save_failed"].format(path=path, reason=exc.strerror or exc))
            return False
        self.status.setText(WORDS["saved_to"].format(path=path))
        return True

    # ------------------------------------------------------------ sending

    def send(self) -> None:
        if not self.has_channel:
            self._ask_save()  # Ctrl+Enter without a channel: the one thing that reaches IT
            return
        if self._sending or self.outcome is not None:
            if self.outcome is not None:
                self.accept()  # Enter after sending closes the dialog
            return
        if self.report is None:
            self._send_requested = True  # send as soon as the report is ready
            self.status.setText(WORDS["preparing_send"])
            self.send_button.setEnabled(False)
            return
        report = self.current_report()
        self._sending = True
        self.send_button.setEnabled(False)
        self.note.setEnabled(False)
        self.status.setText(WORDS["sending"])
        self._start(self._deliver, report, on_done=self._on_sent, on_error=self._on_send_failed)

    def _deliver(self, report: dict[str, Any]) -> Outcome:
        return self.outbox.submit(report, configured(self.config))

    def _on_sent(self, outcome: Outcome) -> None:
        self._sending = False
        self.outcome = outcome
        self.status.setText(self.outcome_message(outcome))
        # one way out: the send button becomes Close, the Cancel button goes
        self.send_button.setText(WORDS["close"])
        self.send_button.setEnabled(True)
        self.send_button.setDefault(True)
        self.close_button.hide()
        self.finished_sending.emit(outcome)

    def _on_send_failed(self, exc: BaseException) -> None:
        # the outbox write itself failed (disk full, permissions): say so, keep the dialog usable
        self._sending = False
        self.send_button.setEnabled(True)
        self.note.setEnabled(True)
        self.status.setText(WORDS["send_failed"].format(reason=exc))

    @staticmethod
    def outcome_message(outcome: Outcome) -> str:
        if outcome.delivered:
            when = outcome.delivered_at
            clock = parse_iso(when).astimezone() if when else datetime.now().astimezone()
            text = f"Sent to IT at {clock:%H:%M}"
            if outcome.queued:
                text += f" (still to go: {', '.join(outcome.queued)} — sent automatically when possible)"
            if outcome.failed:
                text += f". Refused by {', '.join(f['channel'] for f in outcome.failed)}"
            return text
        if outcome.no_channel:
            return WORDS["no_channel_kept"]
        if outcome.queued:
            return SAVED_MESSAGE
        reasons = "; ".join(f"{f['channel']}: {f['reason']}" for f in outcome.failed)
        return f"IT's system refused the report ({reasons}). It is kept in {outcome.path}"
