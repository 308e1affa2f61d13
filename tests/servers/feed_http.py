"""A loopback TCP server that misbehaves the way a sick feed host does: it accepts and stays
silent, or drips an HTTP answer one byte at a time so no single read ever times out."""

from __future__ import annotations

import socket
import threading
import time


class DripServer:
    """mode "silent": never answers; "headers": drips the status line and headers;
    "body": sends headers at once, then drips an endless JSON body."""

    def __init__(self, mode: str = "body", interval: float = 0.05) -> None:
        self.mode = mode
        self.interval = interval
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/feed.json") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        # no Content-Length: the body runs until the connection closes, so only time can stop it
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        try:
            conn.recv(65536)
            if self.mode == "silent":
                self._stop.wait()
                return
            if self.mode == "body":
                conn.sendall(head)
                stream = b'{"schema": 1, "incidents": [], "pad": "' + b"x" * 10_000_000
            else:
                stream = head
            for i in range(len(stream)):
                if self._stop.is_set():
                    return
                conn.sendall(stream[i : i + 1])
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            conn.close()
