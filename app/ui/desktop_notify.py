"""Notifications through the desktop's notification daemon (org.freedesktop.Notifications on the
session bus), for Linux. Qt's balloon on an XEmbed tray covers the icon; the daemon shows the
notification the way every other program's look on this desktop.

No Qt here: one daemon thread owns the bus connection, takes notices from a queue, sends them
and listens for the daemon's ActionInvoked / NotificationClosed signals. The caller gets two
callbacks, both run on that thread: `on_click()` when the person clicks the notification, and
`on_fallback(notice)` when a notice could not go to a daemon (no session bus, no daemon, any
D-Bus error) and must be shown some other way. The GUI thread never waits on the bus.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
NOTIFY_SIGNATURE = "susssasa{sv}i"
# seconds: the bus's own calls answer in microseconds; a daemon the bus starts on the first
# Notify (D-Bus activation) may take a moment
BUS_TIMEOUT_S = 2.0
NOTIFY_TIMEOUT_S = 5.0

URGENCY_NORMAL, URGENCY_CRITICAL = 1, 2


@dataclass(frozen=True)
class Notice:
    summary: str
    body: str
    icon: str = ""  # a file path of the icon, or "" for the daemon's default
    critical: bool = False
    timeout_ms: int = 10000


def escape_markup(text: str) -> str:
    """Daemons that advertise "body-markup" read the body as a small subset of HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notify_body(notice: Notice, replaces_id: int, markup: bool, app_name: str, desktop_entry: str) -> tuple:
    """The arguments of Notify, in the order and types of NOTIFY_SIGNATURE."""
    hints = {
        "urgency": ("y", URGENCY_CRITICAL if notice.critical else URGENCY_NORMAL),
        "desktop-entry": ("s", desktop_entry),
    }
    body = escape_markup(notice.body) if markup else notice.body
    return (
        app_name,
        replaces_id & 0xFFFFFFFF,
        notice.icon,
        notice.summary,
        body,
        ["default", "Open"],
        hints,
        int(notice.timeout_ms),
    )


class _Unavailable(Exception):
    """No session bus, or nothing owns (or can start) the notification service: not an error."""


_STOP = object()


class DesktopNotifier:
    """Sends notices to the notification daemon from a thread of its own.

    Whether a daemon exists is found out on that thread at each notice until one has been
    seen; a notice that cannot be delivered goes to `on_fallback`. Only one of our notifications
    is on screen at a time: each replaces the previous one while that is still open, so a click
    always belongs to the latest notice."""

    def __init__(
        self,
        on_click: Callable[[], None],
        on_fallback: Callable[[Notice], None],
        *,
        bus: str = "SESSION",
        app_name: str = "MailBeacon",
        desktop_entry: str = "mailbeacon",
    ) -> None:
        self._on_click = on_click
        self._on_fallback = on_fallback
        self._bus = bus
        self.app_name = app_name
        self.desktop_entry = desktop_entry
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._conn = None
        self._selector: selectors.BaseSelector | None = None
        self._markup = True
        self._open_id = 0  # our notification on screen now (0: none)
        self._sent: set[int] = set()
        self._warned = False
        self._told_missing = False
        # None until the worker knows; True once a daemon took a notice; False when the last
        # attempt found none
        self.available: bool | None = None

    # ------------------------------------------------------------ caller's side (any thread)

    def show(self, notice: Notice) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="desktop-notify", daemon=True)
                self._thread.start()
        self._queue.put(notice)
        self._wake()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread; no callback runs after this returns (unless the thread is stuck in a
        bus call past `timeout`, when it is left to die with the process)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._queue.put(_STOP)
        self._wake()
        if thread is not None:
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # closed, or the pipe is full of wake-ups already: either is fine
            pass

    # ------------------------------------------------------------ the worker thread

    def _run(self) -> None:
        selector = self._selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                if self._conn is not None:
                    self._drain()
                if not self._serve_queue():
                    return
                keys = [key.fileobj for key, _ in selector.select()]
                if self._wake_r in keys:
                    try:
                        while os.read(self._wake_r, 512):
                            pass
                    except (BlockingIOError, OSError):
                        pass
        except Exception:  # never a traceback to the person; the notices fall back from here on
            log.warning("the desktop notification thread stopped", exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            self._disconnect()
            selector.close()

    def _serve_queue(self) -> bool:
        """Send what waits; False once asked to stop."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return True
            if item is _STOP or self._closed:
                return False
            self._deliver(item)

    def _deliver(self, notice: Notice) -> None:
        try:
            if self._conn is None:
                self._connect()
            self._notify(notice)
        except _Unavailable as why:
            self.available = False
            self._disconnect()
            if not self._told_missing:
                self._told_missing = True
                log.info("no desktop notification service (%s); notifications use their own window", why)
            self._fallback(notice)
        except Exception as exc:  # noqa: BLE001 (any bus or protocol failure)
            self.available = False
            self._disconnect()
            if not self._warned:
                self._warned = True
                log.warning(
                    "could not send a notification to the desktop (%s); using the notification window",
                    type(exc).__name__,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
            self._fallback(notice)

    def _fallback(self, notice: Notice) -> None:
        if not self._closed:
            self._on_fallback(notice)

    def _connect(self) -> None:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        try:
            conn = open_dbus_connection(bus=self._bus, auth_timeout=BUS_TIMEOUT_S)
        except (KeyError, RuntimeError, OSError, ValueError) as exc:
            # KeyError: DBUS_SESSION_BUS_ADDRESS unset; OSError: nothing listens there
            raise _Unavailable(f"no session bus: {type(exc).__name__}") from exc
        try:
            owned = self._call(conn, message_bus.NameHasOwner(SERVICE))[0]
            if not owned:
                # a daemon the bus starts on demand (D-Bus activation) owns the name only once
                # the first call reaches it
                startable = self._call(conn, message_bus.ListActivatableNames())[0]
                if SERVICE not in startable:
                    raise _Unavailable("nothing owns org.freedesktop.Notifications")
            rule = MatchRule(type="signal", interface=INTERFACE, path=PATH)
            self._call(conn, message_bus.AddMatch(rule))
            self._markup = self._has_markup(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._selector.register(conn.sock, selectors.EVENT_READ)

    def _has_markup(self, conn) -> bool:
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(PATH, bus_name=SERVICE, interface=INTERFACE)
        try:
            capabilities = self._call(conn, new_method_call(address, "GetCapabilities"), NOTIFY_TIMEOUT_S)[0]
        except Exception:  # noqa: BLE001 (an old daemon: escaping is the safe guess)
            return True
        return "body-markup" in capabilities

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        self._open_id = 0
        self._sent.clear()
        if conn is None:
            return
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            conn.close()
        except OSError:
            pass

    def _call(self, conn, message, timeout: float = BUS_TIMEOUT_S) -> tuple:
        """One method call; signals that arrive before its reply are handled in order."""
        from jeepney import HeaderFields, MessageType
        from jeepney.wrappers import unwrap_msg

        serial = next(conn.outgoing_serial)
        conn.send(message, serial=serial)
        deadline = _deadline(timeout)
        while True:
            reply = conn.receive(timeout=_remaining(deadline))
            if reply.header.fields.get(HeaderFields.reply_serial) == serial and reply.header.message_type in (
                MessageType.method_return,
                MessageType.error,
            ):
                return unwrap_msg(reply)
            self._incoming(reply)

    def _notify(self, notice: Notice) -> None:
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(PATH, bus_name=SERVICE, interface=INTERFACE)
        args = notify_body(notice, self._open_id, self._markup, self.app_name, self.desktop_entry)
        message = new_method_call(address, "Notify", NOTIFY_SIGNATURE, args)
        (notification_id,) = self._call(self._conn, message, NOTIFY_TIMEOUT_S)
        self._open_id = int(notification_id)
        self._sent.add(self._open_id)
        self.available = True

    def _drain(self) -> None:
        """Handle every message already received or waiting on the socket, without blocking."""
        while self._conn is not None:
            try:
                message = self._conn.receive(timeout=0)
            except TimeoutError:
                return
            except OSError as exc:  # the bus went away: the next notice connects again
                log.info("the session bus connection closed (%s)", type(exc).__name__)
                self._disconnect()
                return
            self._incoming(message)

    def _incoming(self, message) -> None:
        from jeepney import HeaderFields, MessageType

        header = message.header
        if header.message_type is not MessageType.signal:
            return
        if header.fields.get(HeaderFields.interface) != INTERFACE:
            return
        member = header.fields.get(HeaderFields.member)
        try:
            notification_id = int(message.body[0])
        except (IndexError, TypeError, ValueError):
            return
        if notification_id not in self._sent:  # another program's notification
            return
        if member == "ActionInvoked":
            action = message.body[1] if len(message.body) > 1 else ""
            if action == "default" and not self._closed:
                self._on_click()
        elif member == "NotificationClosed":
            self._sent.discard(notification_id)
            if notification_id == self._open_id:
                self._open_id = 0


def _deadline(timeout: float) -> float:
    import time

    return time.monotonic() + timeout


def _remaining(deadline: float) -> float:
    import time

    return max(deadline - time.monotonic(), 0.0)
