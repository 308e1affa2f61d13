"""The Details window: the headline and what to do now, what IT says, one plain sentence per check,
the last 24 h of verdict changes, and a "Details for IT" disclosure with the technical lines;
"Copy as text" gives both for pasting into a chat. Esc or Close closes it."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.diagnosis.model import Diagnosis
from app.jsonio import parse_iso
from app.ui import icons
from app.words import it, staff

# a check's status -> the icon state of its row
_ROW_STATE = {"ok": "ok", "warn": "degraded", "fail": "down", "skipped": "unknown"}
VERDICT_WORD = staff.VERDICT_WORD


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


def _plain_label(text: str = "", *, wrap: bool = True) -> QLabel:
    # outside text (server words, IT's messages) must never be read as markup
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    return label


class DetailsWindow(QWidget):
    """Renders state handed to it; it never runs a check itself."""

    check_now_requested = Signal()
    report_requested = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        words = staff.DETAILS
        self.setWindowTitle(staff.DETAILS_TITLE)
        self.resize(640, 560)
        self._diagnosis: Diagnosis | None = None
        self._changes: list[dict] = []
        self._it_lines: list[str] = []
        self._feed_line: str | None = None
        self._rows: list[tuple[str, str]] = []

        self.notice = _plain_label()
        self.notice.setStyleSheet("background:#fff4ce; color:#3b2f00; padding:6px; border-radius:4px;")
        self.notice.hide()
        self.headline = _plain_label(staff.MENU["checking"])
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.headline.setFont(font)
        self.advice = _plain_label()
        self.it_label = _plain_label()
        self.it_label.setStyleSheet("background:#e8f0fe; color:#0b2a5b; padding:6px; border-radius:4px;")
        self.it_label.hide()

        # one plain sentence per check, in labels that wrap: nothing scrolls sideways
        self.checks_title = QLabel(f"<b>{words['checks']}</b>")
        self.checks = QWidget()
        self._grid = QGridLayout(self.checks)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(2, 1)
        self.checked_at = _plain_label()

        self.it_toggle = QToolButton()
        self.it_toggle.setText(words["it_show"])
        self.it_toggle.setCheckable(True)
        self.it_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.it_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.it_toggle.setAutoRaise(True)
        self.it_toggle.toggled.connect(self._show_it)
        self.it_text = QPlainTextEdit()
        self.it_text.setReadOnly(True)
        self.it_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.it_text.setMinimumHeight(150)
        self.it_text.hide()

        self.timeline = QListWidget()
        self.timeline.setWordWrap(True)
        self.timeline.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.timeline.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.timeline.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.timeline.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.timeline.setMaximumHeight(130)

        self.copy_button = QPushButton(words["copy"])
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.check_button = QPushButton(words["check_now"])
        self.check_button.clicked.connect(self.check_now_requested)
        self.report_button = QPushButton(staff.REPORT_BUTTON)
        self.report_button.clicked.connect(self.report_requested)
        self.close_button = QPushButton(words["close"])
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.close_button)
        # Esc closes, as in any dialog; the shortcut also works while a child has the focus
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.headline)
        layout.addWidget(self.advice)
        layout.addWidget(self.it_label)
        layout.addSpacing(6)
        layout.addWidget(self.checks_title)
        layout.addWidget(self.checks)
        layout.addWidget(self.checked_at)
        layout.addWidget(self.it_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.it_text, 1)
        layout.addWidget(QLabel(f"<b>{words['changes']}</b>"))
        layout.addWidget(self.timeline)
        layout.addStretch(0)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ what the tray feeds in

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_diagnosis(
        self,
        diagnosis: Diagnosis | None,
        *,
        verdict: str | None = None,
        action: staff.CallToAction | None = None,
    ) -> None:
        """`action` is what to do now once IT's status is known (it replaces the advice)."""
        self._diagnosis = diagnosis
        self._clear_rows()
        if diagnosis is None:
            self.headline.setText(VERDICT_WORD.get(verdict or "checking", staff.MENU["checking"]))
            self.advice.setText("")
            self.checked_at.setText("")
            self.it_text.setPlainText(self.it_details())
            return
        self.headline.setText(diagnosis.headline)
        advice = action.text if action is not None else diagnosis.advice
        self.advice.setText(advice)
        self.advice.setVisible(bool(advice))
        self.report_button.setText(action.button if action is not None else staff.REPORT_BUTTON)
        self.checked_at.setText(staff.DETAILS["checked_at"].format(clock=_local_time(diagnosis.checked_at)))
        for row, check in enumerate(diagnosis.checks):
            title = staff.check_title(check.kind, check.name)
            sentence = staff.check_sentence(check.kind, check.status, check.code, check.layer, check.data)
            self._rows.append((title, sentence))
            mark = QLabel()
            mark.setPixmap(icons.pixmap(_ROW_STATE.get(check.status, "unknown"), 16))
            mark.setToolTip(staff.STATUS_WORD.get(check.status, check.status))
            name = _plain_label(title, wrap=False)
            text = _plain_label(sentence)
            self._grid.addWidget(mark, row, 0, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(name, row, 1, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(text, row, 2, Qt.AlignmentFlag.AlignTop)
        self.it_text.setPlainText(self.it_details())

    def _clear_rows(self) -> None:
        self._rows = []
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def staff_rows(self) -> list[tuple[str, str]]:
        """(title, sentence) per check, as staff see them."""
        return list(self._rows)

    def set_changes(self, changes: list[dict]) -> None:
        """History.changes(...) rows, oldest first."""
        self._changes = list(changes)
        self.timeline.clear()
        if not changes:
            self.timeline.addItem(staff.DETAILS["no_changes"])
            return
        for change in changes:
            self.timeline.addItem(self._change_line(change))

    def set_it_lines(self, lines: list[str], feed_line: str | None = None) -> None:
        """What IT posted, for staff; `feed_line`: why the feed could not be read, for IT."""
        self._it_lines = [line for line in lines if line]
        self.it_label.setText("\n".join(self._it_lines))
        self.it_label.setVisible(bool(self._it_lines))
        self._feed_line = feed_line or None
        self.it_text.setPlainText(self.it_details())

    def _show_it(self, shown: bool) -> None:
        self.it_text.setVisible(shown)
        self.it_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        QTimer.singleShot(0, self._fit_height)

    def _fit_height(self) -> None:
        """Grow to what the open disclosure needs (within the screen), so nothing overlaps."""
        screen = self.screen()
        limit = screen.availableGeometry().height() - 40 if screen is not None else 900
        wanted = min(limit, max(self.height(), self.layout().totalSizeHint().height()))
        if wanted > self.height():
            self.resize(self.width(), wanted)

    # ------------------------------------------------------------ text for IT and for a chat

    def it_details(self) -> str:
        """The technical lines: verdict and layer, then each check's code, target, detail, facts."""
        diagnosis = self._diagnosis
        lines = [it.verdict_line(diagnosis), *(it.check_line(c) for c in diagnosis.checks)] if diagnosis else []
        return "\n".join([*lines, self._feed_line] if self._feed_line else lines)

    @staticmethod
    def _change_line(change: dict) -> str:
        """'17:02  The mail server is not answering — …': the headline says it all; the verdict
        word stands in only when a change has none."""
        verdict = VERDICT_WORD.get(change.get("verdict", ""), change.get("verdict", ""))
        return f"{_local_time(change.get('at', ''))}  {change.get('headline') or verdict}"

    def as_text(self) -> str:
        lines: list[str] = []
        diagnosis = self._diagnosis
        if diagnosis is None:
            lines.append(staff.DETAILS["copy_no_check"])
            if self._feed_line:
                lines += ["", f"{staff.DETAILS['it_show']}:", self._feed_line]
        else:
            lines.append(staff.DETAILS["copy_headline"].format(headline=diagnosis.headline))
            if self.advice.text():
                lines.append(self.advice.text())
            lines.append("")
            lines.extend(f"{title}: {sentence}" for title, sentence in self._rows)
            lines.append("")
            lines.append(f"{staff.DETAILS['it_show']}:")
            lines.extend(self.it_details().splitlines())
        if self._it_lines:
            lines.append("")
            lines.extend(self._it_lines)
        if self._changes:
            lines.append("")
            lines.append(f"{staff.DETAILS['changes']}:")
            lines.extend(f"  {self._change_line(c)}" for c in self._changes)
        return "\n".join(lines) + "\n"

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())

    def present(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.closed.emit()
        super().closeEvent(event)
