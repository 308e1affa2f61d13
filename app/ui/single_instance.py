"""One tray per user: the first instance listens on a QLocalServer; a second launch asks it to
show Details and exits."""

from __future__ import annotations

import getpass
import hashlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.paths import user_paths

log = logging.getLogger(__name__)

SHOW = b"show\n"


def server_name() -> str:
    """Per user and per state folder, so a demo or a test never talks to the real tray."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some sandboxes; the state folder still separates
        user = "user"
    key = f"{user}\0{user_paths().data_dir}".encode()
    return "MailBeacon-" + hashlib.sha256(key).hexdigest()[:16]


class SingleInstance(QObject):
    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server: QLocalServer | None = None

    def hand_off(self, timeout_ms: int = 1000) -> bool:
        """True when another instance answered and was asked to show its window."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(SHOW)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def _answers(self, timeout_ms: int = 500) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        alive = socket.waitForConnected(timeout_ms)
        socket.abort()
        return alive

    def listen(self) -> bool:
        """Take the name; False when it cannot, or when a live instance already holds it."""
        if self._answers():
            # a twin started at the same moment and listens already. With socket options set,
            # Qt's listen() replaces a live socket file instead of failing, so ask first.
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # a crashed instance leaves its socket file behind on Unix: nobody answers on it
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning("single instance: cannot listen on %s: %s", self.name, server.errorString())
                return False
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._on_ready(socket)

    def _on_ready(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())
        if SHOW.strip() in data:
            self.show_requested.emit()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
