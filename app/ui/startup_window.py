"""The "MailBeacon cannot start" window (app.ui.startup_error): the sentence and the three things a
person can do about it. A module of its own so that a tray that starts fine never loads it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app.words.staff import CANNOT_START

WINDOW_TITLE = CANNOT_START["window_title"]


class CannotStartWindow(QDialog):
    """The sentence, and the three things a person can do about it."""

    open_config = Signal()
    open_logs = Signal()
    quit_requested = Signal()

    def __init__(self, sentence: str) -> None:
        super().__init__(None)
        self.setWindowTitle(WINDOW_TITLE)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        self.label = QLabel(sentence)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        self.hint = QLabel(CANNOT_START["hint"])
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        buttons = QHBoxLayout()
        self.config_button = QPushButton(CANNOT_START["open_config"])
        self.logs_button = QPushButton(CANNOT_START["open_logs"])
        self.quit_button = QPushButton(CANNOT_START["quit"])
        for button, signal in ((self.config_button, self.open_config), (self.logs_button, self.open_logs),
                               (self.quit_button, self.quit_requested)):
            button.clicked.connect(signal.emit)
            buttons.addWidget(button)
        buttons.insertStretch(2)
        layout.addLayout(buttons)

    def set_sentence(self, sentence: str) -> None:
        self.label.setText(sentence)
