"""One tray per user: the first instance listens on a QLocalServer; a second launch asks it to
show Details and exits.

The socket lives where only the user can create it ($XDG_RUNTIME_DIR, or a 0700 folder of the
user's own in the temp folder), never under a name anyone can compute in the shared /tmp, and
each side checks the other is the same user (SO_PEERCRED / LOCAL_PEERCRED) before trusting it:
another local user must not make the tray exit believing it already runs, nor be asked to show
anything. On Windows the pipe name carries the user's SID.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.paths import PRIVATE_DIR, user_paths

log = logging.getLogger(__name__)

SHOW = b"show\n"
# a Unix socket path must fit sockaddr_un (104 bytes on macOS, 108 on Linux)
_MAX_SOCKET_PATH = 100


def _user_key() -> str:
    if sys.platform == "win32":
        sid = _windows_sid()
        if sid:
            return sid
    try:
        return getpass.getuser()
    except Exception:  # no user name in some sandboxes; the state folder still separates
        return "user"


def _windows_sid() -> str | None:
    """The current user's SID as text (S-1-5-21-…), or None when it cannot be read."""
    try:
        import ctypes
        from ctypes import wintypes

        advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        token = wintypes.HANDLE()
        if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), 0x0008, ctypes.byref(token)):
            return None
        try:
            size = wintypes.DWORD()
            advapi32.GetTokenInformation(token, 1, None, 0, ctypes.byref(size))  # TokenUser
            buffer = ctypes.create_string_buffer(size.value)
            if not advapi32.GetTokenInformation(token, 1, buffer, size, ctypes.byref(size)):
                return None
            sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]
            text = wintypes.LPWSTR()
            if not advapi32.ConvertSidToStringSidW(ctypes.c_void_p(sid), ctypes.byref(text)):
                return None
            try:
                return text.value
            finally:
                kernel32.LocalFree(text)
        finally:
            kernel32.CloseHandle(token)
    except Exception:  # an unexpected Windows: the user name is the fallback
        return None


def _is_private_dir(path: Path) -> bool:
    """A real folder (not a link) owned by this user that nobody else may write or enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def runtime_dir() -> Path | None:
    """Where this user's socket may live: $XDG_RUNTIME_DIR, else <temp>/mailbeacon-<uid> made
    0700 by us. None when neither is safe (someone else made that folder first)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and _is_private_dir(Path(xdg)):
        return Path(xdg)
    folder = Path(tempfile.gettempdir()) / f"mailbeacon-{os.getuid()}"
    try:
        os.mkdir(folder, PRIVATE_DIR)
    except FileExistsError:
        pass
    except OSError as exc:
        log.warning("single instance: cannot create %s: %s", folder, exc)
        return None
    if not _is_private_dir(folder):
        log.warning("single instance: %s is not a private folder of this user; not using it", folder)
        return None
    return folder


def socket_basename() -> str:
    """Per user and per state folder, so a demo or a test never talks to the real tray."""
    digest = hashlib.sha256(f"{_user_key()}\0{user_paths().data_dir}".encode()).hexdigest()[:16]
    return f"MailBeacon-{digest}"


def server_name() -> str:
    """The name to listen on: on Windows a pipe name carrying the user's SID; on Unix the full
    path of the socket, in a folder only this user can create files in."""
    data_dir = user_paths().data_dir
    name = socket_basename()
    if sys.platform == "win32":
        return name
    folder = runtime_dir()
    if folder is None or len(str(folder / name)) > _MAX_SOCKET_PATH:
        folder = data_dir / "run"
        try:
            from app.paths import private_dir

            private_dir(folder)
        except OSError as exc:
            log.warning("single instance: cannot create %s: %s", folder, exc)
    path = folder / name
    if len(str(path)) > _MAX_SOCKET_PATH:
        # a state folder too deep for a socket path: a name in $HOME, which is the user's own
        path = Path.home() / f".{name.lower()}"
    return str(path)


def peer_uid(fd: int) -> int | None:
    """The user id of the process at the other end of a Unix socket; None where the system
    cannot tell (then the socket folder's own protection is what keeps others out)."""
    try:
        sock = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return struct.unpack("3i", raw)[1]
        if sys.platform == "darwin":  # struct xucred {u_int version; uid_t uid; ...}
            local_peercred, sol_local = 0x001, 0
            raw = sock.getsockopt(sol_local, local_peercred, 76)
            return struct.unpack_from("2I", raw)[1]
    except OSError:
        return None
    finally:
        sock.close()  # a duplicate: Qt keeps its own descriptor
    return None


def _same_user(qsocket: QLocalSocket) -> bool:
    if sys.platform == "win32":
        return True  # the pipe name carries the SID; Windows pipes have their own ACL
    fd = int(qsocket.socketDescriptor())
    if fd < 0:
        return False
    uid = peer_uid(fd)
    return uid is None or uid == os.getuid()


class SingleInstance(QObject):
    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server: QLocalServer | None = None
        self._peers: set[QLocalSocket] = set()

    def _connect(self, timeout_ms: int) -> QLocalSocket | None:
        """A connection to a tray of this same user, or None (nobody, or somebody else)."""
        qsocket = QLocalSocket()
        qsocket.connectToServer(self.name)
        if not qsocket.waitForConnected(timeout_ms):
            return None
        if not _same_user(qsocket):
            log.warning("single instance: %s is held by another user; ignoring it", self.name)
            qsocket.abort()
            return None
        return qsocket

    def hand_off(self, timeout_ms: int = 1000) -> bool:
        """True when another instance of this user answered and was asked to show its window."""
        qsocket = self._connect(timeout_ms)
        if qsocket is None:
            return False
        qsocket.write(SHOW)
        qsocket.flush()
        qsocket.waitForBytesWritten(timeout_ms)
        qsocket.disconnectFromServer()
        return True

    def _answers(self, timeout_ms: int = 500) -> bool:
        qsocket = self._connect(timeout_ms)
        if qsocket is None:
            return False
        qsocket.abort()
        return True

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
            qsocket = self._server.nextPendingConnection()
            # Python owns each connection from here on: Qt would otherwise delete it twice, once
            # through disconnected -> deleteLater and once with the server it was a child of
            qsocket.setParent(None)
            if not _same_user(qsocket):
                log.warning("single instance: a process of another user connected; ignored")
                qsocket.abort()
                continue
            self._peers.add(qsocket)
            qsocket.readyRead.connect(lambda s=qsocket: self._on_ready(s))
            qsocket.disconnected.connect(lambda s=qsocket: self._drop(s))
            if qsocket.bytesAvailable():
                self._on_ready(qsocket)

    def _drop(self, qsocket: QLocalSocket) -> None:
        self._peers.discard(qsocket)
        qsocket.deleteLater()

    def _on_ready(self, qsocket: QLocalSocket) -> None:
        data = bytes(qsocket.readAll().data())
        if SHOW.strip() in data:
            self.show_requested.emit()

    def close(self) -> None:
        for qsocket in list(self._peers):
            qsocket.abort()
            qsocket.deleteLater()
        self._peers.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
