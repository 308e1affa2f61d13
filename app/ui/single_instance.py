"""One tray per user: the first instance listens on a local socket; a second launch asks it to
show Details and exits.

The socket lives where only the user can create it ($XDG_RUNTIME_DIR, or a 0700 folder of the
user's own in the temp folder), never under a name anyone can compute in the shared /tmp, and
each side checks the other is the same user (SO_PEERCRED / LOCAL_PEERCRED) before trusting it:
another local user must not make the tray exit believing it already runs, nor be asked to show
anything. On Windows the pipe name carries the user's SID.

On Linux and macOS it is a plain Unix socket watched by a QSocketNotifier: QtNetwork, which the
tray needs for nothing else, cost two megabytes of idle memory and its import time before the
icon showed (benchmarks/tray_footprint.py). Windows keeps Qt's named pipe (QLocalServer).
"""

from __future__ import annotations

import errno
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
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal

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


def _same_user_fd(fd: int) -> bool:
    if fd < 0:
        return False
    uid = peer_uid(fd)
    return uid is None or uid == os.getuid()


def _same_user(qsocket: Any) -> bool:
    """For a QLocalSocket (Windows)."""
    if sys.platform == "win32":
        return True  # the pipe name carries the SID; Windows pipes have their own ACL
    return _same_user_fd(int(qsocket.socketDescriptor()))


class _SingleInstanceBase(QObject):
    show_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()


class UnixSocketInstance(_SingleInstanceBase):
    """Linux and macOS: a Unix socket in the user's private folder, read through QSocketNotifier
    so the GUI thread never waits on a peer."""

    # a peer says "show\n" and hangs up; anything longer is not one of ours
    _MAX_MESSAGE = 64

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(name, parent)
        self._server: socket.socket | None = None
        self._server_notifier: QSocketNotifier | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we made
        self._peers: dict[socket.socket, tuple[QSocketNotifier, bytearray]] = {}

    def _connect(self, timeout_ms: int) -> socket.socket | None:
        """A connection to a tray of this same user, or None (nobody, or somebody else)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_ms / 1000)
        try:
            sock.connect(self.name)
        except OSError:
            sock.close()
            return None
        if not _same_user_fd(sock.fileno()):
            log.warning("single instance: %s is held by another user; ignoring it", self.name)
            sock.close()
            return None
        return sock

    def hand_off(self, timeout_ms: int = 1000) -> bool:
        """True when another instance of this user answered and was asked to show its window."""
        sock = self._connect(timeout_ms)
        if sock is None:
            return False
        try:
            sock.sendall(SHOW)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:  # it went away between connect and write: nobody to ask
            log.info("single instance: the running tray did not take the message: %s", exc)
            return False
        finally:
            sock.close()
        return True

    def _answers(self, timeout_ms: int = 500) -> bool:
        sock = self._connect(timeout_ms)
        if sock is None:
            return False
        sock.close()
        return True

    def _bind(self, server: socket.socket) -> bool:
        try:
            server.bind(self.name)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                log.warning("single instance: cannot listen on %s: %s", self.name, exc)
                return False
            # a crashed instance leaves its socket file behind: nobody answers on it (asked)
            try:
                if not stat.S_ISSOCK(os.lstat(self.name).st_mode):
                    log.warning("single instance: %s is not a socket; not replacing it", self.name)
                    return False
                os.unlink(self.name)
                server.bind(self.name)
            except OSError as again:
                log.warning("single instance: cannot listen on %s: %s", self.name, again)
                return False
        return True

    def listen(self) -> bool:
        """Take the name; False when it cannot, or when a live instance already holds it."""
        if self._answers():
            return False  # a twin started at the same moment and listens already
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if not self._bind(server):
            server.close()
            return False
        try:
            os.chmod(self.name, 0o600)  # the folder is the user's own already; the file too
            info = os.stat(self.name)
            server.listen(8)
            server.setblocking(False)
        except OSError as exc:
            log.warning("single instance: cannot listen on %s: %s", self.name, exc)
            server.close()
            return False
        self._bound = (info.st_dev, info.st_ino)
        self._server = server
        self._server_notifier = QSocketNotifier(server.fileno(), QSocketNotifier.Type.Read, self)
        self._server_notifier.activated.connect(self._on_connection)
        return True

    def _on_connection(self, *_: Any) -> None:
        while self._server is not None:
            try:
                conn, _addr = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("single instance: accept failed: %s", exc)
                return
            if not _same_user_fd(conn.fileno()):
                log.warning("single instance: a process of another user connected; ignored")
                conn.close()
                continue
            conn.setblocking(False)
            notifier = QSocketNotifier(conn.fileno(), QSocketNotifier.Type.Read, self)
            self._peers[conn] = (notifier, bytearray())
            # a bound method, not a closure over self: nothing keeps this object alive in a
            # cycle, to be freed by the garbage collector at some later moment
            notifier.activated.connect(self._on_peer_activated)
            self._on_ready(conn)  # it may have written before we looked

    def _on_peer_activated(self, *_: Any) -> None:
        notifier = self.sender()
        for conn, (peer_notifier, _buffer) in list(self._peers.items()):
            if peer_notifier is notifier:
                self._on_ready(conn)
                return

    def _on_ready(self, conn: socket.socket) -> None:
        if conn not in self._peers:
            return
        buffer = self._peers[conn][1]
        try:
            data = conn.recv(self._MAX_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        buffer += data
        if SHOW.strip() in buffer:
            self._drop(conn)
            self.show_requested.emit()
        elif not data or len(buffer) >= self._MAX_MESSAGE:
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        notifier, _buffer = self._peers.pop(conn)
        notifier.setEnabled(False)
        notifier.deleteLater()
        conn.close()

    def close(self) -> None:
        for conn in list(self._peers):
            self._drop(conn)
        if self._server_notifier is not None:
            self._server_notifier.setEnabled(False)
            self._server_notifier.deleteLater()
            self._server_notifier = None
        if self._server is not None:
            self._server.close()
            self._server = None
            try:
                info = os.lstat(self.name)
                if (info.st_dev, info.st_ino) == self._bound:
                    os.unlink(self.name)  # ours still: a later launch finds no stale file
            except OSError:
                pass
            self._bound = None


class LocalServerInstance(_SingleInstanceBase):
    """Windows: Qt's QLocalServer on a named pipe whose name carries the user's SID."""

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(name, parent)
        self._server: Any = None
        self._peers: set[Any] = set()

    def _connect(self, timeout_ms: int) -> Any:
        """A connection to a tray of this same user, or None (nobody, or somebody else)."""
        from PySide6.QtNetwork import QLocalSocket

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
        from PySide6.QtNetwork import QLocalServer

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

    def _drop(self, qsocket: Any) -> None:
        self._peers.discard(qsocket)
        qsocket.deleteLater()

    def _on_ready(self, qsocket: Any) -> None:
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


# Python's socket module has no AF_UNIX on Windows
SingleInstance = LocalServerInstance if sys.platform == "win32" else UnixSocketInstance
