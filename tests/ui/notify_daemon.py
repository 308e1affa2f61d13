"""A private session bus (a real dbus-daemon on a socket in the test's folder) and a small
notification daemon written with jeepney that owns org.freedesktop.Notifications on it, records
every Notify call as it arrived on the wire and can emit ActionInvoked / NotificationClosed."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"

# no <servicedir>: nothing on this machine can be started on the private bus by activation
CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """dbus-daemon --nofork --print-address with a session configuration of its own (no service
    directories, so nothing installed here can be started on it)."""

    def __init__(self, folder: Path) -> None:
        daemon = shutil.which("dbus-daemon")
        if daemon is None:
            raise RuntimeError("dbus-daemon is not installed (Debian package dbus)")
        config = folder / "bus.conf"
        config.write_text(CONFIG.format(socket=folder / "bus"), encoding="utf-8")
        self.process = subprocess.Popen(
            [daemon, f"--config-file={config}", "--nofork", "--print-address"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.address = self.process.stdout.readline().strip()
        if not self.address.startswith("unix:"):
            self.process.kill()
            _, errors = self.process.communicate(timeout=5)
            raise RuntimeError(f"dbus-daemon did not start: {errors.strip()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Call:
    signature: str
    body: tuple
    sender: str


@dataclass
class NotificationDaemon:
    """Owns the name on `address` from a thread; `calls` holds each Notify as received."""

    address: str
    capabilities: list[str] = field(default_factory=lambda: ["body", "body-markup", "actions"])
    calls: list[Call] = field(default_factory=list)
    fail_notify: bool = False  # answer Notify with an error, as a broken daemon would

    def __post_init__(self) -> None:
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._next_id = 41
        self.conn = open_dbus_connection(bus=self.address)
        reply = self.conn.send_and_get_reply(message_bus.RequestName(SERVICE, 4), timeout=5)
        assert reply.body[0] == 1, reply.body  # DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
        self.thread = threading.Thread(target=self._run, name="fake-notification-daemon", daemon=True)
        self.thread.start()

    def emit(self, member: str, signature: str, body: tuple) -> None:
        """Send a signal from the daemon's own connection (its thread sends it)."""
        self._outbox.put((member, signature, body))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.conn.close()

    def _run(self) -> None:
        emitter = DBusAddress(PATH, interface=SERVICE)
        while not self._stop.is_set():
            while not self._outbox.empty():
                member, signature, body = self._outbox.get()
                self.conn.send(new_signal(emitter, member, signature, body))
            try:
                message = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            header = message.header
            if header.message_type is not MessageType.method_call:
                continue
            member = header.fields.get(HeaderFields.member)
            if member == "Notify":
                self.calls.append(
                    Call(header.fields.get(HeaderFields.signature, ""), message.body, header.fields[HeaderFields.sender])
                )
                if self.fail_notify:
                    self.conn.send(new_error(message, "org.freedesktop.DBus.Error.Failed", "s", ("broken",)))
                    continue
                replaces = message.body[1] if len(message.body) > 1 else 0
                if isinstance(replaces, int) and replaces:
                    notification_id = replaces
                else:
                    self._next_id += 1
                    notification_id = self._next_id
                self.conn.send(new_method_return(message, "u", (notification_id,)))
            elif member == "GetCapabilities":
                self.conn.send(new_method_return(message, "as", (self.capabilities,)))
            elif member == "GetServerInformation":
                self.conn.send(new_method_return(message, "ssss", ("fake", "tests", "1", "1.2")))
            else:
                self.conn.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (member,)))
