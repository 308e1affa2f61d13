"""The Details window: every check of the last diagnosis, the headline and advice, the last 24 h of
verdict changes, what IT says, and "Copy as text" for pasting into a chat."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.diagnosis.model import Diagnosis
from app.jsonio import parse_iso
from app.ui import icons

# a check's status -> the icon state of its row
_ROW_STATE = {"ok": "ok", "warn": "degraded", "fail": "down", "skipped": "unknown"}
_STATUS_WORD = {"ok": "OK", "warn": "Warning", "fail": "Failed", "skipped": "Skipped"}
_KIND_WORD = {
    "link": "Network connection",
    "internet": "Internet access",
    "dns": "Name lookup (DNS)",
}
VERDICT_WORD = {
    "ok": "Mail works",
    "degraded": "Mail partly works",
    "down": "Mail server problem",
    "local": "Problem on this computer's network",
    "unknown": "Status unknown",
    "checking": "Checking…",
}


def check_title(check) -> str:
    """What was checked, in words: the endpoint's label, or the layer's name."""
    if check.name:
        return f"{check.name} ({check.target})"
    word = _KIND_WORD.get(check.kind)
    if word:
        return f"{word} ({check.target})" if check.target else word
    return check.label


DETAIL_WIDTH = 56  # characters per line of a check's detail


def _local_time(iso: str, now: datetime | None = None) -> str:
    """17:02 today, "yesterday 17:02", or "Tue 24 Nov 17:02": the 24 h timeline spans two days."""
    try:
        when = parse_iso(iso).astimezone()
    except (ValueError, TypeError):
        return iso
    today = (now or datetime.now().astimezone()).date()
    if when.date() == today:
        return when.strftime("%H:%M")
    if when.date() == today - timedelta(days=1):
        return when.strftime("yesterday %H:%M")
    return when.strftime("%a %d %b %H:%M")


class DetailsWindow(QWidget):
    """Renders state handed to it; it never runs a check itself."""

    check_now_requested = Signal()
    report_requested = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MailBeacon")
        self.resize(860, 560)
        self._diagnosis: Diagnosis | None = None
        self._changes: list[dict] = []
        self._it_lines: list[str] = []

        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background:#fff4ce; padding:6px; border-radius:4px;")
        self.notice.hide()
        self.headline = QLabel("Checking…")
        self.headline.setWordWrap(True)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.headline.setFont(font)
        self.advice = QLabel("")
        self.advice.setWordWrap(True)
        self.checked_at = QLabel("")
        self.it_label = QLabel("")
        self.it_label.setWordWrap(True)
        self.it_label.hide()

        self.checks = QTreeWidget()
        self.checks.setRootIsDecorated(False)
        self.checks.setColumnCount(4)
        self.checks.setHeaderLabels(["", "Checked", "Result", "Time"])
        header = self.checks.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)  # the detail column takes the room, not "Time"
        self.checks.setTextElideMode(Qt.TextElideMode.ElideNone)

        self.timeline = QListWidget()
        self.timeline.setMaximumHeight(130)

        self.copy_button = QPushButton("Copy as text")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.check_button = QPushButton("Check now")
        self.check_button.clicked.connect(self.check_now_requested)
        self.report_button = QPushButton("Report a problem…")
        self.report_button.clicked.connect(self.report_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.headline)
        layout.addWidget(self.advice)
        layout.addWidget(self.it_label)
        layout.addWidget(self.checks, 1)
        layout.addWidget(self.checked_at)
        layout.addWidget(QLabel("Changes in the last 24 hours"))
        layout.addWidget(self.timeline)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ what the tray feeds in

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_diagnosis(self, diagnosis: Diagnosis | None, *, verdict: str | None = None) -> None:
        self._diagnosis = diagnosis
        if diagnosis is None:
            self.headline.setText(VERDICT_WORD.get(verdict or "checking", "Checking…"))
            self.advice.setText("")
            self.checks.clear()
            self.checked_at.setText("")
            return
        self.headline.setText(diagnosis.headline)
        self.advice.setText(diagnosis.advice)
        self.advice.setVisible(bool(diagnosis.advice))
        self.checked_at.setText(f"Checked at {_local_time(diagnosis.checked_at)}")
        self.checks.clear()
        for check in diagnosis.checks:
            item = QTreeWidgetItem(
                [
                    _STATUS_WORD.get(check.status, check.status),
                    check_title(check),
                    # the detail is the sentence that matters: broken into lines (the view sizes
                    # rows for explicit line breaks, not for its own word wrap)
                    "\n".join(textwrap.wrap(check.detail, DETAIL_WIDTH)) or check.detail,
                    f"{check.duration_ms:.0f} ms",
                ]
            )
            item.setIcon(0, icons.icon(_ROW_STATE.get(check.status, "unknown"), template=False))
            item.setToolTip(2, check.detail)
            item.setData(0, Qt.ItemDataRole.UserRole, check.id)
            self.checks.addTopLevelItem(item)

    def set_changes(self, changes: list[dict]) -> None:
        """History.changes(...) rows, oldest first."""
        self._changes = list(changes)
        self.timeline.clear()
        if not changes:
            self.timeline.addItem("No changes.")
            return
        for change in changes:
            self.timeline.addItem(self._change_line(change))

    def set_it_lines(self, lines: list[str]) -> None:
        self._it_lines = [line for line in lines if line]
        self.it_label.setText("\n".join(self._it_lines))
        self.it_label.setVisible(bool(self._it_lines))

    # ------------------------------------------------------------ text for a chat

    @staticmethod
    def _change_line(change: dict) -> str:
        verdict = VERDICT_WORD.get(change.get("verdict", ""), change.get("verdict", ""))
        headline = change.get("headline") or ""
        return f"{_local_time(change.get('at', ''))}  {verdict}" + (f" — {headline}" if headline else "")

    def as_text(self) -> str:
        lines: list[str] = []
        diagnosis = self._diagnosis
        if diagnosis is None:
            lines.append("MailBeacon: no check has finished yet.")
        else:
            lines.append(f"MailBeacon: {diagnosis.headline}")
            if diagnosis.advice:
                lines.append(diagnosis.advice)
            lines.append(
                f"Verdict: {diagnosis.verdict} (layer: {diagnosis.layer}), "
                f"checked {diagnosis.checked_at}"
            )
            lines.append("")
            for check in diagnosis.checks:
                lines.append(
                    f"[{_STATUS_WORD.get(check.status, check.status)}] {check_title(check)}: "
                    f"{check.detail} ({check.code}, {check.duration_ms:.0f} ms)"
                )
        if self._it_lines:
            lines.append("")
            lines.extend(self._it_lines)
        if self._changes:
            lines.append("")
            lines.append("Changes in the last 24 hours:")
            lines.extend(f"  {self._change_line(c)}" for c in self._changes)
        return "\n".join(lines) + "\n"

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())

    def present(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.closed.emit()
        super().closeEvent(event)
