"""Certificate facts: ssl's parsed form and the DER parser agree, and a good handshake does not
load the DER parser (it costs the tray megabytes; it is for rejected certificates)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import sys
import threading

import trustme

from app.diagnosis import tls


def _handshake(ca: trustme.CA, leaf) -> ssl.SSLSocket:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        # closing the listener before accept() resets the queued connection
        conn, _ = listener.accept()
        listener.close()
        with server_ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(1)

    threading.Thread(target=serve, daemon=True).start()
    sock = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=5)
    return client_ctx.wrap_socket(sock, server_hostname="mail.test")


def test_parsed_and_der_facts_agree():
    ca = trustme.CA(organization_name='Acme, "Mail" + <Co>; #1')
    leaf = ca.issue_cert("mail.test", "127.0.0.1", "::1", common_name=" mail.test ")
    with _handshake(ca, leaf) as sock:
        now = dt.datetime.now(dt.UTC)
        parsed = tls.peercert_facts(sock.getpeercert(), now)
        der = tls.cert_facts(sock.getpeercert(binary_form=True), now)
    assert parsed == der
    assert parsed["san"] == ["DNS:mail.test", "IP:127.0.0.1", "IP:::1"]
    assert parsed["not_after"].endswith("Z") and parsed["days_left"] > 0
    assert tls.peercert_facts({}) == {} and tls.peercert_facts(None) == {}


def test_a_good_handshake_does_not_load_the_der_parser(tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf = ca.issue_cert("127.0.0.1")
    leaf.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "leaf.pem"))
    code = f"""
import socket, ssl, sys, threading
from app import config
from app.config import Endpoint
from app.diagnosis.probes.base import Deadline, ProbeContext
from app.diagnosis import tls
srv = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
srv.load_cert_chain({str(tmp_path / "leaf.pem")!r})
ls = socket.create_server(("127.0.0.1", 0))
def serve():
    c, _ = ls.accept()
    with srv.wrap_socket(c, server_side=True) as s:
        s.recv(1)
threading.Thread(target=serve, daemon=True).start()
cfg = config.load(None, user_file=None, system_file=None, policy_file=None,
                  env={{"MAILBEACON_TLS_CA_FILE": {str(tmp_path / "ca.pem")!r}}}, registry=False)
ctx = ProbeContext(cfg, Deadline(5))
s = tls.handshake(ctx, socket.create_connection(("127.0.0.1", ls.getsockname()[1])), "127.0.0.1")
assert ctx.data["tls"]["san"] == ["IP:127.0.0.1"], ctx.data
print("cryptography" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
