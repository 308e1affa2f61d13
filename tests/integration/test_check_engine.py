"""The whole check: every probe in parallel under one deadline, whatever the servers do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.servers.dns import DnsServer, dead_nameserver
from tests.servers.http import HttpServer
from tests.servers.smtp import HostileServer, expect, hang, reply, send


def blackholed_port() -> tuple[socket.socket, list[socket.socket], int]:
    """A loopback listener with a full backlog: the kernel drops further SYNs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.1)
    return server, fillers, port


def run_check(config: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "app", "check", *extra, "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )
    return proc, time.monotonic() - started


def test_hostile_world_returns_within_the_bound(tmp_path):
    """A tarpit, a silent resolver, a blackholed port and a feed that never answers, at once."""
    dead_sock, dead_ns = dead_nameserver()
    holder, fillers, black_port = blackholed_port()
    with HostileServer([hang()]) as tarpit, HostileServer([hang()]) as feed:
        config = tmp_path / "hostile.toml"
        config.write_text(f"""
[network]
internet_url = ""
[dns]
nameservers = ["{dead_ns}"]
control_name = "control.test"
[check]
timeout_s = 2
[feed]
url = "http://127.0.0.1:{feed.port}/feed.json"
[[endpoints]]
kind = "smtp"
host = "127.0.0.1"
port = {tarpit.port}
tls = "none"
[[endpoints]]
kind = "imap"
host = "127.0.0.1"
port = {black_port}
tls = "none"
[[endpoints]]
kind = "smtp"
host = "mail.test"
port = 25
tls = "none"
""")
        proc, elapsed = run_check(config, "--json")
    dead_sock.close()
    for c in fillers:
        c.close()
    holder.close()
    assert proc.returncode == 3, proc.stderr  # the resolver is dead and every endpoint fails: local
    result = json.loads(proc.stdout)
    codes = {c["id"]: c["code"] for c in result["checks"]}
    assert codes[f"smtp 127.0.0.1:{tarpit.port}"] == "banner_timeout"
    assert codes[f"imap 127.0.0.1:{black_port}"] == "tcp_timeout"
    assert codes["smtp mail.test:25"] == "dns_timeout"
    assert codes["dns"] == "dns_timeout"
    assert result["verdict"] == "local" and result["layer"] == "dns"
    assert result["it_status"]["error"]
    assert result["duration_ms"] <= 2000 + 1000
    # timeout_s + 1 s for the check, plus the interpreter's own start-up
    assert elapsed < 2 + 1 + 1.5, elapsed


def test_slow_server_is_a_warning(tmp_path, make_config):
    from app.diagnosis.engine import diagnose

    script = [send(b"220 slow.test ESMTP\r\n"), *reply(b"EHLO", b"250-slow.test\r\n250 AUTH PLAIN\r\n"),
              expect(b"QUIT"), send(b"221 bye\r\n")]
    with HostileServer([_delay(0.4), *script]) as server:
        cfg = make_config(f"""
            [network]
            internet_url = ""
            [check]
            slow_ms = 150
            [[endpoints]]
            kind = "smtp"
            host = "127.0.0.1"
            port = {server.port}
            tls = "none"
        """)
        result = diagnose(cfg)
    smtp = result.endpoint_checks[0]
    assert (smtp.status, smtp.code) == ("warn", "slow")
    assert result.verdict == "degraded" and result.layer == "service"
    assert "slow" in result.headline


def _delay(seconds: float):
    def step(session) -> None:
        time.sleep(seconds)

    return step


def test_names_resolve_through_configured_nameservers(make_config):
    from app.diagnosis.engine import diagnose

    with DnsServer() as dns, HostileServer([send(b"220 ok\r\n"), expect(b"EHLO"),
                                            send(b"250-ok.test\r\n250 AUTH PLAIN\r\n"), expect(b"QUIT"),
                                            send(b"221 bye\r\n")]) as server:
        dns.add("control.test", "127.0.0.1")
        dns.add("mail.test", "127.0.0.1")
        cfg = make_config(f"""
            [network]
            internet_url = ""
            [dns]
            nameservers = ["{dns.nameserver}"]
            control_name = "control.test"
            [[endpoints]]
            kind = "smtp"
            host = "mail.test"
            port = {server.port}
            tls = "none"
            [[endpoints]]
            kind = "imap"
            host = "missing.test"
            port = 143
        """)
        result = diagnose(cfg)
    by_kind = {c.kind: c for c in result.checks}
    assert by_kind["dns"].status == "ok"
    assert by_kind["smtp"].code == "ok" and by_kind["smtp"].data["addresses"] == ["127.0.0.1"]
    assert by_kind["imap"].code == "dns_nxdomain"
    assert result.verdict == "degraded" and result.layer == "dns"


def test_internet_probe_failure_beside_working_mail_is_only_a_warning(make_config):
    from app.diagnosis.engine import diagnose

    with HttpServer() as http, HostileServer([send(b"220 ok\r\n"), expect(b"EHLO"),
                                               send(b"250-ok.test\r\n250 AUTH PLAIN\r\n"), expect(b"QUIT"),
                                               send(b"221 bye\r\n")]) as server:
        http.route("/generate_204", status=500)
        cfg = make_config(f"""
            [network]
            internet_url = "{http.url('/generate_204')}"
            [dns]
            control_name = "localhost"
            [[endpoints]]
            kind = "smtp"
            host = "127.0.0.1"
            port = {server.port}
            tls = "none"
        """)
        result = diagnose(cfg)
    internet = next(c for c in result.checks if c.kind == "internet")
    assert internet.status == "warn" and internet.code == "captive_portal"
    assert result.verdict == "ok" and result.layer == "network"


def test_table_output_has_headline_advice_and_one_row_per_check(tmp_path):
    with HostileServer([hang()]) as tarpit:
        config = tmp_path / "c.toml"
        config.write_text(f"""
[network]
internet_url = ""
[check]
timeout_s = 3
[[endpoints]]
kind = "smtp"
host = "127.0.0.1"
port = {tarpit.port}
tls = "none"
name = "Outgoing mail"
""")
        proc, _ = run_check(config)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "The mail server accepts connections but does not respond — the problem is on IT's side, not your computer."
    assert "Report it to IT" in lines[1]
    assert any(line.startswith("FAIL") and "banner_timeout" in line for line in lines)
    assert any(line.startswith("OK") and line.split()[1] == "link" for line in lines)


def test_check_does_not_load_qt(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[network]\ninternet_url = ""\n')
    code = (
        "import sys, app.cli\n"
        "status = app.cli.main(['check', '--json', '--config', sys.argv[1]])\n"
        "sys.stderr.write('QT LOADED' if any(m.startswith('PySide6') for m in sys.modules) else 'NO QT')\n"
        "sys.exit(status)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 4  # no endpoints: unknown
    assert proc.stderr.endswith("NO QT")
