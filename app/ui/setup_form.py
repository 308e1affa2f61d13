"""The set-up window's manual form: server, port and security for sending and for receiving
mail, as Thunderbird offers when nothing is found. It only collects; the window checks and saves."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.config import Endpoint
from app.firstrun import USUAL_PORT, ServerEntry
from app.words import setup as words

SECURITY = words.SECURITY_CHOICES
RECEIVING = (("IMAP", "imap"), ("POP3", "pop3"))


class _Row:
    """The widgets of one server: kind, server name, port and security."""

    def __init__(self, kind: str, tls: str, placeholder: str) -> None:
        self.kind = kind
        self.host = QLineEdit()
        self.host.setPlaceholderText(placeholder)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(USUAL_PORT[(kind, tls)])
        self.port.setAccessibleName(words.LABELS["port"])
        self.security = QComboBox()
        for text, value in SECURITY:
            self.security.addItem(text, value)
        self.security.setCurrentIndex(self.security.findData(tls))
        self.security.setAccessibleName(words.LABELS["security"])
        self._usual = self.port.value()
        self.security.currentIndexChanged.connect(lambda _i: self._follow_usual_port())

    @property
    def tls(self) -> str:
        return str(self.security.currentData())

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self._follow_usual_port()

    def _follow_usual_port(self) -> None:
        # a port the person chose stays; one we proposed follows the security they pick
        usual = USUAL_PORT[(self.kind, self.tls)]
        if self.port.value() == self._usual:
            self.port.setValue(usual)
        self._usual = usual

    def entry(self) -> ServerEntry:
        return ServerEntry(self.kind, self.host.text(), self.port.value(), self.tls)

    def fill(self, host: str, port: int, tls: str) -> None:
        self.security.setCurrentIndex(max(0, self.security.findData(tls)))
        self.host.setText(host)
        self.port.setValue(port)
        self._usual = USUAL_PORT[(self.kind, self.tls)]


class ManualForm(QGroupBox):
    """Two rows: sending (SMTP) and receiving (IMAP or POP3)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(words.LABELS["form"], parent)
        example = words.LABELS["server_example"]
        self.sending = _Row("smtp", "starttls", example.format(kind="smtp", domain="example.com"))
        self.receiving = _Row("imap", "implicit", example.format(kind="imap", domain="example.com"))
        self.protocol = QComboBox()
        for text, value in RECEIVING:
            self.protocol.addItem(text, value)
        self.protocol.setAccessibleName("Receiving protocol")
        self.protocol.currentIndexChanged.connect(
            lambda _i: self.receiving.set_kind(str(self.protocol.currentData()))
        )

        grid = QGridLayout(self)
        for column, key in enumerate(("protocol", "server", "port", "security"), start=1):
            grid.addWidget(QLabel(words.LABELS[key]), 0, column)
        sending_label = QLabel(words.LABELS["sending"])
        sending_label.setBuddy(self.sending.host)
        receiving_label = QLabel(words.LABELS["receiving"])
        receiving_label.setBuddy(self.receiving.host)
        grid.addWidget(sending_label, 1, 0)
        grid.addWidget(QLabel("SMTP"), 1, 1)
        grid.addWidget(self.sending.host, 1, 2)
        grid.addWidget(self.sending.port, 1, 3)
        grid.addWidget(self.sending.security, 1, 4)
        grid.addWidget(receiving_label, 2, 0)
        grid.addWidget(self.protocol, 2, 1)
        grid.addWidget(self.receiving.host, 2, 2)
        grid.addWidget(self.receiving.port, 2, 3)
        grid.addWidget(self.receiving.security, 2, 4)
        grid.setColumnStretch(2, 1)
        self.sending.host.setMinimumWidth(250)

        for row in (self.sending, self.receiving):
            row.host.textChanged.connect(self.changed)
            row.port.valueChanged.connect(self.changed)
            row.security.currentIndexChanged.connect(self.changed)
        self.protocol.currentIndexChanged.connect(self.changed)

    def focus_order(self) -> list[QWidget]:
        """Widgets in the order Tab visits them."""
        return [
            self.sending.host, self.sending.port, self.sending.security,
            self.protocol, self.receiving.host, self.receiving.port, self.receiving.security,
        ]

    def entries(self) -> list[ServerEntry]:
        return [self.sending.entry(), self.receiving.entry()]

    def fill(self, endpoints: list[Endpoint]) -> None:
        """Put found servers in the rows: the first sending and the first receiving one."""
        for endpoint in endpoints:
            if endpoint.kind == "smtp" and not self.sending.host.text():
                self.sending.fill(endpoint.host, endpoint.port, endpoint.tls)
            elif endpoint.kind in ("imap", "pop3") and not self.receiving.host.text():
                self.protocol.setCurrentIndex(self.protocol.findData(endpoint.kind))
                self.receiving.fill(endpoint.host, endpoint.port, endpoint.tls)

    def set_domain_hint(self, domain: str) -> None:
        if domain:
            example = words.LABELS["server_example"]
            self.sending.host.setPlaceholderText(example.format(kind="smtp", domain=domain))
            self.receiving.host.setPlaceholderText(example.format(kind="imap", domain=domain))
