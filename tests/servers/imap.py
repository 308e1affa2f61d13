"""A real IMAP and POP3 server for tests: Dovecot, unprivileged-style, on high loopback ports,
with its own config, state and logs in a temp dir (no system config touched).

    from tests.servers.imap import dovecot  # noqa: F401  (fixture; needs the `certs` fixture too)

    def test_x(dovecot):
        dovecot.ports["imap"], dovecot.ports["imaps"], dovecot.ports["pop3"], dovecot.ports["pop3s"]

Both protocols offer STARTTLS/STLS and AUTH=PLAIN (Dovecot counts loopback as secure, so it
advertises AUTH even before TLS). Tests that need Dovecot are skipped when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.certs import CertSet
from tests.servers.smtp import free_port

PORT_NAMES = ("imap", "imaps", "pop3", "pop3s")

_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
debug_log_path = {dir}/dovecot.log
protocols = imap pop3
listen = {host}
default_internal_user = {internal_user}
default_login_user = {login_user}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = static
  args = password=never-used
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


@dataclass
class Dovecot:
    host: str
    ports: dict[str, int]
    directory: Path
    process: subprocess.Popen

    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_for_ports(host: str, ports: list[int], process: subprocess.Popen, within: float) -> None:
    deadline = time.monotonic() + within
    for port in ports:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dovecot exited with status {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not listen on {host}:{port}")
            time.sleep(0.05)


def _existing_user(name: str) -> str:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"user {name} (from the dovecot package) does not exist")
    return name


@contextlib.contextmanager
def run_dovecot(directory: Path, certs: CertSet, cert_kind: str = "good", host: str = "127.0.0.1"):
    """Start Dovecot in the foreground with a config under `directory`; stop it on exit."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        pytest.skip("dovecot is not installed")
    import pwd

    uid, gid = os.getuid(), os.getgid()
    internal_user = login_user = pwd.getpwuid(uid).pw_name
    if uid == 0:
        # Dovecot's login processes refuse to run as root: use the users the package creates
        internal_user, login_user = _existing_user("dovecot"), _existing_user("dovenull")
    for sub in ("run", "state", "mail"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    ports = {name: free_port(host) for name in PORT_NAMES}
    cert, key = certs.files(cert_kind)
    conf = directory / "dovecot.conf"
    conf.write_text(
        _CONFIG.format(dir=directory, host=host, internal_user=internal_user,
                       login_user=login_user, uid=uid, gid=gid,
                       cert=cert, key=key, **ports),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-F"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "stderr.log", "wb"),  # noqa: SIM115  (closed with the process)
        start_new_session=True,
    )
    server = Dovecot(host, ports, directory, process)
    try:
        try:
            _wait_for_ports(host, list(ports.values()), process, within=15)
        except RuntimeError as exc:
            err = (directory / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"{exc}\n{err}\n{server.log()}") from None
        yield server
    finally:
        if process.poll() is None:
            # dovecot's master stops its children when it gets SIGTERM
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory, certs) -> Dovecot:
    # a short path: Dovecot's unix sockets under base_dir must fit in 108 bytes
    directory = Path(tmp_path_factory.mktemp("dc"))
    with run_dovecot(directory, certs) as server:
        yield server
