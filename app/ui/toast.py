"""Notifications where the desktop has no notification daemon (app.ui.desktop_notify finds out):
a small window in a screen corner, never over the tray icon. Qt's own fallback (a balloon tip)
points at the icon, covers it and takes the next click meant for it."""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QMouseEvent, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

MARGIN = 12

# (background, border, text) for a light and a dark desktop: text contrast above 12:1 on both
COLOURS = {False: ("#ffffff", "#8a8f94", "#1f1f1f"), True: ("#2b2d30", "#6b7178", "#f2f2f2")}


def desktop_is_dark() -> bool:
    """The desktop's colour scheme (Qt 6.5+), else whether the palette's window is dark."""
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def placement(size: tuple[int, int], icon: QRect, screen: QRect) -> QRect:
    """Where the window goes: the screen's corner on the icon's side, moved past the icon's row
    or column so it never covers the icon (an empty icon rectangle: the top-right corner)."""
    width, height = size
    right = screen.right() - width - MARGIN + 1
    rect = QRect(right, screen.top() + MARGIN, width, height)
    if icon.isEmpty():
        return rect
    guard = icon.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    left_side = icon.center().x() < screen.center().x()
    x = screen.left() + MARGIN if left_side else right
    if icon.center().y() < screen.center().y():
        rect = QRect(x, max(screen.top() + MARGIN, guard.bottom() + 1), width, height)
    else:
        rect = QRect(x, min(screen.bottom() - height - MARGIN + 1, guard.top() - height), width, height)
    if rect.intersects(guard):  # a tray on the side of the screen: go beside it instead
        x = guard.right() + 1 if left_side else guard.left() - width
        rect.moveLeft(x)
    return rect


class Toast(QFrame):
    """One notification at a time; a click on it is `clicked`, it closes itself after a while."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlags(
            Qt.WindowType.ToolTip
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setObjectName("toast")
        self.follow_scheme()
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self.setFixedWidth(340)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def follow_scheme(self) -> None:
        """Light or dark like the desktop, decided again before each message."""
        background, border, text = COLOURS[desktop_is_dark()]
        self.setStyleSheet(
            f"#toast {{ background: {background}; border: 1px solid {border}; border-radius: 6px; }}"
            f"QLabel {{ color: {text}; }}"
        )

    def show_message(self, title: str, text: str, icon_rect: QRect, msecs: int = 10000) -> None:
        self.follow_scheme()
        self.title.setText(title)
        self.text.setText(text)
        # wrapped text: the height follows from the fixed width, not from a one-line guess
        self.setFixedHeight(self.layout().totalHeightForWidth(self.width()))
        screen = QGuiApplication.screenAt(icon_rect.center()) if not icon_rect.isEmpty() else None
        screen = screen or QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 768)
        rect = placement((self.width(), self.height()), icon_rect, area)
        self.move(QPoint(rect.x(), rect.y()))
        self.show()
        self.raise_()
        self._timer.start(msecs)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        self.hide()
        self.clicked.emit()
        super().mouseReleaseEvent(event)
