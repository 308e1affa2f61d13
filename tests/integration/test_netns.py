"""Cut cables for real: `mailbeacon check` in one network namespace against an SMTP server in
another, joined by a veth pair; then the link goes down, then every packet is dropped.

Needs root and `ip netns`; all traffic stays inside the two namespaces (10.250.0.0/24)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns

CLIENT_IP, SERVER_IP, PORT = "10.250.0.1", "10.250.0.2", 2525
TIMEOUT_S = 2

# a minimal SMTP server: greeting, EHLO with AUTH, 250 to anything else, 221 to QUIT
SMTP_SERVER = r"""
import socket, sys, threading
def serve(conn):
    with conn:
        f = conn.makefile("rb")
        conn.sendall(b"220 mail.netns.test ESMTP ready\r\n")
        for line in f:
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-mail.netns.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(16)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def _netns_unavailable() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (`ip` and `tc`) is not installed"
    probe = f"mbprobe-{uuid.uuid4().hex[:8]}"
    try:
        done = _ip("netns", "add", probe, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`ip netns` is unavailable: {exc}"
    if done.returncode != 0:
        return f"`ip netns` is unavailable: {done.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@contextlib.contextmanager
def scratch_namespace(prefix: str) -> Iterator[str]:
    """A new, empty network namespace named `<prefix>-<8 hex digits>` for one test, deleted
    after it; the test is skipped where none can be made."""
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    ns = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", ns)
    try:
        yield ns
    finally:
        _ip("netns", "del", ns, check=False)


@dataclass
class Pair:
    client: str
    server: str
    client_if: str
    server_if: str
    server_mac: str
    config: Path
    env: dict[str, str]

    def check(self) -> tuple[int, dict, float]:
        started = time.monotonic()
        done = subprocess.run(
            ["ip", "netns", "exec", self.client, sys.executable, "-m", "app",
             "check", "--json", "--config", str(self.config)],
            capture_output=True, text=True, timeout=60, env=self.env,
        )
        elapsed = time.monotonic() - started
        assert done.stdout.strip(), f"no output; stderr: {done.stderr}"
        return done.returncode, json.loads(done.stdout), elapsed

    def startup_s(self) -> float:
        """How long the interpreter takes to start and import the app in the client ns."""
        started = time.monotonic()
        subprocess.run(
            ["ip", "netns", "exec", self.client, sys.executable, "-c",
             "import app.cli, app.diagnosis.engine, app.config"],
            check=True, timeout=60, env=self.env,
        )
        return time.monotonic() - started

    def wait_link_up(self) -> None:
        # the kernel reports the carrier (RUNNING) a moment after `link set up`, as with a cable
        for _ in range(100):
            info = json.loads(_ip("-n", self.client, "-j", "link", "show", self.client_if).stdout)[0]
            if info.get("operstate") == "UP" or "LOWER_UP" in info.get("flags", []):
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.client_if} did not come up: {info}")

    def pin_neighbour(self) -> None:
        # a permanent ARP entry, so dropping packets drops the SYNs, not the ARP lookup
        _ip("-n", self.client, "neigh", "replace", SERVER_IP, "lladdr", self.server_mac,
            "dev", self.client_if, "nud", "permanent")


@pytest.fixture
def pair(tmp_path, isolated_home):
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    client, server = f"mbc-{tag}", f"mbs-{tag}"
    client_if, server_if = f"mbc{tag[:6]}", f"mbs{tag[:6]}"
    proc: subprocess.Popen[str] | None = None
    try:
        _ip("netns", "add", client)
        _ip("netns", "add", server)
        _ip("-n", client, "link", "add", client_if, "type", "veth", "peer", "name", server_if,
            "netns", server)
        _ip("-n", client, "addr", "add", f"{CLIENT_IP}/24", "dev", client_if)
        _ip("-n", server, "addr", "add", f"{SERVER_IP}/24", "dev", server_if)
        for ns, dev in ((client, client_if), (server, server_if), (client, "lo"), (server, "lo")):
            _ip("-n", ns, "link", "set", dev, "up")
        mac = json.loads(_ip("-n", server, "-j", "link", "show", server_if).stdout)[0]["address"]

        proc = subprocess.Popen(
            ["ip", "netns", "exec", server, sys.executable, "-c", SMTP_SERVER, SERVER_IP, str(PORT)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""

        config = tmp_path / "netns.toml"
        config.write_text(
            f"""
[[endpoints]]
kind = "smtp"
host = "{SERVER_IP}"
port = {PORT}
tls = "none"
name = "Outgoing mail"

[network]
internet_url = ""

[check]
timeout_s = {TIMEOUT_S}
""",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBEACON_")}
        env["MAILBEACON_HOME"] = str(isolated_home)
        pair = Pair(client, server, client_if, server_if, mac, config, env)
        pair.pin_neighbour()
        pair.wait_link_up()
        yield pair
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(5)
        for ns in (client, server):
            _ip("netns", "del", ns, check=False)


def _by_kind(diagnosis: dict) -> dict[str, dict]:
    return {c["kind"]: c for c in diagnosis["checks"]}


def test_cut_cable_then_dropped_packets(pair: Pair):
    status, diagnosis, _ = pair.check()
    checks = _by_kind(diagnosis)
    assert (status, diagnosis["verdict"]) == (0, "ok"), diagnosis
    assert checks["link"]["code"] == "ok"
    assert CLIENT_IP in json.dumps(checks["link"]["data"]["interfaces"])
    assert checks["smtp"]["code"] == "ok"

    # the cable is pulled: the device layer fails and the verdict blames this computer
    _ip("-n", pair.client, "link", "set", pair.client_if, "down")
    status, diagnosis, _ = pair.check()
    checks = _by_kind(diagnosis)
    assert (status, diagnosis["verdict"], diagnosis["layer"]) == (3, "local", "device"), diagnosis
    assert checks["link"]["code"] == "no_network"
    assert checks["smtp"]["status"] == "fail"

    # the cable is back but every packet is lost: the mail server times out, on time
    _ip("-n", pair.client, "link", "set", pair.client_if, "up")
    pair.wait_link_up()
    pair.pin_neighbour()
    _drop_everything(pair)
    startup = pair.startup_s()
    status, diagnosis, elapsed = pair.check()
    checks = _by_kind(diagnosis)
    assert checks["link"]["code"] == "ok"
    assert checks["smtp"]["code"] == "tcp_timeout", diagnosis
    assert (status, diagnosis["verdict"]) == (2, "down"), diagnosis
    assert diagnosis["duration_ms"] <= (TIMEOUT_S + 1) * 1000
    assert elapsed <= TIMEOUT_S + 1 + startup + 1.0, (elapsed, startup)


def _drop_everything(pair: Pair) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", pair.client, "tc", "qdisc", "add", "dev", pair.client_if,
         "root", "netem", "loss", "100%"],
        capture_output=True, text=True, timeout=10,
    )
    if done.returncode != 0:
        # kernels without sch_netem: a FIFO that holds no packet drops every one just the same
        subprocess.run(
            ["ip", "netns", "exec", pair.client, "tc", "qdisc", "add", "dev", pair.client_if,
             "root", "pfifo", "limit", "0"],
            capture_output=True, text=True, timeout=10, check=True,
        )


def test_no_route_is_unreachable(pair: Pair):
    """Addresses the client namespace has no route to: the kernel answers at once."""
    pair.config.write_text(
        """
[network]
internet_url = ""

[dns]
nameservers = ["10.251.0.53"]
control_name = "control.test"

[check]
timeout_s = 2

[[endpoints]]
kind = "smtp"
host = "10.251.0.25"
port = 25
tls = "none"

[[endpoints]]
kind = "imap"
host = "imap.test"
port = 143
""",
        encoding="utf-8",
    )
    status, diagnosis, _ = pair.check()
    checks = {c["id"]: c for c in diagnosis["checks"]}
    assert checks["smtp 10.251.0.25:25"]["code"] == "tcp_unreachable", checks
    assert checks["imap imap.test:143"]["code"] == "dns_unreachable", checks
    assert checks["dns"]["code"] == "dns_unreachable", checks
    # the resolver is unreachable and every endpoint fails: this computer's network is to blame
    assert (status, diagnosis["verdict"], diagnosis["layer"]) == (3, "local", "dns"), diagnosis
