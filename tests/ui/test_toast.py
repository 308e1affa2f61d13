"""Notifications without a notification daemon: a small window that never covers the tray icon
(Qt's balloon does, and takes the next click), and a click on it does what a click on a
notification does."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QRect, Qt

from app.ui import toast
from tests.ui.conftest import dispose_tray, make_diagnosis

SCREEN = QRect(0, 0, 1920, 1080)


@pytest.mark.parametrize(
    "icon",
    [
        QRect(1890, 2, 24, 24),  # a top-right panel (trayer, XFCE)
        QRect(1890, 1052, 24, 24),  # bottom-right (Windows-like panels)
        QRect(4, 1052, 24, 24),  # bottom-left
        QRect(4, 500, 24, 24),  # a vertical panel on the left
        QRect(1893, 500, 24, 24),  # on the right
        QRect(),  # the icon's place is unknown
    ],
)
def test_the_window_stays_off_the_icon_and_on_the_screen(icon, qapp):
    rect = toast.placement((340, 90), icon, SCREEN)
    assert SCREEN.contains(rect), rect
    assert not rect.intersects(icon.adjusted(-8, -8, 8, 8)), (rect, icon)


def test_without_a_daemon_the_tray_shows_its_own_window_and_a_click_acts(qtbot, make_config, monkeypatch):
    from app.ui.tray import TrayApp

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # no session bus: no daemon
    tray = TrayApp(make_config('[network]\ninternet_url = ""\n[[endpoints]]\nkind = "smtp"\nhost = "127.0.0.1"\nport = 2\n'),
                   diagnose=lambda c: make_diagnosis("down"), tray_available=lambda: True, watch_network=False)
    try:
        monkeypatch.setattr(tray.tray, "isVisible", lambda: True)
        balloons = []
        monkeypatch.setattr(tray.tray, "showMessage", lambda *a: balloons.append(a))
        opened = []
        monkeypatch.setattr(tray, "open_report", lambda *a: opened.append(a))
        assert tray.notify("Mail is down", "The mail server is not answering.", "down")
        if sys.platform.startswith("linux"):  # the daemon is looked for off the GUI thread
            qtbot.waitUntil(lambda: tray._toast is not None and tray._toast.isVisible(), timeout=5000)
        else:
            tray.use_toast = True
            tray.notify("Mail is down", "The mail server is not answering.", "down")
        assert balloons == []  # Qt's balloon never shows
        window = tray._toast
        assert window.isVisible() and window.title.text() == "Mail is down"
        assert not window.geometry().intersects(tray.tray.geometry()) or tray.tray.geometry().isEmpty()
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton)
        assert opened and not window.isVisible()
    finally:
        dispose_tray(tray)


def test_on_windows_and_macos_qt_sends_the_notification(make_config, monkeypatch):
    from app.ui.tray import TrayApp

    tray = TrayApp(make_config('[network]\ninternet_url = ""\n'), tray_available=lambda: True, watch_network=False)
    try:
        monkeypatch.setattr(tray.tray, "isVisible", lambda: True)
        sent = []
        monkeypatch.setattr(tray.tray, "showMessage", lambda *a: sent.append(a))
        monkeypatch.setattr(sys, "platform", "win32")
        tray.notify("Mail works again", "It was down for 3 min.", "ok")
        monkeypatch.setattr(sys, "platform", "darwin")
        tray.notify("Mail is down", "The mail server is not answering.", "down")
        monkeypatch.undo()
        assert [a[0] for a in sent] == ["Mail works again", "Mail is down"]
        assert tray._toast is None and tray._desktop is None
    finally:
        dispose_tray(tray)


def _luminance(c) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize(("window", "dark"), [("#f0f0f0", False), ("#202020", True)])
def test_the_window_follows_a_light_or_dark_desktop_and_stays_readable(qapp, qtbot, window, dark):
    from PySide6.QtGui import QColor, QPalette

    before = qapp.palette()
    palette = QPalette(before)
    palette.setColor(QPalette.ColorRole.Window, QColor(window))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0" if dark else "#202020"))
    qapp.setPalette(palette)
    try:
        assert toast.desktop_is_dark() is dark
        window_ = toast.Toast()
        qtbot.addWidget(window_)
        window_.show_message("Mail is down", "The mail server is not answering.", QRect())
        image = window_.grab().toImage()
        background = image.pixelColor(image.width() // 2, image.height() - 3)
        assert (background.lightness() < 80) is dark, background.name()
        # the text actually drawn: the pixel of the title furthest from the background
        area = window_.title.geometry()
        drawn = [image.pixelColor(x, y) for y in range(area.top(), area.bottom())
                 for x in range(area.left(), min(area.right(), area.left() + 120))]
        text = max(drawn, key=lambda c: abs(c.lightness() - background.lightness()))
        assert _contrast(text, background) >= 7, (text.name(), background.name())
    finally:
        qapp.setPalette(before)
